"""Reliability of the served app: fuzzing, XSS, a huge call, closed-loop load, a burst, a
memory soak and thread safety, against ``python app.py`` started on 127.0.0.1.

Every phase is bounded in count and time, and prints its figures:

* fuzz      N random, malformed or hostile calls through the API (raw HTTP) and as
            many in-process through what the page's events call: successes, clean refusals,
            server errors (HTTP 5xx, a null error, an exception that is not the app's
            own), hangs (> 5 s) and connection resets
* xss       script payloads typed into the page in Chromium (greedy, and beam with
            words), counting any that executes
* huge      a 1,000,000-character call: refused, and how fast
* load      10 users in a closed loop on the compare event and on /translate:
            throughput, p50/p95/p99, errors
* burst     100 simultaneous compare requests: each served or refused in time; a
            request sent during the burst; the page's "busy" message; service after it
* soak      mixed requests (long and short, beam 10, words, exports, refusals), each
            from a new session and all in one session: server RSS along the way
* threads   8 threads translating the same 50 sentences at once vs one after another

    python benchmarks/bench_reliability.py --quick             # a few minutes
    python benchmarks/bench_reliability.py                     # the full run (about an hour on 2 cores)
    python benchmarks/bench_reliability.py --only soak --before   # also the settings before demo/serving.py
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HANG_S = 5.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
BEFORE = ("import sys; sys.path.insert(0, '.'); from demo.ui import build_demo; "
          "build_demo().launch(enable_monitoring=False)")       # how app.py served the page before serving.py


def percentile(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def sentences(data: Path, n: int = 200, min_words: int = 4, max_words: int = 15, seed: int = 0) -> list[str]:
    from demo.state import load_examples

    out = [s for s, _ in load_examples()]
    test = data / "test.tsv"
    if test.exists():
        pool = [line.split("\t")[0] for line in test.read_text(encoding="utf-8").splitlines() if "\t" in line]
        pool = [s for s in pool if min_words <= len(s.split()) <= max_words and s not in out]
        random.Random(seed).shuffle(pool)
        out += pool
    return out[:n]


LONG = ("Ich wurde gestern Abend von einem großen schwarzen Hund gebissen, als ich mit meiner Schwester "
        "durch den Park nach Hause ging, und danach mussten wir sofort zum Arzt fahren.")


# ---- the server ------------------------------------------------------------------------------

class Server:
    """``python app.py`` (or, with ``before``, the page launched as it was before serving.py)."""

    def __init__(self, before: bool = False):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-reliability-")
        env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(self.port),
               "GRADIO_TEMP_DIR": self.tmp.name, "GRADIO_ANALYTICS_ENABLED": "False"}
        cmd = [sys.executable, "-c", BEFORE] if before else [sys.executable, "app.py"]
        self.log = open(Path(self.tmp.name) / "server.log", "w+")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server stopped: {self.log_text()[-2000:]}")
            try:
                self.config = httpx.get(self.url + "/config", timeout=5).json()
                break
            except (httpx.HTTPError, ValueError):
                time.sleep(0.5)
        else:
            raise RuntimeError("the server did not answer within 240 s")
        deps = self.config["dependencies"]
        self.compare_index = next(d["id"] for d in deps if d.get("api_name") == "on_compare")
        self.words_index = next(d["id"] for d in deps if d.get("api_name") == "on_words")
        self.export_index = next(d["id"] for d in deps if d.get("api_name") == "on_zip")

    def rss_mb(self, field: str = "VmRSS") -> float:
        """Resident memory now, or its peak so far with ``field="VmHWM"``."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def rss_at_rest(self) -> float:
        """RSS after a pause in which the server's trim loop can hand freed memory back."""
        from demo import serving

        time.sleep(serving.TRIM_CHECK_S + 1.0)
        return self.rss_mb()

    def reset_peak(self) -> None:
        """Start VmHWM again from the current RSS (Linux: clear_refs 5)."""
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass

    def log_text(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        self.tmp.cleanup()


@dataclass
class Outcome:
    kind: str            # ok | refused | busy | server_error | hang | reset
    seconds: float
    detail: str = ""


def _classify_http(status: int, text: str, seconds: float) -> Outcome:
    if status == 503:
        return Outcome("busy", seconds, text[:200])
    try:
        detail = json.loads(text).get("detail")
    except (ValueError, AttributeError):
        detail = None
    if 400 <= status < 500 and isinstance(detail, str) and detail and "Traceback" not in text:
        return Outcome("refused", seconds, detail[:200])
    return Outcome("server_error", seconds, f"HTTP {status}: {text[:200]}")


def call_translate(client: httpx.Client, body: bytes, session: str | None = None, timeout: float = 60) -> Outcome:
    """A raw call to /gradio_api/call/translate and its event stream."""
    started = time.monotonic()
    try:
        r = client.post("/gradio_api/call/translate", content=body, timeout=timeout,
                        headers={"Content-Type": "application/json"})
        if r.status_code != 200:
            return _classify_http(r.status_code, r.text, time.monotonic() - started)
        stream = client.get(f"/gradio_api/call/translate/{r.json()['event_id']}", timeout=timeout).text
    except httpx.TimeoutException:
        return Outcome("hang", time.monotonic() - started)
    except httpx.TransportError as exc:
        return Outcome("reset", time.monotonic() - started, repr(exc))
    seconds = time.monotonic() - started
    if "event: complete" in stream:
        return Outcome("ok" if seconds <= HANG_S else "hang", seconds)
    if "event: error" in stream:
        data = stream.split("data:", 1)[-1].strip()
        try:
            message = json.loads(data).get("error") if data.startswith("{") else None
        except ValueError:
            message = None
        if isinstance(message, str) and message and "Traceback" not in stream:
            return Outcome("refused" if seconds <= HANG_S else "hang", seconds, message[:200])
    return Outcome("server_error", seconds, stream[:200])


def call_event(client: httpx.Client, fn_index: int, data: list, session: str, timeout: float = 60,
               raw: bytes | None = None) -> Outcome:
    """A page event: join the queue, then read the session's stream until the event completes."""
    started = time.monotonic()
    body = raw if raw is not None else json.dumps({"data": data, "fn_index": fn_index, "session_hash": session,
                                                   "event_data": None, "trigger_id": None}).encode()
    try:
        r = client.post("/gradio_api/queue/join", content=body, timeout=timeout,
                        headers={"Content-Type": "application/json"})
        if r.status_code != 200:
            return _classify_http(r.status_code, r.text, time.monotonic() - started)
        event_id = r.json()["event_id"]
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}, timeout=timeout) as s:
            for line in s.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "unexpected_error":
                    return Outcome("server_error", time.monotonic() - started, str(msg.get("message"))[:200])
                if msg.get("msg") == "process_completed" and msg.get("event_id") == event_id:
                    seconds = time.monotonic() - started
                    if msg.get("success"):
                        return Outcome("ok", seconds)
                    error = (msg.get("output") or {}).get("error")
                    if isinstance(error, str) and error:
                        return Outcome("refused", seconds, error[:200])
                    return Outcome("server_error", seconds, json.dumps(msg)[:200])
    except httpx.TimeoutException:
        return Outcome("hang", time.monotonic() - started)
    except httpx.TransportError as exc:
        return Outcome("reset", time.monotonic() - started, repr(exc))
    return Outcome("server_error", time.monotonic() - started, "stream ended without the result")


def compare_data(text: str, method: str = "greedy", beam: int = 5, n_best: int = 1, words: bool = False,
                 variants=None) -> list:
    from seq2seq.attention import VARIANTS

    return [text, list(variants or VARIANTS), method, beam, n_best, 1.0, 0, words]


def new_session(rng: random.Random) -> str:
    return "bench-%016x" % rng.getrandbits(64)


# ---- fuzz ----------------------------------------------------------------------------------

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


# ---- XSS through the page ----------------------------------------------------------------------

def xss_payloads() -> list[str]:
    hook = "window.__xss.push(1)"
    base = [
        f"<script>{hook}</script>", f"<img src=x onerror={hook}>", f"<svg onload={hook}>",
        f"<svg><script>{hook}</script></svg>", f"<iframe srcdoc='<script>parent.__xss.push(1)</script>'>",
        f"<body onload={hook}>", f"<details open ontoggle={hook}>", f"<input autofocus onfocus={hook}>",
        f"<video><source onerror={hook}>", f"<audio src=x onerror={hook}>", f"<marquee onstart={hook}>",
        f"<a href=javascript:{hook}>x</a>", f"[click](javascript:{hook})", f"![x](x\" onerror=\"{hook})",
        f"<math><mtext><img src=x onerror={hook}>", f"\"><img src=x onerror={hook}>", f"'><svg onload={hook}>",
        f"</textarea><script>{hook}</script>", f"</title><script>{hook}</script>", f"<style>@import 'x';</style>",
        f"<object data=javascript:{hook}>", f"<embed src=javascript:{hook}>", f"<form action=javascript:{hook}><button>",
        f"<isindex action=javascript:{hook} type=image>", f"<img src=\"x` `<script>{hook}</script>\"` `>",
        f"<scr<script>ipt>{hook}</scr</script>ipt>", f"&lt;script&gt;{hook}&lt;/script&gt;",
        f"<img src=x oNeRrOr={hook}>", f"<IMG SRC=x ONERROR={hook}>", f"<img/src=x/onerror={hook}>",
        f"<svg/onload={hook}>", f"<img src=x onerror=\"&#119;indow.__xss.push(1)\">", f"<div style=\"x:expression({hook})\">",
        f"$\\href{{javascript:{hook}}}{{x}}$", f"$$\\url{{javascript:{hook}}}$$", f"`<img src=x onerror={hook}>`",
        f"<!--<img src=\"--><img src=x onerror={hook}//\">", f"<a href=\"jav&#x09;ascript:{hook}\">x</a>",
        f"<base href=javascript:{hook}//>", f"<link rel=import href=javascript:{hook}>",
        f"<meta http-equiv=refresh content=\"0;url=javascript:{hook}\">", f"<template><img src=x onerror={hook}></template>",
        f"<select autofocus onfocus={hook}>", f"<keygen autofocus onfocus={hook}>", f"<textarea autofocus onfocus={hook}>",
        f"<svg><animate onbegin={hook} attributeName=x dur=1s>", f"<svg><a xlink:href=javascript:{hook}><text>x</text></a></svg>",
        f"<img src=1 onerror={hook}> Ich wurde gebissen.", f"Der Hund <img src=x onerror={hook}> bellt.",
        f"<b onmouseover={hook}>Hallo</b>", f"<p style=\"background:url(javascript:{hook})\">",
        f"\u003cimg src=x onerror={hook}\u003e", f"＜img src=x onerror={hook}＞", f"<img src=x onerror={hook}//",
        f"{{{{constructor.constructor('{hook}')()}}}}", f"${{{hook}}}", f"<x onclick={hook}>click",
        f"<img src=x:alert(1) onerror=eval(src) alt={hook}>", f"<svg><set onbegin={hook} attributename=x to=y>",
    ]
    return base


SHOWN = ("() => (document.querySelector('#results')?.innerHTML ?? '') + '|' + "
         "(document.querySelector('#message')?.innerText ?? '')")   # what a run changes: the results or the message


def run_xss(server: Server, modes: list[str], limit: int | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    payloads = xss_payloads()[:limit]
    executed, runs, dialogs = 0, 0, []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script("window.__xss = []; window.alert = window.confirm = window.prompt = "
                                 "() => window.__xss.push('dialog');")
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(server.url, timeout=120_000)
            page.locator("#source-text textarea").wait_for(timeout=120_000)
            for mode in modes:
                if mode == "beam+words":
                    page.get_by_label("beam", exact=True).check()
                    page.locator("#words input").check()
                for i, payload in enumerate(payloads):
                    before = page.evaluate(SHOWN)
                    toasts = page.locator(".toast-body").count()
                    page.locator("#source-text textarea").fill(f"{i} {payload}"[:500])
                    page.locator("#run").click()
                    try:
                        page.wait_for_function(
                            f"([b, t]) => ({SHOWN})() !== b || "
                            "document.querySelectorAll('.toast-body').length > t", arg=[before, toasts], timeout=30_000)
                        page.wait_for_timeout(300)       # the step view (page.js) follows
                        tokens = page.locator("#cell-dot .tokens.out .tok, #cell-additive .tokens.out .tok").first
                        if tokens.count():
                            tokens.click(timeout=2_000)  # a clicked output token moves the step view
                            page.wait_for_timeout(200)
                    except Exception:                    # noqa: BLE001 - a slow run counts, not stops
                        pass
                    runs += 1
            page.wait_for_timeout(3000)          # anything late still counts: the counter is never reset
            executed = page.evaluate("window.__xss.length")
            # the control: the same markup inserted unescaped does run, and the counter sees it
            page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=window.__xss.push(1)>')")
            try:
                page.wait_for_function(f"window.__xss.length > {executed}", timeout=15_000)
            except Exception:                    # noqa: BLE001 - reported as a failed control
                pass
            control = page.evaluate("window.__xss.length") - executed
        finally:
            browser.close()
    return {"payloads": len(payloads), "runs": runs, "executed": executed + len(dialogs),
            "control_executed": control}


def run_busy_page(server: Server, hold: threading.Event) -> str | None:
    """While ``hold`` is set (the queue full), click the page's button: the text Gradio shows."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(server.url, timeout=120_000)
            page.locator("#source-text textarea").fill("Es sieht nach Regen aus.")
            hold.wait(60)
            page.locator("#run").click()
            toast = page.locator(".toast-body").first
            toast.wait_for(timeout=15_000)
            return " ".join(toast.inner_text().split())
        except Exception as exc:         # noqa: BLE001
            return f"(no message seen: {type(exc).__name__})"
        finally:
            browser.close()


# ---- load ----------------------------------------------------------------------------------

def closed_loop(server: Server, what: str, users: int, seconds: float, texts: list[str]) -> dict:
    stop_at = time.monotonic() + seconds
    lat: list[float] = []
    kinds: dict[str, int] = {}
    lock = threading.Lock()

    def user(u: int):
        rng = random.Random(u)
        session = new_session(rng)
        with httpx.Client(base_url=server.url, timeout=120) as client:
            while time.monotonic() < stop_at:
                text = rng.choice(texts)
                if what == "compare":
                    out = call_event(client, server.compare_index, compare_data(text), session, timeout=120)
                else:
                    out = call_translate(client, json.dumps({"data": [text, "additive", "greedy", 5, 1.0, 0]}).encode(),
                                         timeout=120)
                    out.kind = "ok" if out.kind == "hang" else out.kind     # a slow answer under load is not a hang
                with lock:
                    kinds[out.kind] = kinds.get(out.kind, 0) + 1
                    if out.kind == "ok":
                        lat.append(out.seconds)

    started = time.monotonic()
    with ThreadPoolExecutor(users) as pool:
        list(pool.map(user, range(users)))
    wall = time.monotonic() - started
    return {"requests": sum(kinds.values()), "per_s": len(lat) / wall, "p50": percentile(lat, 0.5),
            "p95": percentile(lat, 0.95), "p99": percentile(lat, 0.99), "outcomes": kinds}


def burst(server: Server, n: int, texts: list[str], with_browser: bool) -> dict:
    rng = random.Random(7)
    barrier = threading.Barrier(n + 1)
    results: list[Outcome] = [None] * n
    hold = threading.Event()

    def one(i: int):
        with httpx.Client(base_url=server.url, timeout=120) as client:
            barrier.wait()
            results[i] = call_event(client, server.compare_index, compare_data(rng.choice(texts)),
                                    f"burst-{i}-{rng.getrandbits(32)}", timeout=120)

    busy_text: list[str | None] = [None]
    browser = threading.Thread(target=lambda: busy_text.__setitem__(0, run_busy_page(server, hold))) \
        if with_browser else None
    if browser:
        browser.start()
        time.sleep(8)                       # the page loads before the burst
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    burst_started = time.monotonic()
    time.sleep(0.5)
    hold.set()
    with httpx.Client(base_url=server.url, timeout=120) as client:
        t0 = time.monotonic()
        client.get("/config")
        config_s = time.monotonic() - t0
        during = call_event(client, server.compare_index, compare_data("Guten Morgen!"), "burst-probe", timeout=120)
    for t in threads:
        t.join()
    burst_end = time.monotonic()
    with httpx.Client(base_url=server.url, timeout=120) as client:
        after = call_event(client, server.compare_index, compare_data("Es sieht nach Regen aus."), "after", timeout=120)
    if browser:
        browser.join(60)
    kinds: dict[str, int] = {}
    for r in results:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    served = [r.seconds for r in results if r.kind == "ok"]
    refused = [r.seconds for r in results if r.kind == "busy"]
    return {"outcomes": kinds, "served_p50": percentile(served, 0.5), "served_max": max(served, default=float("nan")),
            "refused_max": max(refused, default=float("nan")), "slowest": max(r.seconds for r in results),
            "during": f"{during.kind} in {during.seconds:.2f} s", "config_during_s": config_s,
            "after": f"{after.kind} in {after.seconds:.2f} s ({burst_end - burst_started:.1f} s after the burst began)",
            "page_message": busy_text[0]}


# ---- soak ----------------------------------------------------------------------------------

def soak_request(client: httpx.Client, server: Server, rng: random.Random, session: str, texts: list[str]) -> str:
    """One mixed request: API calls and compare events, short and long, beam 10 with n-best 10,
    words, an export, and refusals."""
    r = rng.random()
    text = rng.choice(texts)
    if r < 0.25:
        body = {"data": [text, rng.choice(["dot", "additive", "general", "multihead", "none"]), "greedy", 5, 1.0, 0]}
        return call_translate(client, json.dumps(body).encode()).kind
    if r < 0.32:
        return call_translate(client, json.dumps({"data": [LONG, "additive", "beam", 10, 1.0, 0]}).encode()).kind
    if r < 0.40:                                            # refusals, over the API and the page
        bad = rng.choice([{"data": ["x" * 600, "dot", "greedy", 5, 1.0, 0]},
                          {"data": ["Hallo", "dot", "beam", 11, 1.0, 0]}, {"data": ["", "dot", "greedy", 5, 1.0, 0]},
                          {"data": ["Hallo", "bogus", "greedy", 5, 1.0, 0]}, {"data": ["Hallo"]}])
        call_translate(client, json.dumps(bad).encode())
        return call_event(client, server.compare_index, compare_data("ä " * 200), session).kind
    if r < 0.45:
        out = call_event(client, server.compare_index, compare_data(LONG, "beam", 10, 10), session)
    elif r < 0.60:
        out = call_event(client, server.compare_index, compare_data(text, words=True), session)
    else:
        out = call_event(client, server.compare_index, compare_data(text), session)
    if out.kind == "ok":
        call_event(client, server.words_index, [None, r < 0.75], session)
        if r >= 0.9:
            call_event(client, server.export_index, [None, r >= 0.95], session)
    return out.kind


def soak(server: Server, n: int, warmup: int, every: int, one_session: bool, texts: list[str], seed: int) -> dict:
    """RSS at rest every ``every`` requests (after a pause long enough for the server to hand
    freed memory back: what the requests left behind), and the peak over the measured requests
    (what they used while they ran)."""
    rng = random.Random(seed)
    session = new_session(rng)
    samples, kinds = [], {}
    with httpx.Client(base_url=server.url, timeout=120) as client:
        for i in range(warmup):
            soak_request(client, server, rng, session if one_session else new_session(rng), texts)
        samples.append((0, server.rss_at_rest()))
        server.reset_peak()
        for i in range(1, n + 1):
            kind = soak_request(client, server, rng, session if one_session else new_session(rng), texts)
            kinds[kind] = kinds.get(kind, 0) + 1
            if i % every == 0:
                samples.append((i, server.rss_at_rest()))
    return {"rss": samples, "growth": samples[-1][1] - samples[0][1], "max": max(m for _, m in samples),
            "peak": server.rss_mb("VmHWM"), "outcomes": kinds}


def per_session(server: Server, n: int, n_beam: int) -> list[tuple[str, int, float, float]]:
    """RSS added per new session, by kind of request: (kind, sessions, RSS before, RSS after)."""
    rng = random.Random(0)
    out = []
    with httpx.Client(base_url=server.url, timeout=300) as client:
        for _ in range(10):
            call_event(client, server.compare_index, compare_data("Es sieht nach Regen aus."), new_session(rng))
        api = json.dumps({"data": ["Es sieht nach Regen aus.", "dot", "greedy", 5, 1.0, 0]}).encode()
        for kind, count, request in [
            ("/translate", n, lambda: call_translate(client, api, timeout=300)),
            ("compare, greedy", n, lambda: call_event(client, server.compare_index,
                                                      compare_data("Es sieht nach Regen aus."), new_session(rng))),
            ("compare, beam 10, n-best 10, 28 words", n_beam,
             lambda: call_event(client, server.compare_index, compare_data(LONG, "beam", 10, 10), new_session(rng),
                                timeout=300))]:
            before = server.rss_mb()
            for _ in range(count):
                request()
            time.sleep(serving_sweep_s() + 1)         # the sweep hands free memory back
            out.append((kind, count, before, server.rss_mb()))
    return out


def serving_sweep_s() -> float:
    from demo import serving

    return serving.SWEEP_EVERY_S


# ---- threads -------------------------------------------------------------------------------

def thread_safety(texts: list[str], threads: int = 8) -> dict:
    import numpy as np

    from demo import state
    from seq2seq.attention import VARIANTS

    tr, _, _ = state.load_translator()

    def run(text):
        r = state.translate(tr, text, list(VARIANTS))
        return [(v, h["text"], h["attention"]) for v, e in r["variants"].items() for h in e.get("hypotheses", [])]

    alone = [run(t) for t in texts]
    with ThreadPoolExecutor(threads) as pool:
        together = [f.result() for f in [pool.submit(run, t) for t in texts for _ in range(threads)]]
    differ = 0
    for k, out in enumerate(together):
        ref = alone[k // threads]
        same = all(a[0] == b[0] and a[1] == b[1] and ((a[2] is None and b[2] is None) or np.array_equal(a[2], b[2]))
                   for a, b in zip(ref, out)) and len(ref) == len(out)
        differ += not same
    return {"sentences": len(texts), "threads": threads, "runs": len(together), "differ": differ}


# ---- main ----------------------------------------------------------------------------------

def print_sessions(label: str, rows) -> None:
    for kind, count, before, after in rows:
        print(f"{label}{kind}: {count} new sessions, RSS {before:.0f} → {after:.0f} MB, "
              f"{(after - before) / count * 1024:+.0f} kB a session", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a few hundred fuzz inputs, short loops and soak")
    ap.add_argument("--only", default="fuzz,xss,huge,load,burst,sessions,soak,threads",
                    help="comma-separated phases")
    ap.add_argument("--before", action="store_true", help="also soak the page as launched before serving.py")
    ap.add_argument("--soak", default="new,one", help="soak patterns, in order: new (each request from a new "
                    "session), one (all in one session)")
    ap.add_argument("--data", type=Path, default=ROOT / "data", help="folder with test.tsv (sentences)")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    q = args.quick
    texts = sentences(args.data)
    print(f"{len(texts)} sentences; {'quick' if q else 'full'} run; load average {os.getloadavg()[0]:.1f}")

    if "threads" in only:
        print("threads:", thread_safety(texts[:50]), flush=True)
    if "fuzz" in only:
        n = 300 if q else 10_000
        print(f"fuzz, handlers in-process, {n} calls:", fuzz_handlers(n, args.seed), flush=True)

    server = Server()
    try:
        print(f"server RSS after start-up: {server.rss_mb():.0f} MB", flush=True)
        if "fuzz" in only:
            n = 300 if q else 10_000
            t0 = time.monotonic()
            counts = fuzz_api(server, n, args.seed)
            print(f"fuzz, /translate over HTTP, {n} calls in {time.monotonic() - t0:.0f} s: {counts}; "
                  f"RSS {server.rss_mb():.0f} MB", flush=True)
        if "huge" in only:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                for label, body in [("API", json.dumps({"data": ["x" * 1_000_000, "dot", "greedy", 5, 1.0, 0]})),
                                    ("compare event", json.dumps({"data": compare_data("x" * 1_000_000),
                                                                  "fn_index": server.compare_index,
                                                                  "session_hash": "huge"}))]:
                    path = "/gradio_api/call/translate" if label == "API" else "/gradio_api/queue/join"
                    times = []
                    for _ in range(5):
                        t0 = time.monotonic()
                        r = client.post(path, content=body.encode(), headers={"Content-Type": "application/json"})
                        times.append(time.monotonic() - t0)
                    print(f"1,000,000 characters through the {label}: HTTP {r.status_code} "
                          f"({r.json()['detail'][:60]}…) in {min(times):.3f}–{max(times):.3f} s over 5 calls", flush=True)
        if "xss" in only:
            modes = ["greedy"] if q else ["greedy", "beam+words"]
            t0 = time.monotonic()
            print(f"xss ({', '.join(modes)}):", run_xss(server, modes), f"in {time.monotonic() - t0:.0f} s", flush=True)
        if "load" in only:
            seconds = 20 if q else 120
            for what in ("compare", "translate"):
                r = closed_loop(server, what, 10, seconds, texts)
                print(f"closed loop, 10 users × {seconds} s, {what}: {r['requests']} requests, {r['per_s']:.2f}/s, "
                      f"p50 {r['p50']:.2f} s, p95 {r['p95']:.2f} s, p99 {r['p99']:.2f} s, outcomes {r['outcomes']}",
                      flush=True)
        if "burst" in only:
            r = burst(server, 100, texts, with_browser=True)
            print("burst of 100 compare requests:", json.dumps(r, default=str), flush=True)
        if "sessions" in only:
            print_sessions("", per_session(server, *((50, 10) if q else (100, 20))))
        if "soak" in only:
            n, warmup, every = (300, 100, 75) if q else (2000, 300, 500)
            for one in [p == "one" for p in args.soak.split(",")]:
                r = soak(server, n, warmup, every, one, texts, args.seed)
                label = "all in one session" if one else "each from a new session"
                print(f"soak, {n} mixed requests {label} after {warmup} warm-up: RSS "
                      + ", ".join(f"{i}: {m:.0f}" for i, m in r["rss"])
                      + f" MB; growth {r['growth']:+.1f} MB, max {r['max']:.0f} MB at rest; peak while "
                      f"the requests ran {r['peak']:.0f} MB; {r['outcomes']}", flush=True)
        errors = [line for line in server.log_text().splitlines() if "Traceback" in line]
        print(f"tracebacks in the server's log: {len(errors)}")
    finally:
        server.stop()

    if args.before and only & {"soak", "sessions"}:
        server = Server(before=True)
        try:
            if "sessions" in only:
                print_sessions("before serving.py: ", per_session(server, *((50, 10) if q else (100, 20))))
            if "soak" not in only:
                return
            n, warmup, every = (300, 100, 75) if q else (2000, 300, 500)
            r = soak(server, n, warmup, every, False, texts, args.seed)
            print(f"before serving.py: soak, {n} mixed requests each from a new session after {warmup} warm-up: RSS "
                  + ", ".join(f"{i}: {m:.0f}" for i, m in r["rss"])
                  + f" MB; growth {r['growth']:+.1f} MB; {r['outcomes']}", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
