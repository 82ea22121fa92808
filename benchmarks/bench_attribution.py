"""Time and memory of gradient × input for all five shipped variants on a long input.

    python benchmarks/bench_attribution.py                  # rows in passes (today) and all rows at once
    python benchmarks/bench_attribution.py --rows 16 32     # other pass sizes

Each setting runs in a fresh process: the figures are its wall time for the five variants one
after another and its peak resident memory above what it held before (ru_maxrss). The input is a
German paragraph repeated to about 105 pieces, forced to an English paragraph of about 96 pieces,
as issue-sized as the page allows.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ("Wir wollten gerade ins Ausland fahren, als unser Sohn krank wurde. Der See bildet eine natürliche Grenze "
          "zwischen den Ländern. Sie drehte das Licht auf und musterte ihre Umgebung. Ich habe vor kurzem im "
          "Fernsehen eine Dokumentation über die Weltraumstation gesehen. Der Zug kommt um acht Uhr in Berlin an.")
TARGET = ("We were just about to go abroad when our son was taken ill. The lake forms a natural boundary between the "
          "countries. She switched on the light and examined her surroundings. I recently saw a documentary on TV "
          "about the space station. The train arrives in Berlin at eight o'clock.")


def run_one(rows: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import torch

    from seq2seq.translator import Translator

    torch.set_num_threads(1)
    tr = Translator(ROOT / "assets", half=True)
    source, target = tr.prepare(SOURCE), tr.prepare_target(TARGET)
    from seq2seq import attribution

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    for v in tr.variants:
        model = tr.models[v]
        ids = target.ids + [3]
        if rows:
            attribution.gradient_x_input(model, source.ids, ids, rows_per_pass=rows)
        else:
            attribution.gradient_x_input(model, source.ids, ids, rows_per_pass=len(ids))   # all rows at once
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows_per_pass": rows or "all", "source_pieces": len(source.ids), "target_pieces": len(target.ids) + 1,
            "seconds": round(seconds, 2), "peak_mb_above_start": round(peak - before, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, nargs="*", default=[16, 0], help="rows per pass; 0: all rows at once")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one)))
        return 0
    for rows in args.rows:
        out = subprocess.run([sys.executable, __file__, "--one", str(rows)], capture_output=True, text=True, check=True)
        print(out.stdout.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
