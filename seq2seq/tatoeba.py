"""Tatoeba sentence pairs (the manythings.org/anki ``deu-eng`` export) and the
rule that keeps held-out German sentences out of every training set.

File format: one pair a line, ``English<TAB>German`` (later columns, such as
the attribution that newer exports add, are ignored).

Many Tatoeba pairs share one side ("Go away." has 18 German versions), so a
per-line split would put one sentence into train and test at once. The split is
made per *group* instead: the connected component of the graph whose nodes are
sentences (German and English kept apart) and whose edges are the pairs. Each
group gets the bucket of its first German sentence in Python string order::

    bucket = int(sha256(key).hexdigest(), 16) % 100   # 0 test, 1 dev, 2–3 reserved, 4–99 train

Reserved pairs are dropped as soon as their group's bucket is known: they are
never returned or written.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .data import SPLITS, split_of

# The export the shipped models were trained on (docs/data.md).
EXPORT_SHA256 = "a79c90b3cd3102decffa49cc00fb6f20023974f2ae5c4782515bebe133fcc07b"
DEFAULT_PATH = Path("../shared/data/tatoeba-deu-eng/deu.txt")


class TatoebaError(ValueError):
    """The file is missing or is not an ``English<TAB>German`` export."""


def _normalise(s: str) -> str:
    return " ".join(s.split())


def read_pairs(path: Path | str) -> list[tuple[str, str]]:
    """All distinct ``(German, English)`` pairs of the file, whitespace normalised, in file order.

    A line without a tab, or with an empty side, makes the file malformed: the
    error names the line, since a wrong file (the wrong language pair, a Ding
    dictionary, a binary file) should stop ``prepare`` rather than train on noise."""
    path = Path(path)
    if not path.is_file():
        raise TatoebaError(f"Tatoeba file not found: {path} (download deu-eng.zip from "
                           "https://www.manythings.org/anki/ and unpack deu.txt)")
    pairs, seen = [], set()
    try:
        with open(path, encoding="utf-8") as f:
            for n, raw in enumerate(f, 1):
                line = raw.rstrip("\n").rstrip("\r")
                if not line.strip():
                    continue
                cols = line.split("\t")
                en, de = (_normalise(cols[0]), _normalise(cols[1])) if len(cols) >= 2 else ("", "")
                if not en or not de:
                    raise TatoebaError(f"{path}, line {n}: expected 'English<TAB>German', got {line[:80]!r}")
                if (de, en) not in seen:
                    seen.add((de, en))
                    pairs.append((de, en))
    except UnicodeDecodeError as exc:
        raise TatoebaError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not pairs:
        raise TatoebaError(f"{path} holds no sentence pairs")
    return pairs


def group_keys(pairs: list[tuple[str, str]]) -> list[str]:
    """For each pair, the key of its group: the group's German sentence that sorts first."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(x):
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:  # path compression keeps later finds short
            parent[x], x = root, parent[x]
        return root

    for de, en in pairs:
        a, b = find(("de", de)), find(("en", en))
        if a != b:
            parent[a] = b
    key: dict[tuple[str, str], str] = {}
    for de, _ in pairs:
        root = find(("de", de))
        if root not in key or de < key[root]:
            key[root] = de
    return [key[find(("de", de))] for de, _ in pairs]


def bucket_of_key(key: str) -> int:
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % 100


def split_pairs(pairs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """The pairs of each split (train, dev, test); reserved groups are left out."""
    out: dict[str, list[tuple[str, str]]] = {s: [] for s in SPLITS}
    for pair, key in zip(pairs, group_keys(pairs)):
        split = split_of(bucket_of_key(key))
        if split in out:
            out[split].append(pair)
    return out


def read_splits(path: Path | str) -> dict[str, list[tuple[str, str]]]:
    return split_pairs(read_pairs(path))


def drop_held_out(train: list[tuple[str, str]], held_out_german: set[str],
                  held_out_english: frozenset[str] | set[str] = frozenset()) -> tuple[list, list]:
    """Split ``train`` into the pairs kept and those with a side that is a dev or test sentence
    (of any corpus): a model must never have trained on a sentence it is scored on, in either
    direction (German for de→en, English for en→de)."""
    kept, dropped = [], []
    for pair in train:
        (dropped if pair[0] in held_out_german or pair[1] in held_out_english else kept).append(pair)
    return kept, dropped
