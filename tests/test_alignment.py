"""Word alignments from attention, grow-diag-final and the agreement formulas, by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seq2seq.alignment import (THRESHOLD, Counts, argmax_links, from_pharaoh, grow_diag_final, threshold_links,
                               to_pharaoh, word_matrix)

SRC = ["▁Ich", "▁wur", "de", "▁gebissen", "."]           # words: Ich | wurde | gebissen.
TGT = ["▁I", "▁was", "▁bit", "ten", "</s>"]               # words: I | was | bitten (+ </s> dropped)
ATT = np.array([
    [0.8, 0.1, 0.0, 0.1, 0.0],
    [0.0, 0.3, 0.3, 0.2, 0.2],
    [0.1, 0.0, 0.1, 0.6, 0.2],
    [0.0, 0.2, 0.0, 0.4, 0.4],
    [0.2, 0.2, 0.2, 0.2, 0.2],
])


def test_word_matrix_sums_source_pieces_and_averages_target_pieces():
    A = word_matrix(ATT, SRC, TGT)
    expected = np.array([
        [0.8, 0.1, 0.1],
        [0.0, 0.6, 0.4],
        [(0.1 + 0.0) / 2, (0.1 + 0.2) / 2, (0.8 + 0.8) / 2],
    ])
    assert np.allclose(A, expected)
    assert np.allclose(A.sum(1), 1)


def test_word_matrix_refuses_mismatched_axes():
    with pytest.raises(ValueError):
        word_matrix(ATT[:, :3], SRC, TGT)


def test_argmax_and_threshold_links():
    A = word_matrix(ATT, SRC, TGT)
    assert argmax_links(A) == {(0, 0), (1, 1), (2, 2)}
    assert threshold_links(A, 0.3) == {(0, 0), (1, 1), (2, 1), (2, 2)}
    assert threshold_links(A) == threshold_links(A, THRESHOLD)
    assert threshold_links(A, 0.5) == {(0, 0), (1, 1), (2, 2)}
    assert threshold_links(A, 0.05) == {(0, 0), (1, 0), (2, 0), (1, 1), (2, 1), (0, 2), (1, 2), (2, 2)}


def test_pharaoh_round_trip():
    links = {(0, 0), (2, 1), (1, 10)}
    assert to_pharaoh(links) == "0-0 1-10 2-1"
    assert from_pharaoh("0-0 1-10  2-1\n") == links
    assert from_pharaoh("") == set()
    for bad in ("0-", "a-1", "1_2", "-1-2"):
        with pytest.raises(ValueError):
            from_pharaoh(bad)


def test_grow_diag_final_by_hand():
    # A union link next to the intersection that aligns a new word is grown into.
    assert grow_diag_final({(0, 0), (1, 1), (2, 1)}, {(0, 0), (1, 1), (1, 2)}) == {(0, 0), (1, 1), (2, 1), (1, 2)}
    # A far-away union link with an unaligned word comes in at the final step.
    assert grow_diag_final({(0, 0), (1, 1), (3, 0)}, {(0, 0), (1, 1)}) == {(0, 0), (1, 1), (3, 0)}
    # A neighbour between two already aligned words never does.
    assert grow_diag_final({(0, 0), (1, 1), (0, 1)}, {(0, 0), (1, 1)}) == {(0, 0), (1, 1)}
    # Diagonal growth, chained: (1,1) is grown from (0,0), then (2,2) from (1,1).
    assert grow_diag_final({(0, 0), (1, 1), (2, 2)}, {(0, 0)}) == {(0, 0), (1, 1), (2, 2)}


links = st.sets(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=12)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(links, links)
def test_grow_diag_final_lies_between_intersection_and_union(fwd, rev):
    g = grow_diag_final(fwd, rev)
    assert fwd & rev <= g <= fwd | rev
    src = {i for i, _ in fwd | rev}
    tgt = {j for _, j in fwd | rev}
    assert src == {i for i, _ in g} and tgt == {j for _, j in g}    # every word of the union ends up aligned


def test_agreement_formulas_by_hand():
    c = Counts()
    c.add({(0, 0), (1, 1), (2, 2)}, sure={(0, 0)}, possible={(1, 1), (1, 2)})   # S is added to P
    s = c.scores()
    assert (c.predicted, c.sure, c.hit_sure, c.hit_possible) == (3, 1, 1, 2)
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(1.0)
    assert s["aer"] == pytest.approx(1 - 3 / 4)
    c.add({(0, 1)}, sure={(0, 0), (1, 1)}, possible=set())   # a second sentence: micro-averaged
    s = c.scores()
    assert s["precision"] == pytest.approx(2 / 4)
    assert s["recall"] == pytest.approx(1 / 3)
    assert s["aer"] == pytest.approx(1 - (1 + 2) / (4 + 3))


def test_perfect_and_empty_agreement():
    c = Counts()
    c.add({(0, 0), (1, 1)}, {(0, 0), (1, 1)}, {(0, 0), (1, 1)})
    assert c.scores() == {"precision": 1.0, "recall": 1.0, "aer": 0.0}
    assert all(math.isnan(v) for v in Counts().scores().values())


def test_eflomal_script_on_a_small_synthetic_corpus(tiny_assets, tmp_path):
    """The whole script (training, priors, test alignment, agreement of every variant) on invented pairs."""
    pytest.importorskip("eflomal")
    import json
    import random
    import sys
    from pathlib import Path

    from seq2seq.attention import VARIANTS

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import align_eflomal

    rng = random.Random(0)
    # Every word is drawn on its own, so each German word co-occurs with exactly one English word
    # (with "der Hund" ↔ "the dog" as a unit, "der" and "Hund" would fit "dog" equally well, and
    # eflomal, which cannot be seeded, would pick between them by chance).
    slots = ([("der", "the"), ("ein", "a")], [("Hund", "dog"), ("Vogel", "bird"), ("Mann", "man")],
             [("schläft", "sleeps"), ("läuft", "runs"), ("spielt", "plays")], [("heute", "today"), ("hier", "here")])
    def pair():
        words = [rng.choice(slot) for slot in slots]
        return " ".join(de for de, _ in words), " ".join(en for _, en in words)
    for name, n in (("train", 300), ("test", 6), ("tatoeba-test", 4)):
        (tmp_path / f"{name}.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in (pair() for _ in range(n))),
                                              encoding="utf-8")
    examples = tmp_path / "examples.tsv"
    examples.write_text("der Hund schläft heute\tthe dog sleeps today\n", encoding="utf-8")
    align_eflomal.main(["--data", str(tmp_path), "--assets", str(tiny_assets), "--sample", "5",
                        "--examples", str(examples), "--out-dir", str(tmp_path / "out")])
    doc = json.loads((tmp_path / "out" / "agreement.json").read_text(encoding="utf-8"))["eflomal"]
    attention = [v for v in VARIANTS if v != "none"]
    assert [r["variant"] for r in doc["rows"]] == [f"{v} ({m})" for _ in ("ding", "tatoeba") for v in attention
                                                   for m in ("argmax", "α ≥ 0.3")]
    for r in doc["rows"]:
        assert r["pairs"] == (5 if r["test_set"] == "ding" else 4)
        assert 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1 and 0 <= r["aer"] <= 1
    (ex,) = json.loads((tmp_path / "out" / "eflomal_examples.json").read_text(encoding="utf-8"))["examples"]
    assert (ex["source_words"], ex["target_words"]) == (4, 4)
    # the corpus is a word-for-word code: eflomal must find it, in source-target (i-j) order
    assert {(0, 0), (1, 1), (2, 2), (3, 3)} <= {tuple(x) for x in ex["sure"]}
    assert {tuple(x) for x in ex["sure"]} <= {tuple(x) for x in ex["possible"]}
