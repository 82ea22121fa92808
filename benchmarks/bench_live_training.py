"""Does the compare page stay responsive while a visitor trains a toy model live?

Times the page's main request (``full_request`` of bench_app.py: all five variants
translate and draw, the diagnostics, the PNG encoding) in one process, as the
server runs it, three times in one sitting:

1. idle,
2. while a live training runs in another thread, exactly as the Toy tasks tab runs it
   (``demo.toy_tab.live_train``: training steps, the probe, and the drawing of every
   view); a training that ends is followed by the next one, so one is always running,
3. idle again (how much the machine's own load drifted meanwhile).

Prints p50 and p95 of each and the ratio busy p50 / idle p50 (target ≤ 2).

    python benchmarks/bench_live_training.py                 # shipped models in assets/
    python benchmarks/bench_live_training.py --timed 40 --task reverse --variant multihead
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_app import full_request, percentile, sentences  # noqa: E402


def timed(request, texts: list[str], n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        request(texts[i % len(texts)])
        out.append(time.perf_counter() - t0)
    return out


def line(name: str, xs: list[float]) -> str:
    return f"{name:28s} p50 {1000 * percentile(xs, 0.5):7.1f} ms   p95 {1000 * percentile(xs, 0.95):7.1f} ms   (n={len(xs)})"


def main(argv=None) -> int:
    import tempfile

    from seq2seq import checkpoint as ckpt
    from seq2seq import toy
    from seq2seq.attention import VARIANTS

    cache = tempfile.TemporaryDirectory(prefix="bench-gradio-")
    os.environ["GRADIO_TEMP_DIR"] = cache.name
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--assets", default=str(ckpt.ASSETS))
    p.add_argument("--timed", type=int, default=30, help="requests timed in each phase")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--task", choices=toy.TASKS, default="copy")
    p.add_argument("--variant", choices=list(VARIANTS), default="additive")
    args = p.parse_args(argv)

    import torch

    from demo import state, toy_tab
    from demo.ui import configure_torch

    configure_torch(1)                            # as build_demo does
    tr, problems, fatal = state.load_translator(Path(args.assets))
    if fatal or tr is None:
        print(f"cannot load models: {fatal}", file=sys.stderr)
        return 2
    texts = sentences()

    def request(text):
        return full_request(tr, text)

    print(f"{len(texts)} sentences, variants {', '.join(tr.variants)}, torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    timed(request, texts, args.warmup)
    idle = timed(request, texts, args.timed)

    trainer = toy.LiveTrainer()
    stop, views, runs = threading.Event(), [0], [0]

    def train_forever():
        seed = 0
        while not stop.is_set():
            gen = toy_tab.live_train(trainer, args.task, args.variant, seed)
            for _ in gen:
                views[0] += 1
                if stop.is_set():
                    trainer.stop(None)
            runs[0] += 1
            seed += 1

    th = threading.Thread(target=train_forever, daemon=True)
    th.start()
    while views[0] < 2:                           # training has started
        time.sleep(0.05)
    t0 = time.monotonic()
    busy = timed(request, texts, args.timed)
    seconds = time.monotonic() - t0
    stop.set()
    th.join(60)
    idle_again = timed(request, texts, args.timed)

    print(line("idle", idle))
    print(line(f"during live training", busy))
    print(line("idle again", idle_again))
    print(f"live training: {runs[0]} run(s), {views[0]} views streamed in {seconds:.0f} s "
          f"({args.task}, {args.variant})")
    base = percentile(idle + idle_again, 0.5)
    print(f"p50 during live training / idle p50 (both idle phases): {percentile(busy, 0.5) / base:.2f} (target ≤ 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
