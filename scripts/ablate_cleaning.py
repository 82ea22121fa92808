"""Measure what each cleaning rule does to dev chrF.

For the default rules and for each single-rule change, the Ding train split is
cleaned that way, a small additive model is trained for a fixed number of steps
(the same batches of the same size, so the same compute), and it translates the
dev sample that training itself uses (cleaned with the default rules, so every
setting is scored on the same references). All settings share the shipped
tokenizer and the seed.

    python scripts/ablate_cleaning.py                    # every setting, one after another
    python scripts/ablate_cleaning.py --only default parens=keep --out a.json  # some settings

Each setting is seeded and independent, so settings can run as parallel
processes (``--only``, one ``--out`` each) and give the same figures.

Prints one line per setting and writes the table as JSON (``--out``). The dev
split is only read for scoring; test is never read.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq import checkpoint as ckpt  # noqa: E402
from seq2seq import data  # noqa: E402
from seq2seq.model import ModelConfig, Seq2Seq  # noqa: E402
from seq2seq.tokenizer import Tokenizer  # noqa: E402
from seq2seq.train import TrainConfig, train  # noqa: E402

DEFAULT = data.Cleaning()
# One rule changed at a time, away from the shipped default.
SETTINGS: dict[str, data.Cleaning] = {
    "default": DEFAULT,
    "synonyms=all": replace(DEFAULT, synonyms="all"),
    "parens=keep": replace(DEFAULT, parens="keep"),
    "slashes=keep": replace(DEFAULT, slashes="keep"),
    "abbreviations kept": replace(DEFAULT, expand_abbrev=False),
    "single_word_keep=1.0": replace(DEFAULT, single_word_keep=1.0),
}


def markdown_table(rows: list[dict]) -> str:
    """One line per setting, in the order of SETTINGS: dev chrF for each seed run, their mean,
    and the mean's difference from the default's mean."""
    by_setting: dict[str, list[dict]] = {}
    for r in rows:
        by_setting.setdefault(r["setting"], []).append(r)

    def mean(name):
        return sum(r["dev_chrf"] for r in by_setting[name]) / len(by_setting[name])

    base = mean("default") if "default" in by_setting else None
    lines = ["| cleaning | train pairs | one-word share | dev chrF (per seed) | mean | vs default |",
             "|---|---|---|---|---|---|"]
    for name in [n for n in SETTINGS if n in by_setting]:
        rs = sorted(by_setting[name], key=lambda r: r.get("seed", TrainConfig.seed))
        seeds = ", ".join(f"{r['dev_chrf']:.2f} (seed {r.get('seed', TrainConfig.seed)})" for r in rs)
        delta = "" if base is None or name == "default" else f"{mean(name) - base:+.2f}"
        lines.append(f"| {name} | {rs[0]['train_pairs']:,} | {rs[0]['single_word_share']:.2f} | {seeds} | "
                     f"{mean(name):.2f} | {delta} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default=str(data.DING_PATH))
    p.add_argument("--assets", default=str(ckpt.ASSETS), help="where the shipped tokenizer is")
    p.add_argument("--steps", type=int, default=500, help="training steps per setting")
    p.add_argument("--dev-sample", type=int, default=1000)
    p.add_argument("--emb", type=int, default=128)
    p.add_argument("--hidden", type=int, default=128, help="encoder hidden size per direction")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=TrainConfig.seed,
                   help="another seed for the same setting shows how much of a difference is noise")
    p.add_argument("--only", nargs="*", choices=list(SETTINGS), help="run only these settings")
    p.add_argument("--out", default=str(ROOT / "runs" / "ablate_cleaning.json"))
    p.add_argument("--table", nargs="+", metavar="JSON",
                   help="print the markdown table of results written earlier (by one or more runs) and stop")
    args = p.parse_args(argv)
    if args.table:
        print(markdown_table([row for path in args.table for row in json.loads(Path(path).read_text())["rows"]]))
        return 0

    tok = Tokenizer(Path(args.assets) / ckpt.TOKENIZER_FILE)
    dev = data.sample(data.read_ding(args.corpus, "dev", DEFAULT), args.dev_sample, seed=0)
    mcfg = ModelConfig(variant="additive", vocab_size=tok.vocab_size, emb_size=args.emb,
                       enc_hidden=args.hidden, dec_hidden=2 * args.hidden)
    tcfg = TrainConfig(eval_every=args.steps, dev_sample=args.dev_sample, patience=10**6, threads=args.threads,
                       seed=args.seed)
    print(f"model: {Seq2Seq(mcfg).num_parameters():,} parameters, {args.steps} steps of "
          f"≤ {tcfg.max_tokens} tokens; dev: {len(dev)} pairs (default cleaning)", flush=True)
    rows = []
    for name in args.only or list(SETTINGS):
        rules = SETTINGS[name]
        t0 = time.time()
        pairs = data.read_ding(args.corpus, "train", rules)
        single = sum(1 for s, t in pairs if " " not in s and " " not in t) / max(len(pairs), 1)
        with tempfile.TemporaryDirectory() as tmp:
            meta = train(name, pairs, dev, tok, Path(tmp) / "run", Path(tmp), mcfg, tcfg,
                         max_steps=args.steps, restart=True, export=False)
        score = meta["best_chrf"]   # dev chrF after the last step (greedy, the one evaluation)
        row = {"setting": name, "seed": args.seed, "cleaning": rules.to_dict(), "train_pairs": len(pairs),
               "single_word_share": round(single, 3), "dev_chrf": round(score, 2),
               "minutes": round((time.time() - t0) / 60, 1)}
        rows.append(row)
        print(f"{name:22s} seed {args.seed}  train pairs {len(pairs):7,d}  one-word share {single:.2f}  dev chrF {score:5.2f}",
              flush=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"steps": args.steps, "model": mcfg.to_dict(), "rows": rows},
                                             indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
