"""fuzz: seeded raw calls over every event of the page (``/queue/join`` by index, the events
that run in the page only included) and the public API in both forms (``/call/translate`` and the
keyword form ``/call/v2/translate``), each from a new session: wrong types and counts, NaN,
infinities, 1e308, huge integers, lone surrogates, "abc" as a number, nested objects, file
references, broken JSON. Counts: ok, refused with a message, busy, ``{"error": null}``, HTTP 5xx
or no message, hangs (no answer in 60 s), resets; and the log's tracebacks. Also ``--handlers``:
as many in-process calls to what the page's events call."""
from __future__ import annotations

import json
import random
import time

import httpx

from .client import HANG_S, LONG, Outcome, Server, call_api, load_average, new_session

HANG_LIMIT_S = 60.0
API_NAMES = ("text", "variant", "method", "beam", "temperature", "seed", "direction")


def fuzz_values(rng: random.Random):
    from seq2seq.attention import VARIANTS

    def text():
        choice = rng.randrange(14)
        if choice == 0:
            return rng.choice(["", " ", "\n\t", None, 0, 1.5, True, [], {}, ["Hallo"], {"text": "Hallo"}])
        if choice == 1:
            return "x" * rng.choice([499, 500, 501, 5000])
        if choice == 2:
            return "ä " * rng.choice([59, 60, 61, 119, 121, 200])
        if choice == 3:      # random code points, surrogates and controls included
            return "".join(chr(rng.choice([rng.randrange(0x20, 0x7f), rng.randrange(0xa0, 0x2fff),
                                          rng.randrange(0xd800, 0xe000), rng.randrange(0, 0x20),
                                          rng.randrange(0x1f300, 0x1fa00), rng.randrange(0x600, 0x700)]))
                           for _ in range(rng.randrange(1, 80)))
        if choice == 4:
            return rng.choice(["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "$\\alpha$ **b**",
                               "[x](javascript:alert(1))", "{{7*7}}", "%s%n", "\u202eabc", "\ufeffHallo"])
        return rng.choice(["Ich wurde durch einen Hund gebissen.", "Es sieht nach Regen aus.", "Guten Morgen!",
                           "Der See bildet eine natürliche Grenze.", "Hallo 東京 😀", LONG, "Ich mag مرحبا."])

    def number(lo, hi):
        choice = rng.randrange(10)
        if choice < 4:
            return rng.randint(lo, hi)
        return rng.choice([0, -1, hi + 1, 10**400, -10**400, 1e308, 2.5, "5", "abc", None, True, [], {},
                           float("nan"), float("inf"), -float("inf"), 2**63, 1e-320])

    def variant():
        return rng.choice(list(VARIANTS) * 3 + ["bogus", None, 1, [], {"a": 1}, "DOT", ["dot"]])

    def method():
        return rng.choice(["greedy", "beam", "sample"] * 3 + ["Beam", None, 3, "", ["greedy"]])

    return text, number, variant, method


def fuzz_api_body(rng: random.Random) -> bytes:
    text, number, variant, method = fuzz_values(rng)
    data = [text(), variant(), method(), number(1, 10), number(0, 3), number(0, 2**31)]
    kind = rng.randrange(20)
    if kind == 0:
        data = data[:rng.randrange(6)] if rng.random() < 0.5 else data + [1] * rng.randrange(1, 4)
    elif kind == 1:
        data[rng.randrange(6)] = {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}
    elif kind == 2:
        data[rng.randrange(6)] = [[[[{"a": [1, 2, {"b": None}]}]]]]
    elif kind == 3:
        return rng.choice([b'{"data": ["Hallo"', b"", b"null", b'"\\ud800"', b'{"data": "x"}', b"[" * 5000,
                           '{"data": ["\ud800"]}'.encode("utf-8", "surrogatepass"), b"\xff\xfe",
                           b'{"data": ["Hallo", "dot", "beam", 1' + b"0" * 5000 + b', 1, 0]}'])
    return json.dumps({"data": data}, ensure_ascii=rng.random() < 0.5, allow_nan=True).encode("utf-8", "surrogatepass")


def fuzz_api(server: Server, n: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    examples: dict[str, str] = {}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(n):
            body = fuzz_api_body(rng)
            out = call_translate(client, body, timeout=HANG_S * 4)
            counts[out.kind] = counts.get(out.kind, 0) + 1
            if out.kind not in ("ok", "refused"):
                examples.setdefault(out.kind, f"{body[:120]!r} → {out.detail[:160]}")
    for kind, example in examples.items():
        print(f"    e.g. {kind}: {example}")
    return counts


def fuzz_handlers(n: int, seed: int) -> dict[str, int]:
    """What the page's events and the API call, in-process, with the same kind of values
    (``state.translate``, ``views.results_html``, ``export.export_zip``, ``state.translate_api``),
    as far as a client controls them (the result comes from the session's ``gr.State``, never
    from the client; the words box arrives as ``bool``, as ``on_words`` passes it): their own
    gr.Error is a refusal, any other exception a server error."""
    import warnings

    import gradio as gr

    from demo import export, state, views

    warnings.simplefilter("ignore")      # gr.Warning outside a running app (the page's notes)
    tr, _, _ = state.load_translator()
    rng = random.Random(seed)
    text, number, variant, method = fuzz_values(rng)
    counts: dict[str, int] = {}
    examples: dict[str, str] = {}
    result = None
    calls = ["translate_api", "translate + results_html", "results_html", "export_zip"]
    for _ in range(n):
        which = rng.randrange(4)
        started = time.monotonic()
        try:
            if which == 0:
                state.translate_api(tr, text(), variant(), method(), number(1, 10), number(0, 3), number(0, 99))
            elif which == 1:                      # on_compare
                variants = rng.choice([[variant()], [variant(), variant()], variant(), None])
                res = state.translate(tr, text(), variants, method(), number(1, 10), number(1, 10),
                                      number(0, 3), number(0, 99))
                views.results_html(res, bool(rng.choice([True, False, None, "x"])))
                result = res
            elif which == 2:                      # on_words: redraws only a result there is
                if result:
                    views.results_html(result, bool(rng.choice([True, False, None, "x", 0])))
            else:                                 # on_zip
                export.export_zip(rng.choice([result, None]), bool(rng.choice([True, False, None, "x"])))
            kind = "ok"
        except gr.Error:
            kind = "refused"
        except Exception as exc:        # noqa: BLE001 - counting exactly these is the point
            kind = "server_error"
            examples.setdefault(f"{which}:{type(exc).__name__}", repr(exc)[:200])
        seconds = time.monotonic() - started
        if seconds > HANG_S:
            kind = "hang"
            examples.setdefault(f"{which}:over {HANG_S:g} s", f"{seconds:.1f} s, {calls[which]}")
        counts[kind] = counts.get(kind, 0) + 1
    for what, example in list(examples.items())[:5]:
        print(f"    e.g. handler {what}: {example}")
    return counts


def bad_value(rng: random.Random):
    return rng.choice(["abc", "", None, True, [], {}, {"a": [1, {"b": None}]}, [[["x"]]], 1e308, -1e308, 10**400,
                       -(10**30), 2**63, float("nan"), float("inf"), -float("inf"), 1e-320, "\ud800", "x\udfffy",
                       "<script>alert(1)</script>", "x" * 600, 3.5, -1, 0,
                       {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}])


def good_value(rng: random.Random, component: dict):
    props = component.get("props", {})
    kind = component.get("type")
    choices = [c[1] if isinstance(c, list) and len(c) == 2 else c for c in props.get("choices") or []]
    if kind == "checkboxgroup":
        return rng.sample(choices, k=rng.randint(0, len(choices))) if choices else []
    if kind in ("radio", "dropdown") and choices:
        return rng.choice(choices)
    if kind in ("slider", "number"):
        lo, hi = props.get("minimum"), props.get("maximum")
        lo = lo if isinstance(lo, (int, float)) else 0
        hi = hi if isinstance(hi, (int, float)) else 10
        return rng.randint(int(lo), int(max(lo, hi)))
    if kind == "checkbox":
        return rng.random() < 0.5
    if kind == "textbox":
        return rng.choice(["Es sieht nach Regen aus.", "Guten Morgen!", "It looks like rain.", LONG, "0 1 2 3", ""])
    if kind == "dataset":
        return rng.randint(-1, 12)
    return None


def event_body(rng: random.Random, dep: dict, components: dict, session: str) -> bytes:
    inputs = [components.get(i, {}) for i in dep["inputs"]]
    data = [good_value(rng, c) if rng.random() < 0.5 else bad_value(rng) for c in inputs]
    roll = rng.random()
    if roll < 0.08:
        data = data[:rng.randrange(len(data) + 1)] + [bad_value(rng)] * rng.randrange(3)
    elif roll < 0.12:
        return rng.choice([b'{"data": [', b"", b"null", b'{"data": "x"}', b"\xff\xfe", b"[" * 3000,
                           ('{"data": ["\ud800"], "fn_index": %d, "session_hash": "%s"}' % (dep["id"], session))
                           .encode("utf-8", "surrogatepass")])
    body = {"data": data, "fn_index": dep["id"], "session_hash": session, "event_data": None, "trigger_id": None}
    if roll > 0.97:
        body["fn_index"] = rng.choice(["abc", None, 10**30, -1, 1e308, [1]])
    return json.dumps(body, allow_nan=True, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")


def keyword_body(rng: random.Random) -> bytes:
    body = {k: (rng.choice(["Es sieht nach Regen aus.", "dot", "beam", 5, 1.0, 0, "de-en"]) if rng.random() < 0.4
                else bad_value(rng)) for k in rng.sample(API_NAMES, k=rng.randint(0, len(API_NAMES)))}
    if rng.random() < 0.5:
        body["text"] = rng.choice(["Es sieht nach Regen aus.", "Hallo", bad_value(rng)])
    if rng.random() < 0.1:
        body[rng.choice(["txt", "beams", "", "\ud800"])] = 1
    if rng.random() < 0.05:
        return rng.choice([b"[1, 2]", b'"text"', b"null", b"{", b'{"text": "\ud800"}'])
    return json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")


def call_raw_event(client: httpx.Client, body: bytes, session: str, leave_running: bool) -> Outcome:
    """Join with a raw body, then read the session's stream (up to HANG_LIMIT_S); a training that
    started (``leave_running``) is left to run, counted as ok."""
    started = time.monotonic()
    try:
        r = client.post("/gradio_api/queue/join", content=body, headers={"Content-Type": "application/json"})
        from .client import _classify_http

        if r.status_code != 200:
            return _classify_http(r.status_code, r.text, time.monotonic() - started)
        event_id = r.json().get("event_id")
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as s:
            for line in s.iter_lines():
                if time.monotonic() - started > HANG_LIMIT_S:
                    return Outcome("hang", time.monotonic() - started)
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_starts" and leave_running:
                    return Outcome("ok", time.monotonic() - started, "left running")
                if msg.get("msg") == "unexpected_error":
                    return Outcome("server_error", time.monotonic() - started, str(msg.get("message"))[:200])
                if msg.get("msg") == "process_completed" and msg.get("event_id") == event_id:
                    output = msg.get("output") or {}
                    if msg.get("success"):
                        return Outcome("ok", time.monotonic() - started)
                    if "error" in output and output["error"] is None:
                        return Outcome("null", time.monotonic() - started, json.dumps(msg)[:200])
                    if isinstance(output.get("error"), str) and output["error"]:
                        return Outcome("refused", time.monotonic() - started, output["error"][:200])
                    return Outcome("server_error", time.monotonic() - started, json.dumps(msg)[:200])
    except httpx.TimeoutException:
        return Outcome("hang", time.monotonic() - started)
    except httpx.TransportError as exc:
        return Outcome("reset", time.monotonic() - started, repr(exc))
    return Outcome("server_error", time.monotonic() - started, "stream ended without the result")


def fuzz_raw(server: Server, n: int, seed: int) -> dict:
    """``n`` raw calls, every target in turn (a shuffled round), then the next round."""
    rng = random.Random(seed)
    components = {c["id"]: c for c in server.config["components"]}
    deps = server.config["dependencies"]
    targets = [("event", d) for d in deps] + [("api", None), ("keyword", None)]
    counts: dict[str, int] = {}
    per_target: dict[str, set] = {}
    examples: dict[str, str] = {}
    http_5xx = 0
    order: list = []
    with httpx.Client(base_url=server.url, timeout=HANG_LIMIT_S) as client:
        for i in range(n):
            if not order:
                order = list(targets)
                rng.shuffle(order)
            what, dep = order.pop()
            session = new_session(rng)
            if what == "event":
                name = dep.get("api_name") or str(dep["id"])
                out = call_raw_event(client, event_body(rng, dep, components, session), session,
                                     leave_running=name.startswith("on_train"))
            elif what == "api":
                name, out = "/call/translate", call_api(client, fuzz_api_body(rng), False, HANG_LIMIT_S)
            else:
                name, out = "/call/v2/translate", call_api(client, keyword_body(rng), True, HANG_LIMIT_S)
            counts[out.kind] = counts.get(out.kind, 0) + 1
            per_target.setdefault(name, set()).add(out.kind)
            http_5xx += out.detail.startswith("HTTP 5")
            if out.kind not in ("ok", "refused", "busy"):
                examples.setdefault(f"{out.kind} {name}", out.detail[:160])
    for what, example in list(examples.items())[:8]:
        print(f"    e.g. {what}: {example}")
    return {"calls": n, "targets": len(targets), "outcomes": counts, "http_5xx": http_5xx,
            "targets_reached": len(per_target)}


def run(args) -> None:
    n = 300 if args.quick else args.fuzz_calls
    if args.handlers:
        print(f"fuzz, handlers in-process, {n} calls:", fuzz_handlers(n, args.seed), flush=True)
    server = Server(root=args.root)
    try:
        t0 = time.monotonic()
        before = server.rss_mb()
        r = fuzz_raw(server, n, args.seed)
        time.sleep(1)
        log = server.log_text()
        print(f"fuzz, {n} raw calls over {r['targets']} targets (every event, /call/translate, /call/v2/translate) "
              f"in {time.monotonic() - t0:.0f} s: {r['outcomes']}; HTTP 5xx {r['http_5xx']}; "
              f"{{\"error\": null}} {r['outcomes'].get('null', 0)}; resets {r['outcomes'].get('reset', 0)}; "
              f"hangs {r['outcomes'].get('hang', 0)}; tracebacks in the log {log.count('Traceback')}; "
              f"refusal lines in the log {log.count('serving: refused') + log.count('serving: failed')}; "
              f"RSS {before:.0f} → {server.rss_mb():.0f} MB; {load_average()}", flush=True)
    finally:
        server.stop()
