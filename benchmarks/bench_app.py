"""Benchmark of the web demo's main request.

One "full compare request" = what a click on "Translate and compare" runs on the server:
``demo.state.translate`` with all five variants and greedy decoding, then
``demo.views.results_html`` (summary, heatmaps encoded as PNG, step data, diagnostics).
Reports:

* p50 / p95 latency over sentences from the test split (demo/examples.tsv,
  and data/test.tsv pairs of 4–15 words when that file exists, see ``--data``),
* translation alone, for reference,
* a step change: in the browser (``--browser``: the page served on localhost and
  driven by Debian's chromium; the step view needs no server call),
* cold start: fresh ``python app.py`` processes, from their start to the page
  answered and then the first ``/translate`` call answered (wall and CPU
  seconds; see ``cold_start``), median of several, with a breakdown into parts,
  and the first compare request after it (start-up leaves matplotlib to that
  request or the page's load event),
* RSS after warm-up, after N requests, and the growth in between,
* last, the largest request the limits allow (time and peak RSS).

    python benchmarks/bench_app.py                       # shipped models in assets/
    python benchmarks/bench_app.py --data /work/train/data --browser
    python benchmarks/bench_app.py --assets /tmp/tiny --requests 200
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


DATA = ROOT / "data"


def sentences(limit: int = 200) -> list[str]:
    from demo.state import load_examples

    out = [s for s, _ in load_examples()]
    test = DATA / "test.tsv"
    if test.exists():
        for line in test.read_text(encoding="utf-8").splitlines():
            src = line.split("\t")[0]
            if 4 <= len(src.split()) <= 15 and src not in out:
                out.append(src)
            if len(out) >= limit:
                break
    return out


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


WORDS = True      # the page's default unit (``--unit``)
PIXEL_RATIO = None  # the screen's devicePixelRatio the maps are drawn for (``--pixel-ratio``); None: the default


def full_request(tr, text: str, method: str = "greedy", beam: int = 5, n_best: int = 1) -> dict:
    """What one click on "Translate and compare" runs on the server: translate, then the results
    block (summary, every heatmap drawn and encoded as PNG, step data, diagnostics)."""
    from demo import state, views
    from seq2seq.attention import VARIANTS

    result = state.translate(tr, text, list(VARIANTS), method, beam, n_best)
    if PIXEL_RATIO is None:
        views.results_html(result, WORDS)
    else:
        views.results_html(result, WORDS, PIXEL_RATIO)
    return result


def longest_text(tr, texts: list[str]) -> str:
    """Test sentences joined up to the character and piece caps: the input limit, near enough."""
    from seq2seq.translator import MAX_CHARS, MAX_PIECES

    text = ""
    for t in texts:
        longer = f"{text} {t}".strip()
        if len(longer) > MAX_CHARS or len(tr.tok.encode(longer)) > MAX_PIECES:
            break
        text = longer
    return text


COLD_SENTENCE = "Es sieht nach Regen aus."


def cold_start(assets: Path, runs: int = 5) -> list[float]:
    """Cold start, as a Space starts the app: ``runs`` fresh ``python app.py`` processes, each
    from its start to (1) the page answered (``GET /``, the HTML) and (2) the first ``/translate``
    call answered (``/gradio_api/call/translate`` and its result stream): everything it does
    before it can serve anyone, the HTTP server's start included. Each process gets an empty
    ``MPLCONFIGDIR`` (a fresh virtualenv or Space has no matplotlib font cache) and its own
    temp folder. Wall seconds, and the CPU seconds the process used by then (user + system,
    from /proc): on a shared machine the wall time mostly measures the other processes, the
    CPU time much less. One more run of app.py's steps in-process gives the parts, and one
    more the first compare request after start-up (the first to import matplotlib)."""
    from seq2seq import checkpoint as ckpt

    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    default = assets.resolve() == ckpt.ASSETS.resolve()
    served = []
    for _ in range(runs):
        answer = time_to_serve(env, assets)
        if answer is not None:
            served.append(answer)
    if served:
        page, call, cpu_page, cpu_call = (statistics.median(x) for x in zip(*served))
        print(f"cold start (python app.py, process start to the page answered and then the first /translate call "
              f"answered; empty MPLCONFIGDIR; {len(served)} of {runs} runs answered, median): page {page:.2f} s "
              f"(min {min(s[0] for s in served):.2f}, max {max(s[0] for s in served):.2f}), first /translate "
              f"answered {call:.2f} s (min {min(s[1] for s in served):.2f}, max {max(s[1] for s in served):.2f}); "
              f"CPU used by then {cpu_page:.2f} s and {cpu_call:.2f} s; load average {os.getloadavg()[0]:.1f}; "
              f"Python {sys.executable}")
    # app.py's steps: gc off while importing, demo before gradio (it skips gradio's stub writing)
    steps = ("import sys, time; sys.path.insert(0, %r); c = [(time.perf_counter(), time.process_time())]\n"
             "mark = lambda: c.append((time.perf_counter(), time.process_time()))\n"
             "import gc; gc.disable()\n"
             "import torch; mark()\n"
             "import demo, gradio; mark()\n"
             "from demo import serving; from demo.ui import build_demo; mark()\n"
             "serving.serve(build_demo(%r)); gc.freeze(); gc.enable(); mark()\n"
             "print(*[f'{b[0] - a[0]} {b[1] - a[1]}' for a, b in zip(c, c[1:])])") % (str(ROOT), str(assets))
    with tempfile.TemporaryDirectory(prefix="bench-mpl-") as mpl:
        fresh = {**env, "MPLCONFIGDIR": mpl}
        out = subprocess.run([sys.executable, "-c", steps], capture_output=True, text=True, check=True, env=fresh)
        parts = [float(x) for x in out.stdout.strip().splitlines()[-1].split()]
        models = ("import sys, time; sys.path.insert(0, %r)\n"
                  "import torch, demo, gradio; from demo.state import load_translator; from demo.ui import configure_torch\n"
                  "configure_torch(1)\n"
                  "t = time.process_time(); load_translator(%r); print(time.process_time() - t)") % (str(ROOT), str(assets))
        models_s = float(subprocess.run([sys.executable, "-c", models], capture_output=True, text=True, check=True,
                                        env=fresh).stdout.strip().splitlines()[-1])
    names = ("import torch", "import gradio", "the app's modules", "build_demo and serve")
    print("  parts (one more run, in-process; wall / CPU): " + ", ".join(
        f"{n} {parts[2 * i]:.2f} / {parts[2 * i + 1]:.2f} s" for i, n in enumerate(names))
        + f" (loading the models alone: {models_s:.2f} s CPU)")
    # start-up leaves matplotlib (demo/plots.py) to the first request or page load: what that costs
    build = "import app; demo = app.demo" if default else f"from demo.ui import build_demo; demo = build_demo({str(assets)!r})"
    first = ("import sys, time; sys.path.insert(0, %r)\n"
             "%s\n"
             "sys.path.insert(0, %r); from bench_app import full_request\n"
             "t = time.perf_counter(); full_request(demo.translator, %r); print(time.perf_counter() - t)") % (str(ROOT), build, str(ROOT / "benchmarks"), sentences(1)[0])
    with tempfile.TemporaryDirectory(prefix="bench-mpl-") as mpl:
        first_s = float(subprocess.run([sys.executable, "-c", first], capture_output=True, text=True, check=True,
                                       env={**env, "MPLCONFIGDIR": mpl}, cwd=ROOT).stdout.strip().splitlines()[-1])
    print(f"  the first compare request after start-up (it imports matplotlib and builds its font cache): "
          f"{1000 * first_s:.0f} ms")
    return [s[1] for s in served]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used (its threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_to_serve(env: dict[str, str], assets: Path, limit: float = 120.0) -> tuple[float, float, float, float] | None:
    """``python app.py --assets ASSETS`` from its start to (1) ``GET /`` answered with the page and
    (2) a ``/translate`` call answered: (page s, translate s, CPU s by the page, CPU s by the
    answer), or None (with the reason printed) if it does not answer within ``limit`` seconds.
    Until the server listens it is polled with bare TCP connections, so that the benchmark adds
    no page render to the start-up (Gradio's ``launch`` requests the page once itself)."""
    import json
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        env = {**env, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), "GRADIO_TEMP_DIR": tmp,
               "MPLCONFIGDIR": tmp}
        log = open(Path(tmp) / "app.log", "w+")
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "app.py", "--assets", str(assets)], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            while time.perf_counter() - t < limit and proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.02)
            with urllib.request.urlopen(f"{url}/", timeout=limit) as r:
                if r.status != 200 or b"<html" not in r.read(4096).lower():
                    raise OSError(f"GET / answered {r.status} without the page")
            page, cpu_page = time.perf_counter() - t, _cpu_seconds(proc.pid)
            body = json.dumps({"data": [COLD_SENTENCE, "dot", "greedy", 5, 1.0, 0]}).encode()
            req = urllib.request.Request(f"{url}/gradio_api/call/translate", body,
                                         {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=limit) as r:
                event = json.load(r)["event_id"]
            with urllib.request.urlopen(f"{url}/gradio_api/call/translate/{event}", timeout=limit) as r:
                stream = r.read().decode("utf-8")
            if "event: complete" not in stream or "translation" not in stream:
                raise OSError(f"the first /translate call failed: {stream[:300]}")
            return page, time.perf_counter() - t, cpu_page, _cpu_seconds(proc.pid)
        except (OSError, ValueError) as exc:
            log.seek(0)
            last = [line for line in log.read().splitlines() if line.strip()][-1:]
            print(f"  python app.py did not answer ({exc!r}); its last line: {last[0] if last else '-'}")
            return None
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()


@contextmanager
def compared_in_chromium(assets: Path, text: str):
    """The page served on localhost with one comparison of ``text`` run in Debian's chromium at
    1440×900: yields the playwright page once its step bar is there, or None when chromium or
    playwright is missing."""
    import socket

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        yield None
        return
    if not Path("/usr/bin/chromium").exists():
        yield None
        return
    from demo.ui import build_demo

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = build_demo(assets)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                            enable_monitoring=False)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url)
            page.locator("#source-text textarea").fill(text)
            page.locator("#run").click()
            page.wait_for_selector("#stepbar", timeout=120_000)
            try:
                yield page
            finally:
                browser.close()
    finally:
        demo.close()


def browser_step_latency(assets: Path, text: str, steps: int = 40) -> tuple[list[float], ...] | None:
    """Serve the page on localhost, run one comparison in Debian's chromium, then time ``2 * steps``
    step changes (next / prev clicks). Of ``steps`` of them: from the click to the next frame
    painted (which waits for the frame's turn, up to 16.7 ms at 60 Hz) and the click's own script
    (step view and every heatmap's mark updated); of the other ``steps``: the script and the
    style and layout it causes, forced at once (``offsetHeight``), the work a frame must fit
    (painting aside). None when chromium or playwright is missing."""
    with compared_in_chromium(assets, text) as page:
        if page is None:
            return None
        ms = page.evaluate("""async (n) => {
            const out = [], sync = [], laid = [], next = document.querySelector('#stepbar .next'), prev = document.querySelector('#stepbar .prev');
            const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
            await frame();
            for (let i = 0; i < 2 * n; i++) {
                const t0 = performance.now();
                (i % 6 < 3 ? next : prev).click();
                const t1 = performance.now();
                if (i % 2) {          // every other change: its style and layout, forced at once
                    document.body.offsetHeight;
                    laid.push(performance.now() - t0);
                } else sync.push(t1 - t0);
                await frame();
                if (!(i % 2)) out.push(performance.now() - t0);
            }
            return [out, sync, laid]; }""", steps)
    return tuple([m / 1000 for m in x] for x in ms)


def main(argv=None) -> int:
    from seq2seq import checkpoint as ckpt

    global DATA
    cache = tempfile.TemporaryDirectory(prefix="bench-gradio-")
    os.environ["GRADIO_TEMP_DIR"] = cache.name

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--assets", default=str(ckpt.ASSETS))
    p.add_argument("--data", default=str(DATA), help="folder with test.tsv (sentences to time)")
    p.add_argument("--requests", type=int, default=200, help="requests for the RSS measurement")
    p.add_argument("--timed", type=int, default=60, help="requests timed for p50/p95")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--no-cold-start", action="store_true")
    p.add_argument("--cold-start-only", action="store_true")
    p.add_argument("--cold-runs", type=int, default=5, help="fresh python app.py processes timed for the cold start")
    p.add_argument("--no-largest", action="store_true", help="skip the largest request (run last)")
    p.add_argument("--browser", action="store_true", help="also time step changes in chromium")
    p.add_argument("--unit", choices=("words", "pieces"), default="words", help="the unit the requests show")
    p.add_argument("--pixel-ratio", type=float, default=None,
                   help="draw the maps for a screen of this devicePixelRatio (default: the app's default, 2)")
    args = p.parse_args(argv)
    global WORDS, PIXEL_RATIO
    WORDS = args.unit == "words"
    PIXEL_RATIO = args.pixel_ratio
    assets = Path(args.assets)
    DATA = Path(args.data)

    if not args.no_cold_start:
        cold_start(assets, args.cold_runs)
    if args.cold_start_only:
        return 0

    import torch

    from demo import state
    from demo.ui import configure_torch
    from seq2seq.attention import VARIANTS

    configure_torch(1)                # as build_demo does
    tr, problems, fatal = state.load_translator(assets)
    gc.freeze()                       # as app.py does once it has started
    if fatal or tr is None:
        print(f"cannot load models: {fatal}", file=sys.stderr)
        return 2
    for msg in problems.values():
        print(f"note: {msg}")
    texts = sentences()
    variants = list(VARIANTS)
    print(f"{len(texts)} test-split sentences, variants {', '.join(tr.variants)}, torch threads "
          f"{torch.get_num_threads()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    for i in range(args.warmup):
        full_request(tr, texts[i % len(texts)])
    rss_warm = rss_mb()

    full, pieces, translate = [], [], []
    for i in range(args.timed):
        text = texts[i % len(texts)]
        t0 = time.perf_counter()
        state.translate(tr, text, variants)
        translate.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = full_request(tr, text)
        full.append(time.perf_counter() - t0)
        pieces.append(len(result["source_pieces"]))

    twelve = sorted(texts, key=lambda t: abs(len(t.split()) - 12))
    t12 = []
    for _ in range(max(5, args.timed // 6)):
        t0 = time.perf_counter()
        full_request(tr, twelve[0])
        t12.append(time.perf_counter() - t0)

    ms = lambda xs, q: 1000 * percentile(xs, q)                                         # noqa: E731
    ratio = "default" if PIXEL_RATIO is None else f"{PIXEL_RATIO:g}×"
    print(f"full compare request (5 variants, greedy, {args.unit}, summary + heatmaps as PNG at the {ratio} pixel "
          f"ratio + step data + diagnostics): "
          f"p50 {ms(full, .5):.0f} ms, p95 {ms(full, .95):.0f} ms over {len(full)} requests "
          f"({statistics.mean(pieces):.1f} source pieces on average)")
    print(f"  12-word sentence ({len(twelve[0].split())} words): p50 {ms(t12, .5):.0f} ms")
    print(f"  of which translation (5 models, no drawing): p50 {ms(translate, .5):.0f} ms")

    done = args.warmup + 2 * args.timed + len(t12)
    # RSS every 100 requests: growth that levels off is the allocator reaching its working set
    # (longer sentences need bigger buffers once); growth that keeps on is a leak
    trajectory = []
    for i in range(max(0, args.requests - done)):
        full_request(tr, texts[i % len(texts)])
        if (done + i + 1) % 100 == 0:
            trajectory.append(f"{done + i + 1}: {rss_mb():.0f}")
    rss_end = rss_mb()
    print(f"RSS: {rss_warm:.0f} MB after warm-up, {rss_end:.0f} MB after {max(args.requests, done)} requests "
          f"(growth {rss_end - rss_warm:+.0f} MB)")
    if trajectory:
        print(f"  RSS (MB) after N requests: {', '.join(trajectory)}")
    if args.browser:
        for what, text in (("12-word sentence", twelve[0]), ("input limit", longest_text(tr, texts))):
            timed = browser_step_latency(assets, text)
            if timed is None:
                print("step change in the browser: not measured (no playwright or /usr/bin/chromium)")
                break
            paint, script, laid = timed
            print(f"step change in the browser (no server call; {len(paint)} + {len(laid)} changes, {what}, "
                  f"{len(text)} characters): click to the next painted frame p50 {ms(paint, .5):.1f} ms, p95 "
                  f"{ms(paint, .95):.1f} ms; the click's script alone p50 {ms(script, .5):.1f} ms, p95 "
                  f"{ms(script, .95):.1f} ms; script, style and layout p50 {ms(laid, .5):.1f} ms, p95 "
                  f"{ms(laid, .95):.1f} ms")
    if not args.no_largest:
        largest_request(tr, texts)
    cache.cleanup()
    return 0


def largest_request(tr, texts: list[str]) -> None:
    """The largest request the limits allow, near enough: test sentences joined up to the
    character and piece caps, beam search of the greatest width with every hypothesis
    kept, all five variants, the whole results block. Run last: it raises the process's
    peak RSS, which it reports."""
    import resource

    from seq2seq.translator import MAX_BEAM, MAX_PIECES

    text = longest_text(tr, texts)
    t0 = time.perf_counter()
    result = full_request(tr, text, "beam", MAX_BEAM, MAX_BEAM)
    took = time.perf_counter() - t0
    if len(tr.tok.encode(text)) < MAX_PIECES // 2:
        print(f"note: only {len(texts)} sentences to join (no test.tsv?), so the largest request below is "
              "well under the limits")
    out = [len(e["hypotheses"][0]["pieces"]) for e in result["variants"].values() if "hypotheses" in e]
    print(f"largest request ({len(text)} characters, {len(result['source_pieces'])} pieces, beam {MAX_BEAM} with "
          f"{MAX_BEAM} hypotheses kept, 5 variants, best outputs {min(out)}–{max(out)} pieces): {took:.1f} s; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, {rss_mb():.0f} MB after it")


if __name__ == "__main__":
    sys.exit(main())
