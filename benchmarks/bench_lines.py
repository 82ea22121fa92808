"""Benchmark of the line view and the crosshair in the page (demo/page.js): no server call.

Serves the page on localhost with the shipped models, runs one comparison of all five variants
in Debian's chromium, then times ``--hovers`` events of each kind: step changes (prev / next
clicks; this part runs on a checkout from before the line view too, for a before/after), hovers
(a ``pointerover`` on a line-view token, source and output in turn) with step t's lines and
with every step's, and crosshair moves (a ``pointermove`` over a map cell). For each it prints
p50 / p95 of the handler's script alone, of the script plus the style and layout it causes
(forced by reading a layout value), and of the time to the next painted frame (which includes
waiting for that frame).

    python benchmarks/bench_lines.py                     # a 12-word sentence
    python benchmarks/bench_lines.py --text "…" --hovers 200
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_app import compared_in_chromium  # noqa: E402  (benchmarks/, the script's own folder)

TWELVE_WORDS = "Mein Bruder und ich haben gestern im Garten einen kleinen Baum gepflanzt."

# [script, script + style and layout, to the next frame] in ms for each of n events made by make(k).
TIME = """async ([n, kind]) => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    const toks = [...document.querySelectorAll('#cell-dot .lines .ltok')];
    const img = document.querySelector('#cell-dot img.heatmap');
    const g = JSON.parse(document.querySelector('.results').dataset.steps).variants.dot.map;
    const next = document.querySelector('#stepbar .next'), prev = document.querySelector('#stepbar .prev');
    const make = (k) => {
        if (kind === 'step') return [k % 6 < 3 ? next : prev, new MouseEvent('click', {bubbles: true})];
        if (kind === 'hover') return [toks[k % toks.length], new PointerEvent('pointerover', {bubbles: true})];
        const r = img.getBoundingClientRect(), t = k % g.rows, i = (k * 7) % g.cols;
        return [img, new PointerEvent('pointermove', {bubbles: true,
            clientX: r.left + (g.left + (i + 0.5) * g.cw) * r.width, clientY: r.top + (g.top + (t + 0.5) * g.ch) * r.height})];
    };
    const out = [[], [], []];
    await frame();
    for (let k = 0; k < n; k++) {
        const [el, ev] = make(k);
        const t0 = performance.now();
        el.dispatchEvent(ev);
        out[0].push(performance.now() - t0);
        void document.body.offsetHeight;
        out[1].push(performance.now() - t0);
        await frame();
        out[2].push(performance.now() - t0);
    }
    return out; }"""


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def main(argv=None) -> int:
    from seq2seq import checkpoint as ckpt

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--assets", default=str(ckpt.ASSETS))
    p.add_argument("--text", default=TWELVE_WORDS)
    p.add_argument("--hovers", type=int, default=100)
    args = p.parse_args(argv)
    os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="bench-lines-")
    with compared_in_chromium(Path(args.assets), args.text) as page:
        if page is None:
            print("not measured: no playwright or no /usr/bin/chromium")
            return 1
        page.wait_for_selector("#cell-dot img.heatmap", timeout=120_000)
        page.wait_for_timeout(500)
        lined = page.locator("#cell-dot .lines svg").count() > 0          # the code before it had none
        shape = page.evaluate("""() => { const d = JSON.parse(document.querySelector('.results').dataset.steps);
            return [d.cols.length, d.steps]; }""")
        print(f"{len(args.text.split())} words ({shape[0]} source words, up to {shape[1]} output words), "
              f"5 variants, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        for what, kind, all_steps in (("step change (prev / next)", "step", False),
                                      ("hover, step t's lines", "hover", False),
                                      ("hover, every step's lines", "hover", True),
                                      ("crosshair move", "cross", False)):
            if kind != "step" and not lined:
                print(f"{what}: no line view on this page")
                continue
            if lined:
                page.locator("#all-steps").set_checked(all_steps)
            lines = page.locator(".cell .lines line").count()
            ms = page.evaluate(TIME, [args.hovers, kind])
            cols = ", ".join(f"{name} p50 {percentile(xs, .5):.2f} ms, p95 {percentile(xs, .95):.2f} ms"
                             for name, xs in zip(("script", "script + style + layout", "to the next frame"), ms))
            print(f"{what} ({len(ms[0])} events, {lines} lines drawn): {cols}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
