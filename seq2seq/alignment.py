"""Word alignments read off attention, and their agreement with another aligner.

A link (i, j) joins source word i and target word j, both counted from 0; in
Pharaoh format it is written ``i-j``. Attention is first brought to words the
way the page shows words: a source word's weight is the sum over its pieces, a
target word's row the mean of its pieces' rows (``</s>`` is dropped), so each
row of A (J target words × I source words) still sums to 1. Then

    argmax alignment       {(argmax_i A_{j,i}, j) for every target word j}
    thresholded alignment  {(i, j) : A_{j,i} ≥ THRESHOLD}

Against a reference with sure links S ⊆ possible links P (Och & Ney 2003):

    precision = |A ∩ P| / |A|      recall = |A ∩ S| / |S|
    AER       = 1 − (|A ∩ S| + |A ∩ P|) / (|A| + |S|)

Here the reference is a statistical aligner (eflomal; sure: the intersection of
its two directions, possible: their grow-diag-final symmetrisation), not human
gold links, so these figures measure agreement with that aligner, nothing more.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tokenizer import word_groups

THRESHOLD = 0.3          # α mass a source word needs for a thresholded link

Links = set[tuple[int, int]]


def word_matrix(attention: np.ndarray, source_pieces: list[str], target_pieces: list[str]) -> np.ndarray:
    """attention (T, S) over pieces → (J, I) over words. ``target_pieces`` may end with ``</s>``,
    whose row is dropped; the rest must match the rows of ``attention``."""
    attention = np.asarray(attention, dtype=np.float64)
    if target_pieces and target_pieces[-1] == "</s>":
        target_pieces = target_pieces[:-1]
    if attention.shape[1] != len(source_pieces) or attention.shape[0] < len(target_pieces):
        raise ValueError(f"attention {attention.shape} does not fit {len(target_pieces)} target "
                         f"and {len(source_pieces)} source pieces")
    cols = np.stack([attention[:, g].sum(1) for g in word_groups(source_pieces)], axis=1)  # (T, I)
    return np.stack([cols[g].mean(0) for g in word_groups(target_pieces)]) if target_pieces \
        else np.zeros((0, cols.shape[1]))


def argmax_links(A: np.ndarray) -> Links:
    return {(int(np.argmax(row)), j) for j, row in enumerate(A)}


def threshold_links(A: np.ndarray, threshold: float = THRESHOLD) -> Links:
    return {(int(i), int(j)) for j, i in zip(*np.nonzero(np.asarray(A) >= threshold))}


def to_pharaoh(links: Links) -> str:
    return " ".join(f"{i}-{j}" for i, j in sorted(links))


def from_pharaoh(line: str) -> Links:
    """Parse ``i-j i-j …``; raise ValueError on anything else."""
    links = set()
    for item in line.split():
        i, sep, j = item.partition("-")
        if not sep or not i.isdigit() or not j.isdigit():
            raise ValueError(f"not a Pharaoh link: {item!r}")
        links.add((int(i), int(j)))
    return links


_NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


def grow_diag_final(forward: Links, reverse: Links) -> Links:
    """Symmetrise two directional alignments (Koehn et al. 2003, as in Moses): start from their
    intersection, grow into neighbouring (incl. diagonal) union links that align a so far
    unaligned word, then add any union link with an unaligned word."""
    union = forward | reverse
    links = set(forward & reverse)
    src_aligned = {i for i, _ in links}
    tgt_aligned = {j for _, j in links}

    def add(i, j):
        links.add((i, j))
        src_aligned.add(i)
        tgt_aligned.add(j)

    grown = True
    while grown:
        grown = False
        for i, j in sorted(links):
            for di, dj in _NEIGHBOURS:
                n = (i + di, j + dj)
                if n in union and n not in links and (n[0] not in src_aligned or n[1] not in tgt_aligned):
                    add(*n)
                    grown = True
    for direction in (forward, reverse):
        for i, j in sorted(direction):
            if (i, j) not in links and (i not in src_aligned or j not in tgt_aligned):
                add(i, j)
    return links


@dataclass
class Counts:
    """Link counts summed over sentences (micro-averaged scores)."""
    predicted: int = 0        # |A|
    sure: int = 0             # |S|
    hit_sure: int = 0         # |A ∩ S|
    hit_possible: int = 0     # |A ∩ P|

    def add(self, predicted: Links, sure: Links, possible: Links) -> None:
        possible = possible | sure                      # S ⊆ P by definition
        self.predicted += len(predicted)
        self.sure += len(sure)
        self.hit_sure += len(predicted & sure)
        self.hit_possible += len(predicted & possible)

    def scores(self) -> dict:
        """precision, recall and the AER formula (NaN where a denominator is 0)."""
        nan = float("nan")
        return {
            "precision": self.hit_possible / self.predicted if self.predicted else nan,
            "recall": self.hit_sure / self.sure if self.sure else nan,
            "aer": 1 - (self.hit_sure + self.hit_possible) / (self.predicted + self.sure)
            if self.predicted + self.sure else nan,
        }
