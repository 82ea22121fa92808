"""Benchmark of the "Question the attention" tab: each view for a 12-word sentence and all five
variants, timed as the page runs it (models loaded by ``load_translator``, fp16 as the page decodes,
one torch thread, figures turned into the pixels the page sends).

Views: score (forced decoding of a given translation by every variant, table, log p plot,
heatmaps), difference α_A − α_B, continue from a prefix, knock-out, forced α_t, delete the word,
attribution (gradient × input and its heatmaps beside α), beam tree (one per variant, beam 5),
a node of the tree, export. Prints p50 and p90 over ``--repeat`` runs after one warm-up.

    python benchmarks/bench_question.py
    python benchmarks/bench_question.py --assets /tmp/tiny --repeat 3

Timings on a machine busy with other work are noisy: run before/after comparisons in one sitting.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SENTENCE = "Ich habe gestern Abend mit meinem Bruder in der Küche Kartoffeln geschält."   # 12 words
TARGET = "Yesterday evening I peeled potatoes in the kitchen with my brother."


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assets", type=Path, default=ROOT / "assets")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)

    from demo import question as q
    from demo.state import load_translator, translate
    from demo.views import results_html
    from demo.ui import configure_torch

    configure_torch(1)
    tr, _, fatal = load_translator(args.assets)
    if tr is None or fatal:
        raise SystemExit(f"models could not be loaded: {fatal}")
    variants = tr.variants
    print(f"{len(SENTENCE.split())}-word sentence, {len(tr.source_ids(SENTENCE))} pieces; "
          f"target {len(tr.tok.encode(TARGET))} pieces; variants: {', '.join(variants)}")
    state = {}

    def score():
        r = q.analyse(tr, SENTENCE, TARGET, variants)
        q.logprob_rows(r), q.forced_summary(r), q.logprob_plot(r), q.heatmaps(r)
        state["r"] = r

    def attribution():
        r, _, _ = q.attribution_view(tr, state["r"])
        q.attribution_pairs(r)
        state["ra"] = r

    def trees():
        for v in variants:
            state["tree"] = q.beam_tree_view(tr, SENTENCE, v, 5, 3)

    attention = [v for v in variants if tr.models[v].has_attention]
    views = {
        "score (forced, 5 variants)": score,
        "difference α_A − α_B": lambda: q.difference(state["r"], attention[0], attention[-1]),
        "continue from k = 3": lambda: q.continue_view(tr, state["r"], 3),
        "knock out 2 pieces": lambda: q.knock_out_view(tr, state["r"], [1, 4]),
        "force α_t (t = 3)": lambda: q.force_alpha_view(tr, state["r"], 3, 2),
        "delete a word": lambda: q.delete_word_view(tr, state["r"], 3),
        "attribution + heatmaps": attribution,
        "beam tree, 5 variants, beam 5": trees,
        "beam tree node": lambda: q.node_view(state["tree"]["tree"], 4),
        "export": lambda: q.export_question(state["ra"]),
        "compare page request (greedy)": lambda: results_html(translate(tr, SENTENCE, variants)),
    }
    print(f"{'view':42s} {'p50 s':>7s} {'p90 s':>7s}")
    for name, fn in views.items():
        fn()                                             # warm-up (first use imports matplotlib etc.)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        times.sort()
        p90 = times[min(len(times) - 1, round(0.9 * (len(times) - 1)))]
        print(f"{name:42s} {statistics.median(times):7.3f} {p90:7.3f}", flush=True)


if __name__ == "__main__":
    main()
