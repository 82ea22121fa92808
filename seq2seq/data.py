"""Corpus reading: the Ding German–English dictionary and plain TSV pairs.

Ding line format::

    German alt1 | German alt2 :: English alt1 | English alt2

The ``|`` alternatives are aligned position by position; within an alternative
``; `` separates synonyms; ``{…}`` and ``[…]`` are grammatical or domain
annotations; lines starting with ``#`` are headers.

The split is fixed and made per dictionary line, so no pair leaks between
splits: ``bucket = sha256(line) % 100``; bucket 0 is test, 1 is dev, 2–3 are
reserved (never read past the hash), 4–99 are train.
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, asdict
from pathlib import Path
from typing import Iterable, Iterator

DING_PATH = Path("/usr/share/trans/de-en")
SPLITS = ("train", "dev", "test")  # "reserved" is deliberately not a split one can ask for


def bucket_of(line: str) -> int:
    """The split bucket 0..99 of a raw dictionary line (no trailing newline)."""
    return int(hashlib.sha256(line.encode("utf-8")).hexdigest(), 16) % 100


def split_of(bucket: int) -> str:
    if bucket == 0:
        return "test"
    if bucket == 1:
        return "dev"
    if bucket in (2, 3):
        return "reserved"
    return "train"


def iter_split_lines(path: Path | str, split: str) -> Iterator[str]:
    """Yield the raw dictionary lines of one split. Reserved lines are dropped
    right after hashing: their text is never parsed, returned or written."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            if split_of(bucket_of(line)) == split:
                yield line


@dataclass(frozen=True)
class Cleaning:
    """Cleaning rules for Ding entries (see docs/data.md for what each rule measures).

    synonyms: "first" keeps the first synonym of each side; "all" pairs the
        i-th German synonym with the i-th English one where both exist.
    parens: "drop" removes ``(…)`` explanations, "keep" keeps their text.
    slashes: "first" keeps the first of ``a/b`` alternatives, "keep" leaves them.
    expand_abbrev: spell out ``etw.``/``jdn.``/``sth.``/``sb.`` and friends.
    single_word_keep: share of one-word-to-one-word pairs kept in train. The
        dictionary is dominated by them; dropping them all measured best on dev
        chrF, one-word dev pairs included (docs/data.md).
    """

    synonyms: str = "first"
    parens: str = "drop"
    slashes: str = "first"
    expand_abbrev: bool = True
    single_word_keep: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


_ANNOT = re.compile(r"\{[^}]*\}|\[[^\]]*\]")
_PARENS = re.compile(r"\([^)]*\)")
_SLASH = re.compile(r"(\w[\w'’-]*)(?:/[\w'’-]+)+")
_SPACES = re.compile(r"\s+")
_ABBREV_DE = {
    "etw.": "etwas", "jdn.": "jemanden", "jdm.": "jemandem", "jds.": "jemandes",
    "jd.": "jemand", "usw.": "und so weiter", "z. B.": "zum Beispiel",
}
_ABBREV_EN = {
    "sth.": "something", "sb.": "somebody", "sb.'s": "somebody's", "sb.’s": "somebody's",
    "etc.": "et cetera",
}


def _expand(text: str, table: dict[str, str]) -> str:
    for short, long in table.items():
        text = re.sub(r"(?<!\w)" + re.escape(short) + r"(?!\w)", long, text)
    return text


def clean_text(text: str, rules: Cleaning, lang: str) -> str:
    text = _ANNOT.sub(" ", text)
    if rules.parens == "drop":
        text = _PARENS.sub(" ", text)
    else:
        text = text.replace("(", " ").replace(")", " ")
    if rules.slashes == "first":
        text = _SLASH.sub(r"\1", text)
    if rules.expand_abbrev:
        text = _expand(text, _ABBREV_DE if lang == "de" else _ABBREV_EN)
    text = text.replace("~", " ")
    return _SPACES.sub(" ", text).strip(" ,;")


def _synonyms(alt: str) -> list[str]:
    # "; " separates synonyms, but never inside annotations or parentheses.
    parts, depth, cur = [], 0, []
    for ch in alt:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == ";" and depth <= 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def parse_ding_line(line: str, rules: Cleaning = Cleaning()) -> list[tuple[str, str]]:
    """Turn one dictionary line into cleaned (German, English) pairs.

    A line whose ``|`` alternative counts differ between the two sides is
    skipped (returns []), since position-by-position alignment would be wrong.
    Header lines (starting with ``#``) give no pairs either.
    """
    if "::" not in line or line.startswith("#"):
        return []
    de_side, en_side = line.split("::", 1)
    de_alts, en_alts = de_side.split(" | "), en_side.split(" | ")
    if len(de_alts) != len(en_alts):
        return []
    pairs = []
    for de_alt, en_alt in zip(de_alts, en_alts):
        de_syn, en_syn = _synonyms(de_alt), _synonyms(en_alt)
        if not de_syn or not en_syn:
            continue
        n = min(len(de_syn), len(en_syn)) if rules.synonyms == "all" else 1
        for de, en in zip(de_syn[:n], en_syn[:n]):
            de, en = clean_text(de, rules, "de"), clean_text(en, rules, "en")
            if de and en:
                pairs.append((de, en))
    return pairs


def _keep_single_word(pair: tuple[str, str], keep: float, line: str) -> bool:
    if keep >= 1.0 or " " in pair[0] or " " in pair[1]:
        return True
    # Deterministic per pair, so a split never depends on reading order.
    h = int(hashlib.sha256((line + "\t" + pair[0]).encode("utf-8")).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < keep


def read_ding(path: Path | str, split: str, rules: Cleaning = Cleaning(),
              dedupe: bool = True) -> list[tuple[str, str]]:
    """All cleaned pairs of one split of the Ding dictionary.

    Single-word downsampling applies to train only: dev and test keep every
    pair so that the reported figures cover the whole split.
    """
    pairs, seen = [], set()
    for line in iter_split_lines(path, split):
        for pair in parse_ding_line(line, rules):
            if split == "train" and not _keep_single_word(pair, rules.single_word_keep, line):
                continue
            if dedupe:
                if pair in seen:
                    continue
                seen.add(pair)
            pairs.append(pair)
    return pairs


def _tsv_pair(line: str) -> tuple[str, str] | None:
    cols = line.split("\t")
    if len(cols) >= 2 and cols[0].strip() and cols[1].strip():
        return cols[0].strip(), cols[1].strip()
    return None


def read_tsv(path: Path | str, split: str | None = None) -> list[tuple[str, str]]:
    """Pairs from a ``source<TAB>target`` file; blank and malformed lines are skipped.

    With ``split`` set, the file is split by line hash exactly like the dictionary
    (a user's own corpus gets the same fixed, leak-free split)."""
    if split is not None:
        lines = list(iter_split_lines(path, split))
    else:
        with open(path, encoding="utf-8") as f:
            lines = [raw.rstrip("\n") for raw in f]
    return [p for p in map(_tsv_pair, lines) if p is not None]


def write_tsv(path: Path | str, pairs: Iterable[tuple[str, str]]) -> int:
    n = 0
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for src, tgt in pairs:
            f.write(f"{src}\t{tgt}\n")
            n += 1
    return n


def sample(pairs: list, k: int, seed: int = 0) -> list:
    """A reproducible subsample (used for quick dev evaluation during training)."""
    if k >= len(pairs):
        return list(pairs)
    return random.Random(seed).sample(pairs, k)
