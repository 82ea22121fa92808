"""Agreement of attention's word alignments with eflomal, a statistical word aligner.

Offline only (never at start-up); needs ``pip install eflomal==2.0.0``, which the app does not.

1. Both sides of every pair become words the way the page groups pieces into words (the shared
   sentencepiece model; a piece starting with ▁ opens a word), so eflomal and attention align the
   same units.
2. eflomal is trained on the training split (both directions), its links give priors, and with
   them it aligns each test split (and the page's examples, ``demo/examples.tsv``).
3. Reference links per pair: sure = the intersection of the two directions, possible =
   grow-diag-final of the two.
4. Each variant is forced to produce the reference; α over words gives the argmax and the
   thresholded (α ≥ THRESHOLD) alignments; precision, recall and the AER formula are counted
   against eflomal's sure/possible links over the sample (``seq2seq/alignment.py``).

eflomal is not a gold standard: these figures are agreement with eflomal, not AER against gold.

    python scripts/align_eflomal.py --data data
    python scripts/align_eflomal.py --data /work/train/data --train-limit 100000 --sample 300

Writes the table under the key "eflomal" of assets/question/agreement.json and eflomal's links for
the page's examples to assets/question/eflomal_examples.json (the page overlays them on heatmaps).
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from attribution_agreement import SETS, update_json, write_cards  # noqa: E402
from seq2seq import checkpoint as ckpt  # noqa: E402
from seq2seq import data  # noqa: E402
from seq2seq.alignment import (THRESHOLD, Counts, argmax_links, from_pharaoh, grow_diag_final,  # noqa: E402
                               threshold_links, word_matrix)
from seq2seq.search import force_decode  # noqa: E402
from seq2seq.tokenizer import Tokenizer, words_from_pieces  # noqa: E402
from seq2seq.translator import MAX_OUTPUT, MAX_PIECES, Translator  # noqa: E402


def words(tok: Tokenizer, text: str) -> list[str]:
    """The page's words of a text: sentencepiece pieces grouped at ▁ (so both aligners share units)."""
    return [w.replace(" ", "_") for w in words_from_pieces(tok.text_pieces(text))] if text.strip() else []


def run_eflomal(src: list[str], tgt: list[str], priors: str | None = None) -> tuple[list[str], list[str]]:
    """Align space-joined word lines with eflomal → (forward, reverse) Pharaoh lines."""
    import eflomal

    with tempfile.TemporaryDirectory() as tmp:
        fwd, rev = Path(tmp) / "fwd", Path(tmp) / "rev"
        aligner = eflomal.Aligner()
        aligner.align(src, tgt, links_filename_fwd=str(fwd), links_filename_rev=str(rev),
                      priors_input=None if priors is None else io.StringIO(priors), quiet=True)
        return (fwd.read_text(encoding="utf-8").splitlines(), rev.read_text(encoding="utf-8").splitlines())


def train_priors(src: list[str], tgt: list[str]) -> str:
    import eflomal

    fwd, rev = run_eflomal(src, tgt)
    priors = eflomal.calculate_priors(src, tgt, fwd, rev)
    buf = io.StringIO()
    eflomal.write_priors(buf, *priors)
    return buf.getvalue()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / "data", help="folder with train.tsv, test.tsv, tatoeba-test.tsv")
    ap.add_argument("--assets", type=Path, default=ckpt.ASSETS)
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--train-limit", type=int, default=0, help="train on the first N training pairs (0: all)")
    ap.add_argument("--sample", type=int, default=500, help="test pairs per set scored against attention (seeded)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threshold", type=float, default=THRESHOLD)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--examples", type=Path, default=ROOT / "demo" / "examples.tsv")
    ap.add_argument("--out-dir", type=Path, default=None, help="where the two JSON files go (default assets/question)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()

    tr = Translator(args.assets)
    train = data.read_tsv(args.data / "train.tsv")
    if args.train_limit:
        train = train[: args.train_limit]
    train_src = [" ".join(words(tr.tok, s)) for s, _ in train]
    train_tgt = [" ".join(words(tr.tok, t)) for _, t in train]
    keep = [i for i, (s, t) in enumerate(zip(train_src, train_tgt)) if s and t]
    print(f"training eflomal on {len(keep)} pairs …", flush=True)
    priors = train_priors([train_src[i] for i in keep], [train_tgt[i] for i in keep])
    print(f"  done ({time.time() - t0:.0f} s)", flush=True)

    test_sets = {SETS[stem]: data.sample(data.read_tsv(args.data / f"{stem}.tsv"), args.sample, args.seed)
                 for stem in args.sets}
    examples = data.read_tsv(args.examples) if args.examples.is_file() else []
    test_sets["examples"] = examples

    rows, example_links = [], []
    for name, pairs in test_sets.items():
        pairs = [(s, t) for s, t in pairs if words(tr.tok, s) and words(tr.tok, t)]
        src = [" ".join(words(tr.tok, s)) for s, _ in pairs]
        tgt = [" ".join(words(tr.tok, t)) for _, t in pairs]
        fwd, rev = run_eflomal(src, tgt, priors)
        refs = []
        for (s, t), f, r, ws, wt in zip(pairs, fwd, rev, src, tgt):
            f, r = from_pharaoh(f), from_pharaoh(r)
            refs.append((s, t, f & r, grow_diag_final(f, r), len(ws.split()), len(wt.split())))
        if name == "examples":
            example_links = [{"source": s, "target": t, "source_words": I, "target_words": J,
                              "sure": sorted(sure), "possible": sorted(poss)} for s, t, sure, poss, I, J in refs]
            continue
        for v in tr.variants:
            if not tr.models[v].has_attention:
                continue
            counts = {"argmax": Counts(), f"α ≥ {args.threshold:g}": Counts()}
            used = 0
            for s, t, sure, poss, I, J in refs:
                src_ids, tgt_ids = tr.tok.encode(s), tr.tok.encode(t)
                if not 0 < len(src_ids) <= MAX_PIECES or not 0 < len(tgt_ids) < MAX_OUTPUT:
                    continue
                hyp = force_decode(tr.models[v], src_ids, tgt_ids)
                A = word_matrix(hyp.attention, tr.tok.text_pieces(s), tr.tok.pieces(tgt_ids))
                if A.shape != (J, I):
                    continue
                used += 1
                counts["argmax"].add(argmax_links(A), sure, poss)
                counts[f"α ≥ {args.threshold:g}"].add(threshold_links(A, args.threshold), sure, poss)
            for method, c in counts.items():
                sc = c.scores()
                rows.append({"test_set": name, "variant": f"{v} ({method})", "pairs": used, "links": c.predicted,
                             "sure": c.sure, **{k: (None if x != x else x) for k, x in sc.items()}})
                print(f"{name:8s} {v:10s} {method:10s} pairs {used:4d} links {c.predicted:5d}  "
                      f"P {sc['precision']:.3f}  R {sc['recall']:.3f}  AER-formula {sc['aer']:.3f}  "
                      f"({time.time() - t0:.0f} s)", flush=True)

    command = "python scripts/align_eflomal.py " + " ".join(
        ["--sample", str(args.sample), "--seed", str(args.seed), "--sets", *args.sets] +
        (["--train-limit", str(args.train_limit)] if args.train_limit else []))
    out_dir = args.out_dir or args.assets / "question"
    update_json(out_dir / "agreement.json", "eflomal", {
        "command": command, "threshold": args.threshold, "train_pairs": len(keep), "sample": args.sample,
        "aligner": "eflomal 2.0.0 (default settings), priors from the training split; sure = intersection, "
                   "possible = grow-diag-final", "rows": rows})
    update_json(out_dir / "eflomal_examples.json", "examples", example_links)
    if args.out_dir is None:
        write_cards(args.assets, out_dir / "agreement.json")
    print(f"wrote {out_dir / 'agreement.json'} and {out_dir / 'eflomal_examples.json'} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
