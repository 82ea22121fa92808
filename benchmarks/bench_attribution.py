"""Time and memory of gradient × input for all five shipped variants, as the Question tab asks for it.

    python benchmarks/bench_attribution.py                      # both cases
    python benchmarks/bench_attribution.py --case limits        # one of them
    python benchmarks/bench_attribution.py --rows 16 48         # rows per pass (default: the library's)

Each case runs in a fresh process with the app's settings (fp16 models, one intra-op thread) and
goes through ``Translator.attribute``, which runs the variants two at a time. Its figures: wall
time for the five variants, CPU time of the process, and peak resident memory above idle (the
models loaded), sampled at 20 Hz and read from ru_maxrss. The load average is printed with them:
the machine is shared.

* paragraph: a German paragraph of 105 pieces forced to its English translation of 96 (+ </s>).
* limits: a source of 120 pieces (the most ``prepare`` accepts) and a target of 149 pieces + </s>
  (``MAX_OUTPUT``). ``prepare_target`` caps one text at 120 pieces, so the target is the
  paragraph's translation twice over, cut to 149.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ("Wir wollten gerade ins Ausland fahren, als unser Sohn krank wurde. Der See bildet eine natürliche Grenze "
          "zwischen den Ländern. Sie drehte das Licht auf und musterte ihre Umgebung. Ich habe vor kurzem im "
          "Fernsehen eine Dokumentation über die Weltraumstation gesehen. Der Zug kommt um acht Uhr in Berlin an. "
          "Mein älterer Bruder hat mir gestern Abend ein altes Buch über die Geschichte unserer Stadt geschenkt.")
TARGET = ("We were just about to go abroad when our son was taken ill. The lake forms a natural boundary between the "
          "countries. She switched on the light and examined her surroundings. I recently saw a documentary on TV "
          "about the space station. The train arrives in Berlin at eight o'clock. Yesterday my older brother gave "
          "me an old book about the history of our town.")
LIMIT_SOURCE = SOURCE + " Um 7:42 fährt er heute nach Köln."
CASES = ("paragraph", "limits")


def texts(tr, case: str):
    """(source, target) Sources of ``case``, with their sizes checked."""
    from seq2seq.translator import MAX_OUTPUT, MAX_PIECES

    if case == "paragraph":
        source, target = tr.prepare(SOURCE), tr.prepare_target(TARGET)
        assert (len(source.ids), len(target.ids)) == (105, 96), (len(source.ids), len(target.ids))
        return source, target
    source, first = tr.prepare(LIMIT_SOURCE), tr.prepare_target(TARGET)
    assert len(source.ids) == MAX_PIECES, len(source.ids)
    n = MAX_OUTPUT - 1
    ids, pieces = (first.ids * 2)[:n], (first.pieces * 2)[:n]
    return source, dataclasses.replace(first, ids=ids, pieces=pieces)


def rss_mb() -> float:
    """Resident memory now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_during(fn):
    """(fn(), peak resident MB while it ran): the process's high-water mark where fn raised it,
    else the highest of samples taken at 20 Hz (loading the models may have set the mark)."""
    samples, done = [rss_mb()], threading.Event()

    def sample():
        while not done.wait(0.05):
            samples.append(rss_mb())

    mark, sampler = max_rss_mb(), threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out = fn()
    finally:
        done.set()
        sampler.join()
    return out, max_rss_mb() if max_rss_mb() > mark else max(samples + [rss_mb()])


def run_one(case: str, rows: int | None) -> dict:
    sys.path.insert(0, str(ROOT))
    import torch

    from seq2seq import attribution
    if rows:
        attribution.ROWS_PER_PASS = rows           # read when gradient_x_input is called

    from seq2seq.translator import Translator

    torch.set_num_threads(1)                       # as the app (demo/ui.py, configure_torch)
    tr = Translator(ROOT / "assets", half=True)
    source, target = texts(tr, case)
    idle = rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    out, peak = peak_during(lambda: tr.attribute(source, target, tr.variants))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert all(a.shape == (len(target.ids) + 1, len(source.ids)) for a in out.values())
    return {"case": case, "rows_per_pass": attribution.ROWS_PER_PASS, "source_pieces": len(source.ids), "target_rows": len(target.ids) + 1,
            "variants": len(out), "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "peak_mb_above_idle": round(peak - idle, 1), "load_average": os.getloadavg()[0]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", choices=CASES, nargs="*", default=list(CASES))
    p.add_argument("--rows", type=int, nargs="*", default=[0], help="rows per backward pass; 0: the library's")
    p.add_argument("--one", choices=CASES, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.rows[0])))
        return 0
    for case in args.case:
        for rows in args.rows:
            out = subprocess.run([sys.executable, __file__, "--one", case, "--rows", str(rows)], capture_output=True,
                                 text=True, check=True)
            print(out.stdout.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
