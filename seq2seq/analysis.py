"""Pure computations on attention weights α (T target steps × S source pieces): words
instead of pieces, entropy, coverage and where the mass goes. No model, no drawing.

Words, not pieces: a source word's weight is the **sum** over its pieces (α_t stays a
distribution over the source); a target word's row is the **mean** of its pieces' rows
(so every row still sums to 1). A final ``</s>`` stays its own target word.

Coverage of a source word, Σ_t α_{t,i}, grows with the output: T steps hand out T units
of weight. So it is judged against its fair share, what the output length implies if
every source word got the same: T / (number of source words). A word is flagged as
never attended below ``NEVER_SHARE`` of that share and as over-attended above
``OVER_SHARE`` times it.
"""
from __future__ import annotations

import unicodedata

import numpy as np

from .tokenizer import word_groups, words_from_pieces

EOS_PIECE = "</s>"
NEVER_SHARE = 0.2        # coverage below this fraction of the fair share T / S_words: never attended
OVER_SHARE = 2.5         # above this multiple of it: over-attended


def target_groups(pieces: list[str]) -> list[list[int]]:
    """``word_groups`` for target pieces, with a final ``</s>`` kept as its own word."""
    if pieces and pieces[-1] == EOS_PIECE:
        return word_groups(pieces[:-1]) + [[len(pieces) - 1]]
    return word_groups(pieces)


def target_words(pieces: list[str]) -> list[str]:
    if pieces and pieces[-1] == EOS_PIECE:
        return (words_from_pieces(pieces[:-1]) if len(pieces) > 1 else []) + [EOS_PIECE]
    return words_from_pieces(pieces)


def to_words(matrix, source_pieces: list[str], target_pieces: list[str]) -> np.ndarray:
    """(T × S pieces) → (target words × source words): columns summed per source word,
    rows averaged per target word."""
    m = np.asarray(matrix, np.float64)
    cols = np.stack([m[:, g].sum(axis=1) for g in word_groups(source_pieces)], axis=1)
    return np.stack([cols[g].mean(axis=0) for g in target_groups(target_pieces)], axis=0)


def view(matrix, source_pieces: list[str], target_pieces: list[str], words: bool):
    """(matrix or None, row labels, column labels) in pieces or in words."""
    if not words:
        return (None if matrix is None else np.asarray(matrix)), list(target_pieces), list(source_pieces)
    rows, cols = target_words(target_pieces), words_from_pieces(source_pieces)
    return (None if matrix is None else to_words(matrix, source_pieces, target_pieces)), rows, cols


def word_logprobs(logprobs: list[float], target_pieces: list[str]) -> list[float]:
    """log p of each target word: the sum over its pieces."""
    return [float(sum(logprobs[i] for i in g)) for g in target_groups(target_pieces)]


def is_punctuation(token: str) -> bool:
    s = token.replace("▁", "")
    return bool(s) and all(unicodedata.category(c).startswith("P") for c in s)


def entropy_bits(matrix) -> np.ndarray:
    """H(α_t) in bits for every row."""
    a = np.asarray(matrix, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(a > 0, a * np.log2(a), 0.0).sum(axis=1)


def diagnostics(matrix, columns: list[str]) -> dict:
    """Entropy, coverage and mass of one attention matrix (T × S) whose columns are ``columns``
    (source pieces or words; coverage and the masses are per column, so give words to judge
    words):

    * ``entropy``: H(α_t) per step, in bits; ``uniform_entropy``: log2 S, what spreading
      evenly would give;
    * ``coverage``: Σ_t α_{t,i} per column; ``fair_share``: T / S; ``never``/``over``: the
      columns below ``NEVER_SHARE`` / above ``OVER_SHARE`` times the fair share;
    * ``punctuation_mass``: mean mass per step on punctuation columns;
      ``final_word_mass``: mean mass per step on the last column that is not punctuation
      (the final word, apart from the full stop, so never the same column twice).
    """
    a = np.asarray(matrix, np.float64)
    T, S = a.shape
    ent = entropy_bits(a)
    cov = a.sum(axis=0)
    share = T / S if S else 0.0
    punct = [i for i, c in enumerate(columns) if is_punctuation(c)]
    words = [i for i in range(S) if i not in punct]
    return {
        "entropy": [float(x) for x in ent],
        "mean_entropy": float(ent.mean()) if T else 0.0,
        "uniform_entropy": float(np.log2(S)) if S else 0.0,
        "coverage": [float(c) for c in cov],
        "fair_share": share,
        "never": [columns[i] for i in range(S) if cov[i] < NEVER_SHARE * share],
        "over": [columns[i] for i in range(S) if cov[i] > OVER_SHARE * share],
        "punctuation_mass": float(a[:, punct].sum(axis=1).mean()) if punct and T else 0.0,
        "final_word": columns[words[-1]] if words else None,
        "final_word_mass": float(a[:, words[-1]].mean()) if words and T else 0.0,
    }
