"""Fair admission over raw HTTP, on a small page served with demo/serving.py's settings whose
handlers wait until released: a heavy kind over its cap is refused at once with one line and
takes no place in the queue, other kinds are served meanwhile, a session holds one heavy job,
and behind a proxy the cap also holds per client address. Then values Gradio cannot read get a
line naming the field, and session state expires after a short time-to-live."""
from __future__ import annotations

import json
import socket
import threading
import time

import gradio as gr
import httpx
import pytest

from demo import gradio_private, serving


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Page:
    """A page with the heavy handlers' names; each heavy one waits for ``release``."""

    def __init__(self, per_address: bool):
        self.release = threading.Event()
        release = self.release

        def on_train(task):
            release.wait(30)
            return task

        def on_score(text):
            release.wait(30)
            return text

        def on_compare(text, variants, method, beam):
            if method == "beam":
                release.wait(30)
            return text

        def on_seed(seed):
            return str(seed)

        def on_link(request: gr.Request):          # a permalink: the compare of the page URL's query
            if request.query_params.get("method") == "beam":
                release.wait(30)
            return request.query_params.get("text", "")

        with gr.Blocks() as demo:
            text = gr.Textbox(label="Sentence")
            variants = gr.CheckboxGroup(["dot", "additive"], label="Variants")
            method = gr.Radio(["greedy", "beam"], label="Decoding")
            beam = gr.Slider(1, 10, step=1, label="Beam width")
            seed = gr.Number(0, label="Seed", minimum=0, maximum=99)
            out = gr.Textbox()
            gr.Button("train").click(on_train, text, out, concurrency_limit=1)
            gr.Button("score").click(on_score, text, out, concurrency_limit=2)
            gr.Button("compare").click(on_compare, [text, variants, method, beam], out, concurrency_limit=2)
            gr.Button("seed").click(on_seed, seed, out)
            demo.load(on_link, None, out, concurrency_limit=2)
            gr.Button("page only").click(None, js="() => 1")
        self.demo = serving.serve(demo)
        _, url, _ = demo.launch(**serving.launch_kwargs(per_address=per_address, server_name="127.0.0.1",
                                                        server_port=free_port(), prevent_thread_lock=True,
                                                        quiet=True))
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=30)
        deps = self.http.get("/config").json()["dependencies"]
        self.index = {d["api_name"]: d["id"] for d in deps}

    def join(self, name: str, data: list, session: str, address: str | None = None,
             query: dict | None = None) -> httpx.Response:
        headers = {"Content-Type": "application/json", **({"X-Forwarded-For": address} if address else {})}
        body = {"data": data, "fn_index": self.index[name], "session_hash": session}
        return self.http.post("/gradio_api/queue/join", content=json.dumps(body), headers=headers, params=query)

    def result(self, session: str) -> dict:
        with self.http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed":
                    return json.loads(line[5:])
        raise AssertionError("no result")

    def held(self) -> int:
        return len(gradio_private.queued_events(gradio_private.queue_of(self.demo)))

    def close(self):
        self.release.set()
        self.http.close()
        self.demo.close()


@pytest.fixture
def page():
    p = Page(per_address=False)
    yield p
    p.close()


@pytest.fixture
def proxied():
    p = Page(per_address=True)
    yield p
    p.close()


def test_a_flood_of_trainings_is_refused_at_once_and_others_are_served(page):
    cap = serving.HEAVY["on_train"].cap
    codes, details = [], []
    for i in range(10):                              # ten tabs of one client
        started = time.monotonic()
        r = page.join("on_train", ["copy"], f"flood-{i}")
        assert time.monotonic() - started < 2
        codes.append(r.status_code)
        if r.status_code != 200:
            details.append(r.json()["detail"])
    assert codes == [200] * cap + [429] * (10 - cap)
    assert set(details) == {f"busy: {cap} trainings are running; try again in about 35 s."}
    assert page.held() == cap                        # the refused ones took no place in the queue
    assert page.join("on_compare", ["Hallo", ["dot"], "greedy", 5], "other").status_code == 200
    done = page.result("other")
    assert done["success"] and done["output"]["data"] == ["Hallo"]
    page.release.set()
    for i in range(cap):
        assert page.result(f"flood-{i}")["success"]
    deadline = time.monotonic() + 10
    while page.held() and time.monotonic() < deadline:
        time.sleep(0.1)
    page.release.clear()
    assert page.join("on_train", ["copy"], "after").status_code == 200       # room again


def test_one_session_holds_one_heavy_job(page):
    assert page.join("on_train", ["copy"], "one-tab").status_code == 200
    r = page.join("on_score", ["Hallo"], "one-tab")
    assert r.status_code == 429 and "already has a heavy job" in r.json()["detail"]
    assert page.join("on_score", ["Hallo"], "another-tab").status_code == 200
    r = page.join("on_compare", ["Hallo", ["dot"], "greedy", 5], "one-tab")     # light: not counted
    assert r.status_code == 200


def test_only_a_compare_at_the_limit_counts_as_heavy(page):
    from demo.serving import heavy_kind

    fn = next(f for f in gradio_private.block_functions(page.demo) if f.name == "on_compare")
    assert heavy_kind(fn, ["Hallo", ["dot"], "greedy", 10]) is None
    assert heavy_kind(fn, ["Hallo", ["dot"], "beam", 5]) is None
    assert heavy_kind(fn, ["Hallo", ["dot"], "beam", 10]) == "on_compare"
    assert heavy_kind(fn, ["x" * serving.HEAVY_COMPARE_CHARS, ["dot"], "greedy", 1]) == "on_compare"
    assert heavy_kind(fn, [None, "junk", [], "abc"]) is None
    cap = serving.HEAVY["on_compare"].cap
    codes = [page.join("on_compare", ["Hallo", ["dot"], "beam", 10], f"wide-{i}").status_code
             for i in range(cap + 2)]
    assert codes == [200] * cap + [429, 429]


def test_a_permalink_that_runs_a_compare_at_the_limit_counts_as_one(page):
    """The page's queue call carries the page URL's query, which ``on_link`` runs as a compare."""
    from demo.serving import heavy_kind

    fn = next(f for f in gradio_private.block_functions(page.demo) if f.name == "on_link")
    assert heavy_kind(fn, [], {"text": "Hallo"}) is None
    assert heavy_kind(fn, [], {"text": "Hallo", "method": "beam", "beam": "10"}) == "on_compare"
    assert heavy_kind(fn, [], {"text": "x" * serving.HEAVY_COMPARE_CHARS}) == "on_compare"
    assert heavy_kind(fn, [], {"text": "Hallo", "method": "beam", "beam": "abc"}) is None
    assert heavy_kind(fn, [], {}) is None and heavy_kind(fn, [], None) is None      # no link: nothing runs
    cap = serving.HEAVY["on_compare"].cap
    wide = {"text": "Hallo", "method": "beam", "beam": "10"}
    codes = [page.join("on_link", [], f"link-{i}", query=wide).status_code for i in range(cap + 1)]
    assert codes == [200] * cap + [429]
    assert page.join("on_link", [], "plain-link", query={"text": "Hallo"}).status_code == 200


def test_behind_a_proxy_the_cap_holds_per_client_address(proxied):
    assert proxied.join("on_train", ["copy"], "a-1", "10.0.0.1").status_code == 200
    r = proxied.join("on_train", ["copy"], "a-2", "10.0.0.1")               # the same visitor, a new tab
    assert r.status_code == 429 and "1 training is running from your address" in r.json()["detail"]
    assert proxied.join("on_train", ["copy"], "b-1", "10.0.0.2").status_code == 200
    # the proxy appends the address it saw; what a client puts in front of it is not trusted
    r = proxied.join("on_train", ["copy"], "a-3", "10.9.9.9, 10.0.0.1")
    assert r.status_code == 429


def test_without_a_proxy_the_forwarded_header_is_ignored(page):
    assert page.join("on_train", ["copy"], "a-1", "10.0.0.1").status_code == 200
    assert page.join("on_train", ["copy"], "a-2", "10.0.0.1").status_code == 200


def test_the_per_address_cap_is_on_when_on_a_space(monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert not serving.RequestGuard(None).admission.per_address
    monkeypatch.setenv("SPACE_ID", "someone/attention")
    assert serving.space_behind_proxy() and serving.RequestGuard(None).admission.per_address
    assert not serving.RequestGuard(None, per_address=False).admission.per_address
    assert serving.client_address({"x-forwarded-for": "1.1.1.1, 2.2.2.2"}, "127.0.0.1", True) == "2.2.2.2"
    assert serving.client_address({"x-forwarded-for": "1.1.1.1"}, "127.0.0.1", False) == "127.0.0.1"


@pytest.mark.parametrize("name, data, expected", [
    ("on_seed", ["abc"], "Seed: must be a finite number from 0 to 99 (got text)."),
    ("on_compare", ["Hallo", "dot", "greedy", 5], "Variants: choose from dot, additive (got text)."),
    ("on_compare", ["Hallo", ["dot"], ["greedy"], 5], "Decoding: choose from greedy, beam (got a list)."),
    ("on_compare", ["Hallo", ["bogus"], "greedy", 5], "Variants: choose from dot, additive (got a list)."),
])
def test_a_value_gradio_cannot_read_gets_a_line_naming_the_field(page, capfd, name, data, expected):
    capfd.readouterr()
    assert page.join(name, data, "fields").status_code == 200
    done = page.result("fields")
    assert not done["success"] and done["output"]["error"] == expected
    time.sleep(0.2)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and f"refused {name}: {expected}" in out


def test_an_event_that_runs_in_the_page_only_is_not_callable(page):
    r = page.join("js_fn", [], "js")
    assert r.status_code == 422 and "runs in the page only" in r.json()["detail"]


def test_an_unknown_event_is_refused(page):
    body = json.dumps({"data": [], "fn_index": 999, "session_hash": "x"})
    r = page.http.post("/gradio_api/queue/join", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 404 and "no such event" in r.json()["detail"]


# ---- state expires --------------------------------------------------------------------------------

def test_session_state_expires_after_its_time_to_live(tiny_assets, tmp_path, monkeypatch):
    """Sessions that each score a sentence and leave: with a 6-s time-to-live the held sessions
    return to where they started (the memory figure is the benchmark's: benchmarks/reliability)."""
    monkeypatch.setenv("SEQ2SEQ_SESSION_TTL_S", "6")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    from demo.ui import build_demo

    assert serving.session_ttl_s() == 6 and serving.sweep_every_s(6) == 3
    demo = serving.serve(build_demo(tiny_assets))
    _, url, _ = demo.launch(**serving.launch_kwargs(server_name="127.0.0.1", server_port=free_port(),
                                                    prevent_thread_lock=True, quiet=True))
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=60) as http:
            holder = gradio_private.state_holder(demo.server_app)
            baseline = len(holder.session_data)
            score = next(d["id"] for d in http.get("/config").json()["dependencies"] if d["api_name"] == "on_score")
            for i in range(12):
                session = f"leaving-{i}"
                body = {"data": ["Es sieht nach Regen aus.", "It looks like rain.", ["dot"], "de-en", 1],
                        "fn_index": score, "session_hash": session}
                r = http.post("/gradio_api/queue/join", content=json.dumps(body),
                              headers={"Content-Type": "application/json"})
                assert r.status_code == 200, r.text
                with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as s:
                    assert "process_completed" in "".join(s.iter_lines())
                assert holder.session_data[session].state_data       # its result is kept, for now
            deadline = time.monotonic() + 30
            while len(holder.session_data) > baseline and time.monotonic() < deadline:
                time.sleep(0.25)
            assert len(holder.session_data) == baseline
            assert not any(f"leaving-{i}" in gradio_private.queue_of(demo).pending_event_ids_session
                           for i in range(12))
    finally:
        demo.close()


def test_a_bad_time_to_live_setting_falls_back_to_the_default(monkeypatch):
    for raw in ("abc", "-5", "nan", "inf", "0"):
        monkeypatch.setenv("SEQ2SEQ_SESSION_TTL_S", raw)
        assert serving.session_ttl_s() == serving.SESSION_TTL_S
    monkeypatch.delenv("SEQ2SEQ_SESSION_TTL_S")
    assert serving.session_ttl_s() == serving.SESSION_TTL_S
