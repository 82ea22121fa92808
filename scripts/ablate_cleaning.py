"""Measure what each cleaning rule does to dev chrF.

For the baseline rules (``BASELINE``) and for each single-rule change from them (and from today's
defaults, for the closest calls), the Ding train split is
cleaned that way, a small additive model is trained for a fixed number of steps
(the same batches of the same size, so the same compute), and it translates the
whole dev split (cleaned with the default rules, so every setting is scored on
the same references), greedy: chrF on all dev pairs and on those with ≥ 4
source words, the subset the shipped models are judged on. All settings share
the shipped tokenizer and the seed.

    python scripts/ablate_cleaning.py                    # every setting, one after another
    python scripts/ablate_cleaning.py --only baseline parens=keep --out a.json  # some settings

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
from seq2seq.evaluate import MIN_WORDS, report, translate_corpus  # noqa: E402
from seq2seq.model import ModelConfig, Seq2Seq  # noqa: E402
from seq2seq.tokenizer import Tokenizer  # noqa: E402
from seq2seq.train import TrainConfig, train  # noqa: E402

DEFAULT = data.Cleaning()
# The rules this measurement started from: today's defaults, but half of the one-word pairs
# kept, as before the measurement moved that share to 0. One rule changed at a time from it.
BASELINE = replace(DEFAULT, single_word_keep=0.5)
SETTINGS: dict[str, data.Cleaning] = {
    "baseline": BASELINE,
    "synonyms=all": replace(BASELINE, synonyms="all"),
    "parens=keep": replace(BASELINE, parens="keep"),
    "slashes=keep": replace(BASELINE, slashes="keep"),
    "abbreviations kept": replace(BASELINE, expand_abbrev=False),
    "single_word_keep=1.0": replace(BASELINE, single_word_keep=1.0),
    "single_word_keep=0.0": replace(BASELINE, single_word_keep=0.0),
    # The two changes that a shorter run (500 steps) had measured better, together.
    "synonyms=all, single_word_keep=1.0": replace(BASELINE, synonyms="all", single_word_keep=1.0),
    # The closest calls again, changed from today's defaults (no one-word pairs) instead.
    "parens=keep, single_word_keep=0.0": replace(DEFAULT, parens="keep"),
    "slashes=keep, single_word_keep=0.0": replace(DEFAULT, slashes="keep"),
}
# The setting each one is compared with in the table: the rules it changes one thing of.
COMPARED_WITH = {name: "single_word_keep=0.0" if rules.single_word_keep == DEFAULT.single_word_keep else "baseline"
                 for name, rules in SETTINGS.items()}
COMPARED_WITH["baseline"] = COMPARED_WITH["single_word_keep=0.0"] = "baseline"
SCORES = (("dev_chrf", "dev chrF"), ("dev_chrf_min4", f"dev chrF ≥ {MIN_WORDS} words"))


def markdown_table(rows: list[dict]) -> str:
    """One line per setting, in the order of SETTINGS: for each score, the figure of each seed
    run, their mean, and the mean's difference from the mean of the setting it is compared
    with (``COMPARED_WITH``). A row is named by the setting whose rules it ran with."""
    names = {json.dumps(rules.to_dict(), sort_keys=True): name for name, rules in SETTINGS.items()}
    by_setting: dict[str, list[dict]] = {}
    for r in rows:
        name = names.get(json.dumps(r["cleaning"], sort_keys=True), r["setting"])
        by_setting.setdefault(name, []).append(r)

    def mean(name, key):  # None where a run had no pairs to score (no dev pair of ≥ 4 words)
        values = [r.get(key) for r in by_setting[name]]
        return None if None in values else sum(values) / len(values)

    def fmt(x, spec=".2f"):
        return "n/a" if x is None else format(x, spec)

    head = "| cleaning | compared with | train pairs | one-word share |"
    for _, label in SCORES:
        head += f" {label} (per seed) | mean | difference |"
    lines = [head, "|---|---|---|---|" + "---|---|---|" * len(SCORES)]
    for name in [n for n in SETTINGS if n in by_setting]:
        rs = sorted(by_setting[name], key=lambda r: r.get("seed", TrainConfig.seed))
        ref = COMPARED_WITH.get(name, "baseline")
        line = f"| {name} | {'' if ref == name else ref} | {rs[0]['train_pairs']:,} | {rs[0]['single_word_share']:.2f} |"
        for key, _ in SCORES:
            seeds = ", ".join(f"{fmt(r.get(key))} (seed {r.get('seed', TrainConfig.seed)})" for r in rs)
            m, base = mean(name, key), mean(ref, key) if ref in by_setting else None
            delta = "" if ref == name or m is None or base is None else fmt(m - base, "+.2f")
            line += f" {seeds} | {fmt(m)} | {delta} |"
        lines.append(line)
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default=str(data.DING_PATH))
    p.add_argument("--assets", default=str(ckpt.ASSETS), help="where the shipped tokenizer is")
    p.add_argument("--steps", type=int, default=500, help="training steps per setting")
    p.add_argument("--dev-sample", type=int, default=1000, help="dev pairs scored during training")
    p.add_argument("--emb", type=int, default=128)
    p.add_argument("--hidden", type=int, default=128, help="encoder hidden size per direction")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
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
    dev = data.read_ding(args.corpus, "dev", DEFAULT)
    dev_sources, dev_refs = [p[0] for p in dev], [p[1] for p in dev]
    mcfg = ModelConfig(variant="additive", vocab_size=tok.vocab_size, emb_size=args.emb,
                       enc_hidden=args.hidden, dec_hidden=2 * args.hidden)
    tcfg = TrainConfig(eval_every=args.steps, dev_sample=args.dev_sample, patience=10**6, threads=args.threads,
                       seed=args.seed, precision=args.precision)
    print(f"model: {Seq2Seq(mcfg).num_parameters():,} parameters, {args.steps} steps of "
          f"≤ {tcfg.max_tokens} tokens ({args.precision}); dev: {len(dev)} pairs (default cleaning)", flush=True)
    rows = []
    for name in args.only or list(SETTINGS):
        rules = SETTINGS[name]
        t0 = time.time()
        pairs = data.read_ding(args.corpus, "train", rules)
        single = sum(1 for s, t in pairs if " " not in s and " " not in t) / max(len(pairs), 1)
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "run"
            train(name, pairs, data.sample(dev, args.dev_sample, seed=0), tok, run, Path(tmp), mcfg, tcfg,
                  max_steps=args.steps, restart=True, export=False)
            # The weights after the last step (the one evaluation during training keeps them).
            model, _ = ckpt.load_model(run / "best.safetensors", run / "best.json", assets=None)
        model.eval()
        scores = report(dev_sources, translate_corpus(model, tok, dev_sources), dev_refs)
        score, score_min4 = scores["all"]["chrf"], scores[f"min{MIN_WORDS}words"]["chrf"]
        row = {"setting": name, "seed": args.seed, "cleaning": rules.to_dict(), "train_pairs": len(pairs),
               "single_word_share": round(single, 3), "dev_chrf": score,
               "dev_chrf_min4": score_min4, "dev_pairs": len(dev), "precision": args.precision,
               "minutes": round((time.time() - t0) / 60, 1)}
        rows.append(row)
        print(f"{name:22s} seed {args.seed}  train pairs {len(pairs):7,d}  one-word share {single:.2f}  dev chrF {score:5.2f}, "
              f"≥ {MIN_WORDS} words {'n/a' if score_min4 is None else format(score_min4, '5.2f')}",
              flush=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"steps": args.steps, "model": mcfg.to_dict(), "rows": rows},
                                             indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
