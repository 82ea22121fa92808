"""Agreement of attention and gradient × input attribution over a test sample, per variant.

For each sampled (German, English reference) pair, every variant is forced to produce the reference;
α and the attribution (``seq2seq/attribution.py``) are compared step by step: the mean Spearman ρ
over steps and the share of steps whose argmax agree. The table reports, per test set and variant,
the mean over sentences of those two figures (a sentence whose steps all lack ρ is left out of ρ).

    python scripts/attribution_agreement.py --data data --sample 200
    python scripts/attribution_agreement.py --data /work/train/data --sets tatoeba-test --sample 50

Writes the table under the key "attribution" of assets/question/agreement.json (``--out``), which
the page's About section reads; other keys of that file are kept.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq import checkpoint as ckpt  # noqa: E402
from seq2seq import data  # noqa: E402
from seq2seq.attention import VARIANTS  # noqa: E402
from seq2seq.attribution import agreement, gradient_x_input  # noqa: E402
from seq2seq.search import force_decode  # noqa: E402
from seq2seq.translator import MAX_OUTPUT, MAX_PIECES, Translator  # noqa: E402

SETS = {"test": "ding", "tatoeba-test": "tatoeba"}        # file stem → name in the table
OUT = ckpt.ASSETS / "question" / "agreement.json"


def update_json(path: Path, key: str, value) -> None:
    """Set one key of a JSON object file, keeping the others (each script owns its key)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc = doc if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        doc = {}
    doc[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1, allow_nan=True) + "\n", encoding="utf-8")


def write_cards(assets: Path, agreement: Path) -> list[str]:
    """Copy each variant's rows of ``agreement`` (both scripts' tables) into its model card, under
    "agreement", and rewrite the manifest; → the variants whose card was updated."""
    doc = json.loads(agreement.read_text(encoding="utf-8"))
    updated = []
    for v in VARIANTS:
        card_file = ckpt.card_path(v, assets)
        if not card_file.is_file():
            continue
        card = json.loads(card_file.read_text(encoding="utf-8"))
        card["agreement"] = {key: {**{k: x for k, x in table.items() if k != "rows"},
                                   "rows": [r for r in table["rows"] if r["variant"].split(" (")[0] == v]}
                             for key, table in doc.items()}
        card_file.write_text(json.dumps(card, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        updated.append(v)
    if updated:
        ckpt.write_manifest(assets)
    return updated


def test_pairs(data_dir: Path, stem: str, sample: int, seed: int) -> list[tuple[str, str]]:
    path = data_dir / f"{stem}.tsv"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `python -m seq2seq prepare` (or pass --data)")
    return data.sample(data.read_tsv(path), sample, seed)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / "data", help="folder with test.tsv, tatoeba-test.tsv")
    ap.add_argument("--assets", type=Path, default=ckpt.ASSETS)
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--sample", type=int, default=200, help="pairs per test set (seeded)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (small models: 1 is fastest)")
    ap.add_argument("--out", type=Path, default=None, help=f"JSON to update (default {OUT})")
    args = ap.parse_args(argv)
    out = args.out or args.assets / "question" / "agreement.json"

    torch.set_num_threads(args.threads)
    tr = Translator(args.assets)
    rows, t0 = [], time.time()
    for stem in args.sets:
        pairs = test_pairs(args.data, stem, args.sample, args.seed)
        encoded = [(tr.tok.encode(s), tr.tok.encode(r)) for s, r in pairs]
        encoded = [(s, r) for s, r in encoded if 0 < len(s) <= MAX_PIECES and 0 < len(r) < MAX_OUTPUT]
        for v in tr.variants:
            model = tr.models[v]
            rhos, shares = [], []
            for src, ref in encoded:
                alpha = force_decode(model, src, ref).attention
                if alpha is None:          # none: attribution without α to compare it with
                    continue
                ag = agreement(alpha, gradient_x_input(model, src, ref))
                shares.append(ag["argmax"])
                if ag["rho_steps"]:
                    rhos.append(ag["spearman"])
            row = {"test_set": SETS[stem], "variant": v, "pairs": len(encoded),
                   "spearman": float(np.mean(rhos)) if rhos else None,
                   "argmax": float(np.mean(shares)) if shares else None}
            rows.append(row)
            print(f"{SETS[stem]:8s} {v:10s} pairs {len(encoded):4d}  mean ρ {_fmt(row['spearman'])}  "
                  f"argmax agree {_fmt(row['argmax'])}  ({time.time() - t0:.0f} s)", flush=True)
    command = "python scripts/attribution_agreement.py " + " ".join(
        ["--sample", str(args.sample), "--seed", str(args.seed), "--sets", *args.sets])
    update_json(out, "attribution", {"sample": args.sample, "seed": args.seed, "command": command,
                                     "method": "gradient × input, |Σ_d ∂log p(y_t)/∂x_i · x_i|, rows sum to 1; "
                                               "target forced to the reference",
                                     "rows": rows})
    if args.out is None:
        write_cards(args.assets, out)
    print(f"wrote {out}")


def _fmt(x) -> str:
    return "—" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    main()
