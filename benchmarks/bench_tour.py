"""Time each tour step's link through the Translate tab's own permalink handler (``on_link``):
parse the query, translate with the step's variants, draw the maps and the results markup.

    python benchmarks/bench_tour.py [--repeats 3]

Prints one line per step: the first request and the median of the repeats, in seconds."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs

import gradio as gr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from demo import about, state, tour, ui
from seq2seq import checkpoint as ckpt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ui.configure_torch(1)
    tr, _, fatal = state.load_translator(ckpt.ASSETS)
    if fatal:
        raise SystemExit(fatal)
    with gr.Blocks():
        tab = ui.build_translate_tab(tr, about.load_cards(ckpt.ASSETS), state.model_hashes(ckpt.ASSETS))
    on_link = tab["link"][0]
    for step in tour.served_steps(state.directions(tr)):
        request = SimpleNamespace(query_params={k: v[0] for k, v in parse_qs(step.permalink()[1:]).items()})
        times = []
        for _ in range(1 + args.repeats):
            start = time.perf_counter()
            out = on_link(request)
            times.append(time.perf_counter() - start)
        shown = next((v for k, v in out.items() if getattr(k, "elem_id", None) == "results"), "")
        assert shown, f"{step.key}: nothing drawn"
        print(f"{step.key:12s} variants={len(step.variants)}  first {times[0]:.3f} s  "
              f"median of {args.repeats} {statistics.median(times[1:]):.3f} s")


if __name__ == "__main__":
    main()
