"""Do candidate models meet the targets for replacing the shipped ones? Reads both sets of cards.

The two-way models ship only when their cards, written by ``python -m seq2seq evaluate --variant all
--beam 5 --write-cards`` in each direction, meet these targets against today's cards (docs/training.md,
"Both directions"):

- German → English, Tatoeba test: the best variant ≥ 55 chrF, and no variant more than 1.0 below its
  shipped card;
- English → German, Tatoeba test: the best variant ≥ 50;
- every attention variant above ``none``, in both directions and on both test sets, by a wider margin
  on sources of 10 words or more than on all;
- German → English, Ding test: every variant within 1.0 chrF of its shipped card (or above it);
- English → German, Ding test: reported.

    python scripts/check_targets.py --candidate ../train/assets            # against assets/
    python scripts/check_targets.py --candidate ../train/assets --markdown  # the table for the README

Prints one row per target with the measured figures; exits 0 when all are met, 1 when one is not,
2 when a card is missing or lacks a figure.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.about import load_cards, tests_by_direction  # noqa: E402
from seq2seq.attention import VARIANTS  # noqa: E402
from seq2seq.translator import direction_name  # noqa: E402

BEAM = 5
DE_EN_TATOEBA_BEST = 55.0
EN_DE_TATOEBA_BEST = 50.0
MAX_DROP = 1.0                                    # chrF a variant may lose against its shipped card
CORPORA = {"Ding": (), "Tatoeba": ("tatoeba",)}   # where each test set sits in a card's test result


class MissingFigure(Exception):
    pass


def chrf(cards: dict, variant: str, direction: str, corpus: str, subset: str = "all") -> float:
    """A card's test chrF, at beam 5, for one direction, corpus and subset ("all" or "min10words")."""
    test = tests_by_direction(cards.get(variant)).get(direction)
    if test is None:
        raise MissingFigure(f"{variant}: no {direction_name(direction)} test in its card")
    if test.get("beam") != BEAM:
        raise MissingFigure(f"{variant}: its {direction_name(direction)} test is at beam {test.get('beam')}, "
                            f"not {BEAM}")
    d = test
    for key in (*CORPORA[corpus], subset, "chrf"):
        d = d.get(key) if isinstance(d, dict) else None
    if not isinstance(d, (int, float)):
        raise MissingFigure(f"{variant}: no {direction_name(direction)} {corpus} {subset} chrF in its card")
    return float(d)


def check(candidate: dict, shipped: dict) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) rows; ``met`` is None for a figure that is only reported."""
    rows = []
    for direction, target in (("de-en", DE_EN_TATOEBA_BEST), ("en-de", EN_DE_TATOEBA_BEST)):
        scores = {v: chrf(candidate, v, direction, "Tatoeba") for v in VARIANTS}
        best = max(scores, key=scores.get)
        rows.append((f"{direction_name(direction)} Tatoeba test, best variant ≥ {target:g}",
                     f"{best} {scores[best]:.2f}", scores[best] >= target))
    for corpus in CORPORA:
        for v in VARIANTS:
            new, old = chrf(candidate, v, "de-en", corpus), chrf(shipped, v, "de-en", corpus)
            rows.append((f"{direction_name('de-en')} {corpus} test, {v} ≥ shipped − {MAX_DROP:g}",
                         f"{new:.2f} (shipped {old:.2f})", new >= old - MAX_DROP))
    for direction in ("de-en", "en-de"):
        for corpus in CORPORA:
            base = {s: chrf(candidate, "none", direction, corpus, s) for s in ("all", "min10words")}
            for v in VARIANTS:
                if v == "none":
                    continue
                margin = {s: chrf(candidate, v, direction, corpus, s) - base[s] for s in base}
                rows.append((f"{direction_name(direction)} {corpus} test, {v} above none, wider on ≥ 10 words",
                             f"{margin['all']:+.2f} all, {margin['min10words']:+.2f} on ≥ 10 words",
                             0 < margin["all"] < margin["min10words"]))
    for v in VARIANTS:
        rows.append((f"{direction_name('en-de')} Ding test, {v}",
                     f"{chrf(candidate, v, 'en-de', 'Ding'):.2f}", None))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidate", type=Path, required=True, help="assets folder of the new models, cards written")
    ap.add_argument("--shipped", type=Path, default=ROOT / "assets", help="assets folder of today's models")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args(argv)
    try:
        rows = check(load_cards(args.candidate), load_cards(args.shipped))
    except MissingFigure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    mark = {True: "met", False: "NOT met", None: "reported"}
    if args.markdown:
        print("| target | measured | |\n|---|---|---|")
    for target, measured, met in rows:
        print(f"| {target} | {measured} | {mark[met]} |" if args.markdown else f"{mark[met]:>8}  {target}: {measured}")
    unmet = sum(met is False for _, _, met in rows)
    print(f"{unmet} of {sum(met is not None for _, _, met in rows)} targets not met" if unmet else "all targets met",
          file=sys.stderr)
    return 1 if unmet else 0


if __name__ == "__main__":
    sys.exit(main())
