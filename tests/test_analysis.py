"""seq2seq/analysis.py against hand-computed examples."""
from __future__ import annotations

import numpy as np
import pytest

from seq2seq import analysis


def test_words_sum_source_pieces_and_average_target_pieces():
    src = ["▁Der", "▁Hund", "e", "▁bellt", "."]
    tgt = ["▁the", "▁dog", "s", "</s>"]
    m = np.array([[0.5, 0.1, 0.1, 0.2, 0.1],
                  [0.0, 0.6, 0.2, 0.2, 0.0],
                  [0.0, 0.2, 0.4, 0.0, 0.4],
                  [0.1, 0.1, 0.1, 0.1, 0.6]])
    w, rows, cols = analysis.view(m, src, tgt, words=True)
    assert cols == ["Der", "Hunde", "bellt."] and rows == ["the", "dogs", "</s>"]
    # by hand: row "dogs" = mean of (0.8, 0.2) and (0.6, 0.4), Hund+e and bellt+. summed first
    np.testing.assert_allclose(w, [[0.5, 0.2, 0.3], [0.0, 0.7, 0.3], [0.1, 0.2, 0.7]])
    same, rows, cols = analysis.view(m, src, tgt, words=False)
    assert same is not None and rows == tgt and cols == src
    assert analysis.view(None, src, tgt, True)[0] is None


def test_target_groups_keep_eos_apart():
    assert analysis.target_groups(["▁a", "b", "</s>"]) == [[0, 1], [2]]
    assert analysis.target_groups(["</s>"]) == [[0]]
    assert analysis.target_words(["▁a", "b", "</s>"]) == ["ab", "</s>"]
    assert analysis.word_logprobs([-1.0, -0.5, -0.25], ["▁a", "b", "</s>"]) == [-1.5, -0.25]


def test_entropy_in_bits():
    np.testing.assert_allclose(analysis.entropy_bits([[1, 0, 0, 0], [0.25] * 4, [0.5, 0.5, 0, 0]]), [0, 2, 1])


def test_coverage_is_judged_against_the_output_length():
    # 6 steps over 3 words: a fair share is 2 each. "b" gets 3.0 (1.5 × share: fine), "a" gets 0.2
    # (0.1 × share: never attended); with a fixed threshold of 1.5 "b" would count as over-attended.
    a = np.array([[0.1, 0.5, 0.4]] * 2 + [[0.0, 0.5, 0.5]] * 4)
    d = analysis.diagnostics(a, ["a", "b", "c"])
    assert d["fair_share"] == 2.0
    np.testing.assert_allclose(d["coverage"], [0.2, 3.0, 2.8])
    assert d["never"] == ["a"] and d["over"] == []
    # one step on one word of three: share 1/3, coverage 1 is 3 × the share: over
    d = analysis.diagnostics(np.array([[0.0, 1.0, 0.0]]), ["x", "y", "z"])
    assert d["over"] == ["y"] and d["never"] == ["x", "z"]


def test_final_word_and_punctuation_are_different_columns():
    cols = ["▁Er", "▁kommt", "▁."]
    a = np.array([[0.2, 0.3, 0.5], [0.0, 0.6, 0.4]])
    d = analysis.diagnostics(a, cols)
    assert d["final_word"] == "▁kommt"
    assert d["final_word_mass"] == pytest.approx(0.45) and d["punctuation_mass"] == pytest.approx(0.45 + 0.0)
    a = np.array([[0.1, 0.2, 0.7]])
    d = analysis.diagnostics(a, cols)
    assert d["final_word_mass"] == pytest.approx(0.2) and d["punctuation_mass"] == pytest.approx(0.7)
    assert d["uniform_entropy"] == pytest.approx(np.log2(3))
    none = analysis.diagnostics(np.array([[0.5, 0.5]]), ["▁a", "▁b"])
    assert none["punctuation_mass"] == 0.0 and none["final_word"] == "▁b"


def test_is_punctuation():
    assert analysis.is_punctuation("▁.") and analysis.is_punctuation("?!") and analysis.is_punctuation("«")
    assert not analysis.is_punctuation("▁") and not analysis.is_punctuation("a.") and not analysis.is_punctuation("$")
