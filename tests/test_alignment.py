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
