"""The sampling temperature the page starts at, chosen on dev: corpus chrF of ancestral
sampling at each temperature of a grid, over dev sentences, for every shipped variant.

    python scripts/choose_temperature.py --dev data/dev.tsv [--dev data/tatoeba_dev.tsv] [--n 200]

Prints chrF per (temperature, variant), the temperature with the best mean over variants, and
the one chosen: the highest whose mean is within ``TOLERANCE`` of that best.
``DecodingSettings.temperature`` (seq2seq/translator.py) holds the chosen value.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sacrebleu.metrics import CHRF  # noqa: E402

from demo import state  # noqa: E402
from seq2seq import checkpoint as ckpt  # noqa: E402

GRID = (0.1, 0.3, 0.5, 0.7, 1.0)
TOLERANCE = 2.0     # chrF points: the highest temperature this close to the best is chosen, since
                    # the lowest is all but greedy and sampling is there to show other outputs


def read_pairs(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        src, _, ref = line.partition("\t")
        if src.strip() and ref.strip():
            pairs.append((src.strip(), ref.strip()))
    return pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dev", type=Path, action="append", required=True, help="source<TAB>reference file(s)")
    ap.add_argument("--n", type=int, default=200, help="sentences drawn from each file")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--assets", type=Path, default=ckpt.ASSETS)
    args = ap.parse_args()
    tr, problems, fatal = state.load_translator(args.assets)
    if fatal or tr is None:
        sys.exit(fatal or "no models")
    rng = random.Random(0)
    pairs = []
    for path in args.dev:
        rows = read_pairs(path)
        pairs += rng.sample(rows, min(args.n, len(rows)))
    refs = [r for _, r in pairs]
    print(f"{len(pairs)} dev sentences from {', '.join(str(p) for p in args.dev)}; seeds 0..{args.seeds - 1}")
    mean = {}
    for temp in GRID:
        scores = {}
        for v in tr.variants:
            s = 0.0
            for seed in range(args.seeds):
                hyps = [tr.translate_many(src, [v], "sample", temperature=temp, seed=seed).translations[v].texts[0]
                        for src, _ in pairs]
                s += CHRF().corpus_score(hyps, [refs]).score
            scores[v] = s / args.seeds
        mean[temp] = sum(scores.values()) / len(scores)
        print(f"T = {temp:<4}  " + "  ".join(f"{v} {x:5.1f}" for v, x in scores.items()) + f"  mean {mean[temp]:5.1f}",
              flush=True)
    top = max(mean.values())
    print(f"best: T = {max(mean, key=mean.get)}; chosen: T = {max(t for t in GRID if mean[t] >= top - TOLERANCE)}")


if __name__ == "__main__":
    main()
