"""Command line: python -m seq2seq prepare | train | evaluate | translate."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from . import checkpoint as ckpt
from . import data
from . import distributed
from . import tatoeba
from .attention import VARIANTS
from .tokenizer import DEFAULT_DIRECTION, DIRECTIONS

DATA_DIR = Path("data")
RUNS_DIR = Path("runs")
TATOEBA_FILES = {"dev": "tatoeba-dev.tsv", "test": "tatoeba-test.tsv"}
TATOEBA_TOKENIZER_WEIGHT = 8   # chosen by pieces per word on Tatoeba train+dev (docs/training.md)


def cmd_prepare(args) -> int:
    import tempfile
    from .tokenizer import Tokenizer, train_tokenizer

    rules = data.Cleaning(synonyms=args.synonyms, parens=args.parens, slashes=args.slashes,
                          expand_abbrev=not args.keep_abbrev, single_word_keep=args.single_word_keep)
    corpus, assets = Path(args.corpus), Path(args.assets)
    tokenizer = assets / ckpt.TOKENIZER_FILE
    if not corpus.is_file():
        print(f"error: corpus not found: {corpus} (apt-get install trans-de-en, or pass --corpus)", file=sys.stderr)
        return 2
    if args.keep_tokenizer and not tokenizer.is_file():
        print(f"error: --keep-tokenizer, but there is no tokenizer at {tokenizer}", file=sys.stderr)
        return 2
    splits = {split: data.read_tsv(corpus, split) if args.tsv else data.read_ding(corpus, split, rules)
              for split in data.SPLITS}
    counts = {split: {"lines": sum(1 for _ in data.iter_split_lines(corpus, split)), "pairs": len(pairs)}
              for split, pairs in splits.items()}
    for split in data.SPLITS:
        print(f"{split}: {counts[split]['lines']} lines → {counts[split]['pairs']} pairs", file=sys.stderr)
    sentence_splits = {}
    if args.tatoeba:
        try:
            sentence_splits = tatoeba.read_splits(args.tatoeba)
        except tatoeba.TatoebaError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print("tatoeba: " + ", ".join(f"{s} {len(p)} pairs" for s, p in sentence_splits.items()), file=sys.stderr)
    # 1) no German sentence that is scored (dev or test, either corpus) is trained on
    #    in either direction: neither side of a scored pair is a training source
    held_out = [pair for corpus_splits in (splits, sentence_splits) for s in ("dev", "test")
                for pair in corpus_splits.get(s, [])]
    held_out_de, held_out_en = {de for de, _ in held_out}, {en for _, en in held_out}
    splits["train"], dropped = tatoeba.drop_held_out(splits["train"], held_out_de, held_out_en)
    info_tatoeba = None
    if args.tatoeba:
        sentence_splits["train"], dropped_tatoeba = tatoeba.drop_held_out(sentence_splits["train"], held_out_de,
                                                                          held_out_en)
        info_tatoeba = {"path": str(args.tatoeba), "sha256": ckpt.sha256_file(Path(args.tatoeba)),
                        "expected_sha256": tatoeba.EXPORT_SHA256,
                        "splits": {s: {"pairs": len(p)} for s, p in sentence_splits.items()},
                        "dropped_held_out_german": len(dropped_tatoeba)}
        print(f"tatoeba train: dropped {len(dropped_tatoeba)} pairs with a side that is a dev or test sentence",
              file=sys.stderr)
    counts["train"]["pairs"] = len(splits["train"])
    print(f"ding train: dropped {len(dropped)} pairs with a side that is a dev or test sentence", file=sys.stderr)
    # 2) the training mix: every pair of both corpora once (docs/data.md)
    out = Path(args.out)
    data.write_tsv(out / "train.tsv", splits["train"] + sentence_splits.get("train", []))
    for split in ("dev", "test"):
        data.write_tsv(out / f"{split}.tsv", splits[split])
        stale = out / TATOEBA_FILES[split]
        if args.tatoeba:
            data.write_tsv(stale, sentence_splits[split])
        elif stale.exists():  # a Ding-only prepare must not leave another run's Tatoeba splits behind
            stale.unlink()
    if not args.keep_tokenizer:
        # Tatoeba's sentences count TATOEBA_TOKENIZER_WEIGHT times: the dictionary has more pairs,
        # mostly terms, and left alone it splits everyday words ("sister" → ▁ s ist er).
        sentences = [s for p in splits["train"] for s in p]
        sentences += [s for p in sentence_splits.get("train", []) for s in p] * TATOEBA_TOKENIZER_WEIGHT
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / ckpt.TOKENIZER_FILE
            try:
                train_tokenizer(sentences, fresh, vocab_size=args.vocab)
            except RuntimeError as exc:  # e.g. a vocabulary larger than this train split allows
                print(f"error: the tokenizer could not be trained: {str(exc).splitlines()[0]}", file=sys.stderr)
                return 2
            trained_models = [v for v in VARIANTS if ckpt.model_paths(v, assets)[0].exists()]
            if (tokenizer.is_file() and trained_models
                    and ckpt.sha256_file(fresh) != ckpt.sha256_file(tokenizer)):
                # Replacing it would silently break every model trained with the old one.
                print(f"error: the models in {assets} ({', '.join(trained_models)}) were trained with "
                      f"{tokenizer}, and this data gives a different tokenizer. Pass --keep-tokenizer to "
                      f"keep it (the data files are written), or --assets DIR for new models.", file=sys.stderr)
                return 2
            assets.mkdir(parents=True, exist_ok=True)
            fresh.replace(tokenizer)
        ckpt.write_manifest(assets)
    info = {"corpus": str(corpus), "format": "tsv" if args.tsv else "ding", "cleaning": rules.to_dict(),
            "splits": counts, "dropped_held_out_german": len(dropped), "tatoeba": info_tatoeba,
            "train_pairs": len(splits["train"]) + len(sentence_splits.get("train", [])), "vocab_size": Tokenizer(tokenizer).vocab_size,
            "tokenizer": {"sha256": ckpt.sha256_file(tokenizer), "trained": not args.keep_tokenizer,
                          **({"tatoeba_weight": TATOEBA_TOKENIZER_WEIGHT} if args.tatoeba and not args.keep_tokenizer else {})},
            "command": args.invocation}
    (Path(args.out) / "prepare.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"tokenizer: {tokenizer} ({info['vocab_size']} pieces, "
          f"{'kept' if args.keep_tokenizer else 'trained on the train split'})", file=sys.stderr)
    return 0


def _load_prepared(data_dir: Path):
    info_path = data_dir / "prepare.json"
    if not info_path.exists():
        raise SystemExit(f"error: {info_path} not found; run `python -m seq2seq prepare` first")
    return json.loads(info_path.read_text())


def cmd_train(args) -> int:
    if "TORCHELASTIC_ERROR_FILE" not in os.environ:
        return _train_variants(args)
    from torch.distributed.elastic.multiprocessing.errors import record

    return record(_train_variants)(args)   # torchrun's summary then names a failed rank's error


def _train_variants(args) -> int:
    from dataclasses import asdict

    from .model import ModelConfig
    from .tokenizer import Tokenizer
    from .train import TrainConfig, native_precision, train

    if not 0 < args.dist_timeout <= 7 * 24 * 60:
        print("error: --dist-timeout must be a number of minutes above 0 and at most a week", file=sys.stderr)
        return 2
    ranks = distributed.start(args.dist_timeout)   # one process, or one rank of those torchrun started
    data_dir, assets = Path(args.data), Path(args.assets)
    info = _load_prepared(data_dir)
    directions = tuple(args.directions.split(","))
    precision = native_precision(ranks.device.type) if args.precision == "auto" else args.precision
    try:
        tok = Tokenizer(assets / ckpt.TOKENIZER_FILE)
        ModelConfig(directions=directions)
        for d in directions if len(directions) > 1 else ():
            tok.tag_id(d)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    train_pairs = data.read_tsv(data_dir / "train.tsv")
    dev_pairs = data.sample(data.read_tsv(data_dir / "dev.tsv"), args.dev_sample, seed=0)
    if (data_dir / TATOEBA_FILES["dev"]).exists():  # a mix is tuned on both corpora's dev sentences
        dev_pairs = {"ding": dev_pairs,
                     "tatoeba": data.sample(data.read_tsv(data_dir / TATOEBA_FILES["dev"]), args.dev_sample, seed=0)}
    variants = list(VARIANTS) if args.variant == "all" else [args.variant]
    if args.history and len(variants) > 1 and "{variant}" not in args.history:
        print("error: with --variant all, --history needs {variant} in its path", file=sys.stderr)
        return 2
    for variant in variants:
        mcfg = ModelConfig(variant=variant, vocab_size=tok.vocab_size, emb_size=args.emb,
                           enc_hidden=args.enc_hidden, dec_hidden=args.dec_hidden, dropout=args.dropout,
                           directions=directions)
        tcfg = TrainConfig(max_tokens=args.max_tokens, eval_every=args.eval_every,
                           lr=TrainConfig.lr if args.lr is None else args.lr,
                           dev_sample=args.dev_sample, patience=args.patience, seed=args.seed, threads=args.threads,
                           precision=precision)
        recorder = None
        if args.history:
            from .history import HistoryRecorder, load_probe

            recorder = HistoryRecorder(
                Path(args.history.replace("{variant}", variant)), tok, load_probe(),
                dev_pairs if isinstance(dev_pairs, dict) else {"ding": dev_pairs}, every=args.history_every,
                directions=mcfg.directions,
                info={"variant": variant, "model": mcfg.to_dict(), "train_config": asdict(tcfg),
                      "command": args.invocation,
                      "budget": {"restart": args.restart, "dev_pairs_per_corpus": args.dev_sample}})
        train(variant, train_pairs, dev_pairs, tok, Path(args.runs) / variant, assets, mcfg, tcfg,
              minutes=args.minutes, max_steps=args.max_steps, restart=args.restart,
              command=args.invocation, data_info=info, lr=args.lr, history=recorder)
    distributed.finish(ranks)
    return 0


def cmd_evaluate(args) -> int:
    from .evaluate import report, translate_corpus
    from .model import orient
    from .translator import Translator, check_direction

    assets = Path(args.assets)
    variants = list(VARIANTS) if args.variant == "all" else [args.variant]
    variants = [v for v in variants if ckpt.model_paths(v, assets)[0].exists()]
    if not variants:
        print("error: no shipped model found in " + str(assets), file=sys.stderr)
        return 2
    try:
        tr = Translator(assets, variants)
        check_direction(args.direction, tr.directions)
    except (ckpt.CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The files hold pairs in the models' first direction; the other reads them reversed.
    test_sets = {"ding": orient(data.read_tsv(Path(args.data) / f"{args.split}.tsv"), args.direction, tr.directions)}
    tatoeba_file = Path(args.data) / TATOEBA_FILES[args.split]
    if tatoeba_file.exists():
        test_sets["tatoeba"] = orient(data.read_tsv(tatoeba_file), args.direction, tr.directions)
    if args.pieces:
        print(pieces_per_word(tr.tok, test_sets), file=sys.stderr)
    if args.limit:
        test_sets = {name: pairs[: args.limit] for name, pairs in test_sets.items()}
    results = {}
    for v in variants:
        t0 = time.time()
        by_corpus = {}
        for name, pairs in test_sets.items():
            sources, refs = [p[0] for p in pairs], [p[1] for p in pairs]
            hyps = translate_corpus(tr.models[v], tr.tok, sources, beam=args.beam, alpha=args.alpha,
                                    direction=args.direction)
            by_corpus[name] = report(sources, hyps, refs)
        # The Ding figures stay at the top level (as before Tatoeba joined); other corpora by name.
        results[v] = {"split": args.split, "direction": args.direction, "beam": args.beam, "length_penalty": args.alpha if args.beam > 1 else None,
                      "seconds": round(time.time() - t0, 1), **by_corpus.pop("ding"), **by_corpus}
        for name in test_sets:
            shown = results[v] if name == "ding" else results[v][name]
            print(f"{v:10s} {name:8s} chrF {_fmt(shown['all']['chrf'])} BLEU {_fmt(shown['all']['bleu'])} | ≥4 words "
                  f"chrF {_fmt(shown['min4words']['chrf'])} | ≥10 words chrF {_fmt(shown['min10words']['chrf'])}",
                  file=sys.stderr)
        if args.write_cards and args.split == "test" and not args.limit:
            write_card(v, assets, tr.info[v], results[v], _load_prepared(Path(args.data)))
    if args.write_cards and args.split == "test" and not args.limit:
        ckpt.write_manifest(assets)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    if args.markdown:
        print(markdown_table(results))
    else:
        print(json.dumps({v: {k: r[k] for k in ("all", "min4words", "min10words", *CORPORA[1:]) if k in r}
                          for v, r in results.items()}, indent=1))
    return 0


def pieces_per_word(tok, test_sets: dict[str, list]) -> str:
    """Pieces per whitespace word on each side of each test set (the tokenizer's target: ≤ 1.5)."""
    lines = []
    for name, pairs in test_sets.items():
        for side, label in ((0, "source"), (1, "target")):
            texts = [p[side] for p in pairs]
            words = sum(len(t.split()) for t in texts)
            pieces = sum(len(ids) for ids in tok.encode_batch(texts))
            lines.append(f"pieces per word, {name} {label}: {pieces / max(words, 1):.3f} ({pieces} / {words})")
    return "\n".join(lines)


def _fmt(score) -> str:
    """A score for the console; None (no pairs in that subset) shows as n/a."""
    return "   n/a" if score is None else f"{score:6.2f}"


CORPORA = ("ding", "tatoeba")  # test sets evaluate reports, in this order


def markdown_table(results: dict) -> str:
    """Markdown tables (docs/training.md): test figures per variant, and chrF by source length, for each test set."""
    tables = [_markdown_table(results)]
    if all("tatoeba" in r for r in results.values()):
        tables.append("Tatoeba test:\n\n" + _markdown_table({v: r["tatoeba"] for v, r in results.items()}))
    return "\n\n".join(tables)


def _markdown_table(results: dict) -> str:
    rows = ["| variant | chrF | BLEU | chrF ≥4 words | BLEU ≥4 words | chrF ≥10 words |", "|---|---|---|---|---|---|"]
    for v, r in results.items():
        rows.append(f"| `{v}` | {r['all']['chrf']} | {r['all']['bleu']} | {r['min4words']['chrf']} | "
                    f"{r['min4words']['bleu']} | {r['min10words']['chrf']} |")
    buckets = next(iter(results.values()))["by_length"]
    rows += ["", "| source words | pairs | " + " | ".join(f"`{v}`" for v in results) + " |",
             "|---|---|" + "---|" * len(results)]
    def cell(b):  # a bucket without pairs has no score
        return "–" if b["n"] == 0 else f"{b['bleu']} / {b['chrf']}"

    for i, b in enumerate(buckets):
        cells = " | ".join(cell(r["by_length"][i]) for r in results.values())
        rows.append(f"| {b['words']} | {b['n']} | {cells} |")
    sig = next(iter(results.values()))["all"]
    rows += ["", f"BLEU / chrF per cell. Signatures: `{sig['bleu_signature']}`, `{sig['chrf_signature']}`."]
    return "\n".join(rows)


OWN_PAIRS_TASK = "translation of one's own source<TAB>target pairs"


def write_card(variant: str, assets: Path, info: dict, result: dict, prep: dict) -> None:
    """Write the model card. ``test`` holds this evaluation in the model's first direction;
    ``test_by_beam`` keeps one result per beam width, but only those measured on these exact
    weights (same sha256). A model's other direction has both under ``other_directions``."""
    from .translator import direction_name

    tr = info.get("training", {})
    directions = tuple(info.get("model", {}).get("directions") or ("de-en",))
    direction = result.get("direction", directions[0])
    weights_sha = ckpt.sha256_file(ckpt.model_paths(variant, assets)[0])
    result = {**result, "weights_sha256": weights_sha}

    def same_weights(results) -> dict:
        return {k: r for k, r in (results or {}).items() if isinstance(r, dict) and r.get("weights_sha256") == weights_sha}

    try:
        old = json.loads(ckpt.card_path(variant, assets).read_text(encoding="utf-8"))
        old = old if isinstance(old, dict) else {}
    except (OSError, ValueError):
        old = {}
    first = {"test": old.get("test"), "test_by_beam": same_weights(old.get("test_by_beam"))}
    if not first["test_by_beam"]:
        first["test"] = None
    others = {d: {"test": (old.get("other_directions") or {}).get(d, {}).get("test"),
                  "test_by_beam": same_weights((old.get("other_directions") or {}).get(d, {}).get("test_by_beam"))}
              for d in directions[1:]}
    shown = first if direction == directions[0] else others[direction]
    shown["test"] = result
    shown["test_by_beam"] = dict(sorted({**shown["test_by_beam"], str(result["beam"]): result}.items(),
                                        key=lambda kv: int(kv[0])))
    # The record of earlier training stretches (docs/training.md) stays while training goes on
    # from the same warm start; a run from scratch starts a record of its own.
    stretches = None
    if isinstance(tr.get("warm_start"), dict) and isinstance(old.get("training"), dict) \
            and old["training"].get("warm_start") == tr["warm_start"]:
        stretches = old["training"].get("stretches")
    own_pairs = prep.get("format") == "tsv"      # prepare --tsv: a pair of languages the card cannot name
    card = {
        "variant": variant,
        "task": OWN_PAIRS_TASK if own_pairs else (
            " and ".join(direction_name(d) for d in directions) + " translation"
            + (" (one model, steered by a target-language token)" if len(directions) > 1 else "")),
        "directions": list(directions),
        "architecture": "bidirectional GRU encoder, GRU decoder with input feeding, tied joint embeddings",
        "attention": variant,
        "data": {"corpus": (f"{ckpt.shown_path(prep.get('corpus') or 'a file')} (source<TAB>target pairs)" if own_pairs else
                            "Ding German–English dictionary (Debian trans-de-en, GPL-2+)"
                            + (" and Tatoeba sentence pairs (manythings.org/anki deu-eng export of 2018-05-13, "
                               "tatoeba.org, CC-BY 2.0 France)" if prep.get("tatoeba") else "")),
                 "split": "per line: sha256(line) % 100; 0 test, 1 dev, 2–3 reserved (unused), 4–99 train" if own_pairs else
                          "Ding: per dictionary line: sha256(line) % 100; 0 test, 1 dev, 2–3 reserved (unused), 4–99 train"
                          + ("; Tatoeba: per sentence group (connected pairs), sha256 of its first German sentence % 100, "
                             "same buckets; no dev or test German sentence of either corpus is trained on"
                             if prep.get("tatoeba") else ""),
                 "splits": prep.get("splits"), "tatoeba": prep.get("tatoeba"), "train_pairs": prep.get("train_pairs"),
                 "cleaning": prep.get("cleaning"), "vocab_size": prep.get("vocab_size"),
                 "tokenizer": prep.get("tokenizer")},
        "parameters": info.get("parameters"),
        "model": info.get("model"),
        "training": {"steps": tr.get("step"), "epochs": tr.get("epoch"), "target_tokens": tr.get("target_tokens"),
                     "minutes": round(tr.get("train_seconds", 0) / 60, 1), "hardware": tr.get("hardware"),
                     "best_dev_chrf": tr.get("best_chrf"), "warm_start": tr.get("warm_start"),
                     "best_dev_by_corpus": max((h for h in info.get("history", []) if "dev_by_corpus" in h),
                                                 key=lambda h: h["dev_chrf"], default={}).get("dev_by_corpus"),
                     **({"stretches": stretches} if stretches else {})},
        # Every prepare and train command, in order: a later prepare rewrites the data the next train reads.
        "reproduce": {"commands": info.get("commands", []),
                      "evaluate": f"python -m seq2seq evaluate --variant all --beam {result['beam']}"
                                  + (f" --alpha {result['length_penalty']}" if result.get("length_penalty") is not None else "")
                                  + (f" --direction {direction}" if direction != DEFAULT_DIRECTION else "")
                                  + " --write-cards"},
        "test": first["test"],
        "test_by_beam": first["test_by_beam"],
        **({"other_directions": others} if others else {}),
    }
    path = ckpt.card_path(variant, assets)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")


def cmd_translate(args) -> int:
    from .evaluate import translate_corpus
    from .translator import LANGUAGES, InputError, Translator, check_direction, clean_input

    try:
        tr = Translator(Path(args.assets), [args.variant])
        check_direction(args.direction, tr.directions)
    except (ckpt.CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.text:
        lines = args.text
    else:
        sys.stdin.reconfigure(errors="replace")
        lines = [ln.rstrip("\n") for ln in sys.stdin]
    cleaned, ok = [], []
    for n, line in enumerate(lines, 1):
        try:
            cleaned.append(clean_input(line, LANGUAGES[args.direction.split("-")[0]]))
            ok.append(True)
        except InputError as exc:
            print(f"line {n}: {exc} (printed an empty line)", file=sys.stderr)
            cleaned.append("")
            ok.append(False)
    todo = [i for i, good in enumerate(ok) if good]
    outs = translate_corpus(tr.models[args.variant], tr.tok, [cleaned[i] for i in todo], beam=args.beam,
                            alpha=args.alpha, direction=args.direction)
    result = [""] * len(lines)
    for i, o in zip(todo, outs):
        result[i] = o
    sys.stdout.write("".join(r + "\n" for r in result))
    return 0


def main(argv=None) -> int:
    from .search import LENGTH_PENALTY

    p = argparse.ArgumentParser(prog="python -m seq2seq", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    pp = sub.add_parser("prepare", help="clean and split the corpus, train the tokenizer")
    pp.add_argument("--corpus", default=str(data.DING_PATH), help="Ding dictionary file (default: %(default)s)")
    pp.add_argument("--tsv", action="store_true", help="the corpus is source<TAB>target lines, not Ding")
    pp.add_argument("--tatoeba", metavar="PATH", default=None,
                    help="also read Tatoeba's English<TAB>German export (deu.txt) and train on both corpora")
    pp.add_argument("--out", default=str(DATA_DIR), help="where the split TSV files go")
    pp.add_argument("--assets", default=str(ckpt.ASSETS))
    pp.add_argument("--vocab", type=int, default=8000, help="sentencepiece vocabulary size")
    rules = data.Cleaning()
    pp.add_argument("--synonyms", choices=("first", "all"), default=rules.synonyms)
    pp.add_argument("--parens", choices=("drop", "keep"), default=rules.parens)
    pp.add_argument("--slashes", choices=("first", "keep"), default=rules.slashes)
    pp.add_argument("--keep-abbrev", action="store_true", help="keep etw./jdn./sth./sb. as written")
    pp.add_argument("--single-word-keep", type=float, default=rules.single_word_keep,
                    help="share of one-word pairs kept in train (default: %(default)s)")
    pp.add_argument("--keep-tokenizer", action="store_true",
                    help="keep the tokenizer in --assets (and so the models trained with it) instead of "
                         "training one on this train split")
    pp.set_defaults(func=cmd_prepare)

    pt = sub.add_parser("train", help="train (or resume) one variant, or all")
    pt.add_argument("--variant", choices=[*VARIANTS, "all"], required=True)
    pt.add_argument("--data", default=str(DATA_DIR))
    pt.add_argument("--assets", default=str(ckpt.ASSETS))
    pt.add_argument("--runs", default=str(RUNS_DIR), help="training state, for resuming")
    pt.add_argument("--minutes", type=float, default=None, help="time budget for this invocation")
    pt.add_argument("--max-steps", type=int, default=None)
    pt.add_argument("--restart", action="store_true", help="ignore saved state and shipped weights")
    pt.add_argument("--directions", default=DEFAULT_DIRECTION,
                    help="what the model translates: one direction, or both as 'de-en,en-de' (one model, "
                         "each source opened by its target-language tag) (default: %(default)s)")
    pt.add_argument("--emb", type=int, default=256)
    pt.add_argument("--enc-hidden", type=int, default=192)
    pt.add_argument("--dec-hidden", type=int, default=384)
    pt.add_argument("--dropout", type=float, default=0.2)
    pt.add_argument("--max-tokens", type=int, default=2500, help="target tokens per batch")
    pt.add_argument("--lr", type=float, default=None,
                    help="learning rate (default 2e-3); on a resumed run it restarts the rate there, "
                         "without it the saved rate goes on")
    pt.add_argument("--eval-every", type=int, default=250)
    pt.add_argument("--dev-sample", type=int, default=1000, help="dev pairs per corpus scored at each evaluation")
    pt.add_argument("--patience", type=int, default=8)
    pt.add_argument("--seed", type=int, default=1234)
    pt.add_argument("--threads", type=int, default=1, help="CPU threads")
    pt.add_argument("--precision", choices=["fp32", "bf16", "auto"], default="fp32",
                    help="bf16: bfloat16 autocast for the forward pass (faster on CPUs with AVX-512 BF16, "
                         "many times slower on others); auto: bf16 where the hardware has it, else fp32")
    pt.add_argument("--dist-timeout", type=float, default=distributed.DEFAULT_TIMEOUT_MINUTES, metavar="MINUTES",
                    help="under torchrun: how long a process waits for the others (rank 0 evaluating, "
                         "a process that hangs) before the run stops (default: %(default)s)")
    pt.add_argument("--history", metavar="PATH", default=None,
                    help="record α and output on the page's examples, and dev chrF, at steps 0, 1, 2, 4, … and "
                         "every --history-every steps, into this JSON ({variant} is replaced by the variant)")
    pt.add_argument("--history-every", type=int, default=25, help="steps between history points (default: %(default)s)")
    pt.set_defaults(func=cmd_train)

    pe = sub.add_parser("evaluate", help="BLEU/chrF on a split, overall and by source length")
    pe.add_argument("--variant", choices=[*VARIANTS, "all"], default="all")
    pe.add_argument("--split", choices=("dev", "test"), default="test")
    pe.add_argument("--beam", type=int, default=5)
    pe.add_argument("--alpha", type=float, default=LENGTH_PENALTY,
                    help=f"beam length penalty: hypotheses rank by Σ log p / T^alpha (default {LENGTH_PENALTY}, chosen on dev)")
    pe.add_argument("--direction", choices=DIRECTIONS, default=DEFAULT_DIRECTION,
                    help="which way to translate the test pairs (default: %(default)s)")
    pe.add_argument("--pieces", action="store_true", help="also print the tokenizer's pieces per word on each side")
    pe.add_argument("--limit", type=int, default=0, help="only the first N pairs (no cards written)")
    pe.add_argument("--data", default=str(DATA_DIR))
    pe.add_argument("--assets", default=str(ckpt.ASSETS))
    pe.add_argument("--write-cards", action="store_true", help="write model cards with the test figures")
    pe.add_argument("--json", help="also write the full results here")
    pe.add_argument("--markdown", action="store_true", help="print Markdown tables (as in docs/training.md) instead of JSON")
    pe.set_defaults(func=cmd_evaluate)

    px = sub.add_parser("translate", help="translate TEXT arguments, or stdin line by line")
    px.add_argument("text", nargs="*")
    px.add_argument("--variant", choices=list(VARIANTS), default="additive")
    px.add_argument("--direction", choices=DIRECTIONS, default=DEFAULT_DIRECTION,
                    help="de-en: German in, English out; en-de: the other way (default: %(default)s)")
    px.add_argument("--beam", type=int, default=1)
    px.add_argument("--alpha", type=float, default=LENGTH_PENALTY,
                    help=f"beam length penalty (default {LENGTH_PENALTY})")
    px.add_argument("--assets", default=str(ckpt.ASSETS))
    px.set_defaults(func=cmd_translate)

    argv = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)
    args.invocation = recorded_command(argv)
    return args.func(args)


def recorded_command(argv: list[str]) -> str:
    """The command as cards and training histories record it: absolute paths inside the
    repository become relative (``--data /home/me/repo/data`` → ``--data data``)."""
    def shown(arg: str) -> str:
        flag, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        return flag + eq + ckpt.shown_path(value) if value.startswith("/") else arg

    return "python -m seq2seq " + " ".join(shlex.quote(shown(a)) for a in argv)


if __name__ == "__main__":
    sys.exit(main())
