"""The server as demo/serving.py sets it up, over raw HTTP: malformed requests get a 4xx with a
one-line message (never an HTTP 500, a null error or a traceback), off-queue runs and uploads
are refused, no file outside the app's own is served, sessions are bounded, a full queue says
so at once and the app recovers."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import gradio as gr
import httpx
import pytest

from demo import export, question, serving, state

ROOT = Path(__file__).resolve().parent.parent
SIX = ["Es sieht nach Regen aus.", "dot", "greedy", 5, 1.0, 0]


@pytest.fixture(scope="module")
def http(app_url):
    with httpx.Client(base_url=app_url, timeout=60) as client:
        yield client


def post(http, path, content: bytes | str, **headers):
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    return http.post(path, content=content, headers={"Content-Type": "application/json", **headers})


def call_translate(http, body, route: str = "translate") -> tuple[int, str]:
    """POST /call/<route>, then read its event stream; (status, stream or refusal body)."""
    r = post(http, f"/gradio_api/call/{route}", body if isinstance(body, (bytes, str)) else json.dumps(body))
    if r.status_code != 200:
        return r.status_code, r.text
    stream = http.get(f"/gradio_api/call/{route}/{r.json()['event_id']}")
    return stream.status_code, stream.text


def assert_clean_refusal(status: int, text: str, expected: str, code: int | None = None):
    assert 400 <= status < 500 and (code is None or status == code), (status, text)
    assert expected in json.loads(text)["detail"]
    assert "Traceback" not in text and "null" not in text


def test_the_translate_call_still_works(http):
    status, stream = call_translate(http, {"data": SIX})
    assert status == 200 and "event: complete" in stream and '"translation"' in stream


@pytest.mark.parametrize("n", [0, 1, 5, 8, 12])
def test_wrong_number_of_values_is_refused_with_the_parameter_names(http, n):
    status, text = call_translate(http, {"data": (SIX * 2)[:n]})
    assert_clean_refusal(status, text, f"takes 7 values (text, variant, method, beam, temperature, seed, "
                                       f"direction); the request sent {n}", 422)


def test_a_client_from_before_the_direction_gets_its_default_and_a_direction_is_checked(http):
    """Six values (today's clients) translate German → English; a seventh names the direction,
    and one these models cannot translate is refused with the library's line."""
    assert call_translate(http, {"data": SIX})[1].count('"direction": "de-en"') == 1
    status, stream = call_translate(http, {"data": SIX + ["en-de"]})
    assert status == 200 and "event: error" in stream and "German \\u2192 English only" in stream
    done = run_event(http, "on_compare", ["Es sieht nach Regen aus.", ["dot"], "greedy", 5, 1, 1.0, 0, False],
                     "old-client")                                      # the page's event, one value fewer
    assert done["success"] and "results" in json.dumps(done["output"]["data"])


@pytest.mark.parametrize("where", [0, 1, 3])
def test_file_payloads_are_refused(http, where):
    data = list(SIX)
    data[where] = {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}, "orig_name": "passwd"}
    status, text = call_translate(http, {"data": data})
    assert_clean_refusal(status, text, "takes no files", 422)
    data[where] = [{"path": "x.png"}]          # nested, without the type tag
    status, text = call_translate(http, {"data": data})
    assert_clean_refusal(status, text, "takes no files", 422)


@pytest.mark.parametrize("number, message", [
    ("1" + "0" * 400, "Beam width must be a number between"),      # beyond float range: the app's own message
    ("-1" + "0" * 400, "Beam width must be a number between"),
    ("1e400", "Beam width must be a number between"),              # inf as JSON
    ("NaN", "Beam width must be a number between"),
])
def test_huge_and_non_finite_numbers_get_the_apps_message(http, number, message):
    status, stream = call_translate(http, f'{{"data": ["Hallo", "dot", "beam", {number}, 1.0, 0]}}')
    assert status == 200 and "event: error" in stream and message in stream, stream
    assert '"error": null' not in stream


def test_a_number_too_long_to_parse_is_refused(http):
    status, text = call_translate(http, '{"data": ["Hallo", "dot", "beam", 1' + "0" * 5000 + ', 1.0, 0]}')
    assert_clean_refusal(status, text, "not valid JSON", 400)


@pytest.mark.parametrize("body, code, message", [
    ('{"data": ["Hallo"', 400, "not valid JSON"),
    ("", 400, "not valid JSON"),
    ("[" * 20000 + "]" * 20000, 400, "nested too deeply"),
    ('"just a string"', 422, "JSON object"),
    ('{"data": "Hallo"}', 422, "JSON object"),
    ('{"text": "Hallo"}', 422, "JSON object"),
    ('"\\ud800"', 422, "JSON object"),                     # a lone surrogate as the whole payload
])
def test_broken_or_misshapen_json_is_refused(http, body, code, message):
    assert_clean_refusal(*call_translate(http, body), message, code)


def test_a_lone_surrogate_as_raw_bytes_is_refused_and_the_connection_stays_usable(http):
    r = post(http, "/gradio_api/call/translate", '{"data": ["\ud800", "dot", "greedy", 5, 1.0, 0]}')
    assert_clean_refusal(r.status_code, r.text, "not valid UTF-8", 400)
    status, stream = call_translate(http, {"data": SIX})              # the same keep-alive client
    assert status == 200 and "event: complete" in stream


def test_a_lone_surrogate_escape_in_the_text_gets_the_apps_message(http):
    status, stream = call_translate(http, b'{"data": ["Hallo \\ud800", "dot", "greedy", 5, 1.0, 0]}')
    assert status == 200 and "lone surrogate" in stream and "Traceback" not in stream


def test_a_malformed_page_event_is_refused_without_echoing_it(http):
    r = post(http, "/gradio_api/queue/join", '{"data": "\\ud800", "session_hash": "abc"}')
    assert_clean_refusal(r.status_code, r.text, "JSON object", 422)
    r = post(http, "/gradio_api/cancel", '{"session_hash": "\\ud800"}')   # a route the guard does not parse
    assert r.status_code == 422 and "\\ud800" not in r.text and "Malformed request" in r.text


def test_a_million_characters_are_refused_at_once(http):
    started = time.monotonic()
    status, text = call_translate(http, {"data": ["x" * 1_000_000, "dot", "greedy", 5, 1.0, 0]})
    assert_clean_refusal(status, text, "accepts at most 65,536", 413)
    assert time.monotonic() - started < 5       # the figure (≤ 0.5 s) is measured by the benchmark


def test_a_chunked_body_over_the_limit_is_refused(http):
    def chunks():
        for _ in range(20):
            yield b"x" * 8192
    r = http.post("/gradio_api/call/translate", content=chunks(), headers={"Content-Type": "application/json"})
    assert_clean_refusal(r.status_code, r.text, "accepts at most", 413)


def test_a_large_malformed_call_writes_nothing_large_to_the_log(http, capfd):
    capfd.readouterr()
    for body in ['{"data": ["' + "ä" * 20000 + '"]}', '{"data": ["' + "x" * 60000 + '", 1, 2, 3, 4, 5, 6, 7]}',
                 '{"data": ["' + "x" * 60000]:
        r = post(http, "/gradio_api/call/translate", body)
        assert 400 <= r.status_code < 500 and len(r.content) < 1000
    time.sleep(0.2)
    out, err = capfd.readouterr()
    assert len(out) + len(err) < 2000


@pytest.mark.parametrize("path", ["/gradio_api/run/on_compare", "/gradio_api/run/translate",
                                  "/gradio_api/api/on_compare", "/gradio_api/run/on_words",
                                  "/gradio_api/run/on_zip", "/gradio_api/run/on_train"])
def test_off_queue_runs_are_refused(http, path):
    data = (["Hallo", ["dot"], "greedy", 5, 1, 1.0, 0, False] if "compare" in path
            else [None, False] if "words" in path or "zip" in path
            else ["copy", "additive", 0] if "train" in path else SIX)
    r = post(http, path, json.dumps({"data": data}))
    assert r.status_code == 404 and "join the queue" in r.json()["detail"]


def test_no_event_of_any_tab_runs_off_the_queue(served_page, http):
    """Every event that runs Python (the page, the question tab, the toy tab, the About plot and the
    small toggles) is refused by index through ``/run/predict``, the page's route for unqueued events."""
    demo, _ = served_page
    python_events = [fn for fn in demo.fns.values() if fn.fn is not None]
    assert len(python_events) > 20 and all(fn.queue for fn in python_events)
    for fn in python_events:
        r = post(http, "/gradio_api/run/predict", json.dumps({"data": [None] * len(fn.inputs), "fn_index": fn._id,
                                                              "session_hash": "off-queue"}))
        assert r.status_code == 404 and "join the queue" in r.json()["detail"], (fn.name, r.text)


def test_uploads_are_refused(http):
    r = http.post("/gradio_api/upload", files={"files": ("a.txt", b"x" * 1000)})
    assert r.status_code == 403 and "takes no files" in r.json()["detail"]
    big = http.post("/gradio_api/upload", content=b"x" * (3 << 20),
                    headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert big.status_code == 403


def test_max_file_size_and_session_capacity_reach_gradio(served_page):
    demo, _ = served_page
    assert demo.max_file_size == 1024
    assert demo.server_app.state_holder.capacity == serving.SESSION_CAPACITY
    assert demo._queue.max_size == serving.QUEUE_MAX_SIZE
    assert demo.delete_cache == (serving.CACHE_SWEEP_EVERY_S, serving.CACHE_MAX_AGE_S)


def test_every_event_of_one_handler_shares_one_concurrency_limit(served_page):
    demo, _ = served_page
    for name in ("on_compare", "on_score", "on_run"):          # page, question tab, toy tab
        events = [fn for fn in demo.fns.values() if fn.name == name]
        assert len(events) >= 2 and {fn.concurrency_id for fn in events} == {f"handler:{name}"}, name
        assert {fn.concurrency_limit for fn in events} - {"default"} == {2}, name
    for name in ("on_words", "on_zip"):
        (fn,) = [fn for fn in demo.fns.values() if fn.name == name]
        assert fn.concurrency_id == f"handler:{name}" and fn.concurrency_limit == "default"
    assert demo._queue.default_concurrency_limit == serving.DEFAULT_CONCURRENCY


def test_live_training_keeps_its_own_queue_of_one(served_page):
    from demo.toy_tab import LIVE_QUEUE

    demo, _ = served_page
    (train,) = [fn for fn in demo.fns.values() if fn.name == "on_train"]
    assert train.queue and train.concurrency_id == LIVE_QUEUE and train.concurrency_limit == 1
    assert all(fn.concurrency_id != LIVE_QUEUE for fn in demo.fns.values() if fn is not train)


@pytest.mark.parametrize("path", [
    "/gradio_api/file=/etc/passwd", "/gradio_api/file=../../../../etc/passwd",
    "/gradio_api/file=..%2F..%2F..%2F..%2Fetc%2Fpasswd", "/gradio_api/file=%2Fetc%2Fpasswd",
    "/gradio_api/file=//etc/passwd", "/gradio_api/file=app.py", f"/gradio_api/file={ROOT / 'app.py'}",
    f"/gradio_api/file={ROOT / 'assets' / 'manifest.json'}", "/gradio_api/file=assets/manifest.json",
    "/gradio_api/file=/proc/self/environ", "/file=/etc/passwd", "/gradio_api/file=~/.bashrc",
])
def test_files_outside_the_apps_own_are_not_served(http, path):
    r = http.get(path)
    assert r.status_code in (403, 404), (path, r.status_code)
    assert "root:" not in r.text and "sha256" not in r.text and "import" not in r.text


def test_an_export_is_served_only_under_its_secret_cache_path(served_page, http):
    demo, url = served_page
    result = state.translate(demo.translator, "Es sieht nach Regen aus.", ["dot"])
    files = [export.export_zip(result)]
    analysed = question.analyse(demo.translator, "Es sieht nach Regen aus.", "It looks like rain.", ["dot"])
    files += question.export_question(analysed)
    assert len(files) >= 3 and all(Path(f).is_file() for f in files)
    config = http.get("/config").text
    for f in files:                                   # the folders the handlers write: never served
        assert http.get(f"/gradio_api/file={f}").status_code == 403
    for root in serving.export_roots():
        assert str(root) not in config


def test_config_and_info_expose_nothing_private(http, tiny_assets):
    config = http.get("/config").text
    info = http.get("/gradio_api/info").json()
    assert list(info["named_endpoints"]) == ["/translate"] and not info["unnamed_endpoints"]
    for secret in (str(ROOT), str(tiny_assets), "manifest", "hash_seed", "allowed_paths", "Traceback"):
        assert secret not in config, secret
    assert json.loads(config)["max_file_size"] == 1024


def test_sessions_are_swept_when_idle(served_page, http):
    demo, _ = served_page
    holder = demo.server_app.state_holder
    for i in range(3):
        assert call_translate(http, {"data": SIX, "session_hash": f"sweep-{i}"})[0] == 200
    assert {f"sweep-{i}" for i in range(3)} <= set(holder.session_data)
    assert serving.sweep_sessions(holder, ttl_s=3600) == set()
    assert {f"sweep-{i}" for i in range(3)} <= serving.sweep_sessions(holder, ttl_s=3600, now=time.time() + 7200)
    assert not set(holder.session_data) & {f"sweep-{i}" for i in range(3)}
    assert call_translate(http, {"data": SIX, "session_hash": "sweep-busy"})[0] == 200
    later = time.time() + 7200                        # a session with an event in the queue stays
    assert "sweep-busy" not in serving.sweep_sessions(holder, ttl_s=3600, now=later, busy={"sweep-busy"})
    assert "sweep-busy" in serving.sweep_sessions(holder, ttl_s=3600, now=later)
    status, stream = call_translate(http, {"data": SIX, "session_hash": "sweep-0"})   # a swept session returns
    assert status == 200 and "event: complete" in stream


def test_old_export_folders_are_swept(tmp_path):
    old, new = tmp_path / "export-old", tmp_path / "export-new"
    old.mkdir(), new.mkdir()
    (old / "attention.json").write_text("{}")
    assert export.sweep_folders(tmp_path, max_age_s=60, now=time.time() + 30) == 0
    assert export.sweep_folders(tmp_path, max_age_s=60, now=time.time() + 120) == 2
    assert not old.exists() and not new.exists()


def test_the_sweep_covers_every_tabs_export_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "EXPORT_ROOT", tmp_path / "exports")
    made = {export.export_folder("export-").parent, export.export_folder("question-").parent}
    assert made == set(serving.export_roots()) == {export.EXPORT_ROOT}


def test_a_full_queue_refuses_at_once_and_the_app_recovers(serve_page):
    """Gradio's own queue-full refusal (HTTP 503), with serving's settings on a page whose one
    event waits until released: the concurrency limit runs, the queue fills, the next is refused."""
    release = threading.Event()

    def slow(x: str) -> str:
        release.wait(30)
        return x

    with gr.Blocks() as demo:
        gr.api(slow, api_name="slow")
    with serve_page(demo) as url:
        try:
            with httpx.Client(base_url=url, timeout=30) as http:
                accepted = []
                for i in range(serving.DEFAULT_CONCURRENCY + serving.QUEUE_MAX_SIZE):
                    r = post(http, "/gradio_api/call/slow", json.dumps({"data": [str(i)]}))
                    assert r.status_code == 200, r.text
                    accepted.append(r.json()["event_id"])
                    if i < serving.DEFAULT_CONCURRENCY:
                        time.sleep(0.3)                   # let the first ones start running
                started = time.monotonic()
                r = post(http, "/gradio_api/call/slow", json.dumps({"data": ["one too many"]}))
                assert r.status_code == 503 and "Queue is full" in r.json()["detail"]
                assert time.monotonic() - started < 5
                release.set()
                for event_id in accepted:
                    assert "event: complete" in http.get(f"/gradio_api/call/slow/{event_id}").text
                r = post(http, "/gradio_api/call/slow", json.dumps({"data": ["after"]}))
                assert r.status_code == 200
                assert '"after"' in http.get(f"/gradio_api/call/slow/{r.json()['event_id']}").text
        finally:
            release.set()


def test_a_full_session_store_drops_sessions_without_a_result_first(served_page):
    demo, _ = served_page
    assert type(demo.server_app.state_holder).__name__ == "SessionStore"
    store = serving.session_store_class()()
    store.set_blocks(demo)
    store.capacity = 3
    state_id = next(i for i, b in demo.blocks.items() if isinstance(b, gr.State))
    for sid in ("page-1", "api-1", "page-2"):
        session = store[sid]
        if sid.startswith("page"):
            session[state_id] = {"result": sid}
    for i in range(5):                                 # a flood of API sessions
        store[f"api-{i + 2}"]
    assert len(store.session_data) == 3
    assert {"page-1", "page-2"} <= set(store.session_data)
    for i in range(3):                                 # only sessions with results: the oldest goes
        store[f"page-{i + 3}"][state_id] = {"result": i}
    assert len(store.session_data) == 3 and "page-1" not in store.session_data


def test_the_allocator_is_tuned_where_it_is_glibc():
    libc = serving._libc()
    assert serving.configure_malloc() == (libc is not None)
    serving.release_free_memory()                      # and handing memory back is harmless


def test_free_memory_is_handed_back_once_rss_has_grown(monkeypatch):
    readings, trims = iter([400.0, 410.0, 420.0, 430.0, 405.0, 380.0]), []
    monkeypatch.setattr(serving, "rss_mb", lambda: next(readings))
    monkeypatch.setattr(serving, "release_free_memory", lambda: trims.append(1))
    monkeypatch.setattr(serving, "TRIM_GROWTH_MB", 16)
    baseline = serving.trim_when_grown(None)                             # first reading: 400
    assert baseline == 400.0 and not trims
    assert serving.trim_when_grown(baseline) == 400.0 and not trims     # 410: under the growth
    assert serving.trim_when_grown(baseline) == 430.0 and trims == [1]  # 420: trim, then read 430
    assert serving.trim_when_grown(430.0) == 405.0                      # fell: the new baseline
    assert serving.trim_when_grown(405.0) == 380.0 and trims == [1]
    monkeypatch.setattr(serving, "rss_mb", lambda: None)                 # no /proc: nothing to do
    assert serving.trim_when_grown(380.0) is None and trims == [1]


def test_rss_is_read_where_proc_is_there():
    mb = serving.rss_mb()
    assert mb is None or 10 < mb < 100_000


def test_a_lean_session_has_every_attribute_of_gradios_and_keeps_no_config_copy(served_page, http):
    from gradio.state_holder import SessionState

    demo, _ = served_page
    store = demo.server_app.state_holder
    lean = store["lean-probe"]
    assert type(lean).__name__ == "LeanSessionState" and isinstance(lean, SessionState)
    assert set(vars(lean)) == set(vars(SessionState(demo)))       # the pinned Gradio's attributes, no more
    assert lean.config_values == {}
    status, stream = call_translate(http, {"data": SIX, "session_hash": "lean-probe"})
    assert status == 200 and "event: complete" in stream
    assert store["lean-probe"].config_values == {}


def test_deep_links_are_refused(http):
    r = http.get("/gradio_api/deep_link", params={"session_hash": "lean-probe"})
    assert r.status_code == 404 and "no deep links" in r.json()["detail"]


def run_event(http, api_name: str, data: list, session: str) -> dict:
    """A page event by its (private) name through the queue, as the page sends it: the completed message."""
    deps = http.get("/config").json()["dependencies"]
    fn_index = next(d["id"] for d in deps if d.get("api_name") == api_name)
    r = post(http, "/gradio_api/queue/join", json.dumps({"data": data, "fn_index": fn_index, "session_hash": session,
                                                         "event_data": None, "trigger_id": None}))
    assert r.status_code == 200, r.text
    with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    return msg
    raise AssertionError("no result")


def test_a_result_carries_across_a_sessions_events(http):
    """compare → words → zip in one session, with the lean session store: the later events send
    no result (the page's ``gr.State`` is the session's), yet redraw and export it."""
    session = "flow-1"
    done = run_event(http, "on_compare", ["Es sieht nach Regen aus.", ["dot", "additive"], "greedy", 5, 1, 1.0, 0,
                                          False], session)
    assert done["success"], done
    pieces = json.dumps(done["output"]["data"])
    words = run_event(http, "on_words", [None, True], session)
    redrawn = json.dumps(words["output"]["data"])
    assert words["success"] and "-dot-words.png" in redrawn and "-dot-words.png" not in pieces
    exported = run_event(http, "on_zip", [None, True], session)
    assert exported["success"] and "-words.zip" in json.dumps(exported["output"]["data"])
    nothing = run_event(http, "on_zip", [None, False], "flow-new")           # another session has no result
    assert not nothing["success"] and "translate a sentence first" in nothing["output"]["error"]


def test_the_queues_empty_per_session_records_are_swept(served_page, http):
    demo, _ = served_page
    deps = http.get("/config").json()["dependencies"]
    fn_index = next(d["id"] for d in deps if d.get("api_name") == "on_words")
    for i in range(3):                                 # as the page does: read each stream to its end
        session = f"records-{i}"
        r = post(http, "/gradio_api/queue/join", json.dumps({"data": [None, False], "fn_index": fn_index,
                                                             "session_hash": session}))
        assert r.status_code == 200
        with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
            assert "close_stream" in "".join(stream.iter_lines())
    queue = demo._queue
    assert all(queue.pending_event_ids_session.get(f"records-{i}") == set() for i in range(3))
    assert serving.sweep_queue_records(queue) >= 3
    assert not any(f"records-{i}" in queue.pending_event_ids_session for i in range(3))


# ---- the keyword form, and every event of the page ------------------------------------------------

def call_keyword(http, body) -> tuple[int, str]:
    """POST /call/v2/translate (named values), then read its event stream."""
    return call_translate(http, body, "v2/translate")


def test_the_keyword_form_translates_with_the_defaults_filled_in(http):
    status, stream = call_keyword(http, {"text": "Es sieht nach Regen aus.", "variant": "dot"})
    assert status == 200 and "event: complete" in stream and '"direction": "de-en"' in stream


@pytest.mark.parametrize("body, message", [
    ({}, "needs a value for 'text'"),
    ({"txt": "Hallo"}, "has no parameter 'txt'; its parameters are text, variant, method"),
    ([1, 2], "takes a JSON object of named values"),
    ('"Hallo"', "takes a JSON object of named values"),
    ({"text": "Hallo", "beam": {"path": "/etc/passwd"}}, "takes no files"),
])
def test_a_malformed_keyword_call_is_refused_with_one_line(http, body, message):
    assert_clean_refusal(*call_keyword(http, body), message, 422)


@pytest.mark.parametrize("beam", ['"abc"', "1e308", "NaN", "1" + "0" * 40, '"\\ud800"'])
def test_a_bad_beam_in_the_keyword_form_gets_the_apps_message(http, beam):
    status, stream = call_keyword(http, f'{{"text": "Hallo", "method": "beam", "beam": {beam}}}')
    assert status == 200 and "event: error" in stream and "Beam width must be" in stream, stream
    assert '"error": null' not in stream


def test_every_event_answers_malformed_values_with_a_message(http):
    """Wrong types and NaN-like values for every input of every event the page has: a refusal
    with one line, or a result; never ``{"error": null}``, a 5xx or a reset."""
    config = http.get("/config").json()
    seen = 0
    for dep in config["dependencies"]:
        for k, bad in enumerate(["abc", 1e308, {"a": [1]}]):
            session = f"every-{dep['id']}-{k}"
            body = json.dumps({"data": [bad] * len(dep["inputs"]), "fn_index": dep["id"], "session_hash": session})
            r = post(http, "/gradio_api/queue/join", body)
            if r.status_code != 200:
                assert_clean_refusal(r.status_code, r.text, "")
                continue
            with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
                done = next(json.loads(line[5:]) for line in stream.iter_lines()
                            if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed")
            assert done["success"] or isinstance(done["output"].get("error"), str), (dep.get("api_name"), done)
            seen += 1
    assert seen > 60


def test_each_refusal_writes_one_line_to_the_log_and_no_traceback(http, capfd):
    capfd.readouterr()
    call_translate(http, {"data": ["Hallo", "dot", "beam", "abc", 1.0, 0]})            # the app's own refusal
    call_keyword(http, {"txt": "Hallo"})                                                # the guard's
    run_event(http, "on_compare", ["Hallo", ["dot"], ["greedy"], 5, 1, 1.0, 0, False], "log-lines")   # Gradio's
    time.sleep(0.3)
    out, err = capfd.readouterr()
    lines = [line for line in (out + err).splitlines() if line.startswith("serving: ")]
    assert "Traceback" not in out + err
    assert any(line.startswith("serving: refused translate: Beam width must be") for line in lines), lines
    assert any("/call/v2/translate (422): /translate has no parameter 'txt'" in line for line in lines), lines
    assert any(line.startswith("serving: refused on_compare: Decoding: choose from") for line in lines), lines
