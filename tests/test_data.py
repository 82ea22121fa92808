"""Ding parsing and cleaning, the fixed hash split, and TSV reading."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from seq2seq import data
from seq2seq.data import (Cleaning, bucket_of, iter_split_lines, parse_ding_line, read_ding, read_tsv,
                          split_of, write_tsv)

PROPS = settings(deadline=None, max_examples=60, derandomize=True)


# ---- parse_ding_line --------------------------------------------------------------------

def test_alternatives_are_aligned_and_first_synonym_kept():
    line = "Haus {n}; Gebäude {n} | Häuser {pl}; Gebäude {pl} :: house; building | houses; buildings"
    assert parse_ding_line(line) == [("Haus", "house"), ("Häuser", "houses")]


def test_all_synonyms_are_paired_by_position():
    line = "Haus {n}; Gebäude {n}; Bau {m} | Häuser {pl} :: house; building | houses; homes"
    assert parse_ding_line(line, Cleaning(synonyms="all")) == [
        ("Haus", "house"), ("Gebäude", "building"), ("Häuser", "houses")]


@pytest.mark.parametrize("line", [
    "Haus {n} | Häuser {pl} :: house",
    "Haus :: house | houses",
    "a | b | c :: a | b",
])
def test_mismatched_alternative_counts_are_skipped(line):
    assert parse_ding_line(line) == []


def test_annotations_are_removed():
    assert parse_ding_line("Rechner {m} [comp.] [ugs.] :: computer [Am.] [coll.]") == [("Rechner", "computer")]


def test_parentheses_dropped_or_kept():
    line = "Aal {m} (auf der Speisekarte) [cook.] :: eel (on a menu)"
    assert parse_ding_line(line) == [("Aal", "eel")]
    assert parse_ding_line(line, Cleaning(parens="keep")) == [("Aal auf der Speisekarte", "eel on a menu")]


def test_semicolon_inside_parentheses_is_not_a_synonym_separator():
    assert parse_ding_line("Aal (Fisch; Speise) :: eel (fish; dish)") == [("Aal", "eel")]
    assert parse_ding_line("Aal (Fisch; Speise) :: eel (fish; dish)", Cleaning(parens="keep")) == [
        ("Aal Fisch; Speise", "eel fish; dish")]


def test_slashes_keep_first_alternative():
    line = "Tür/Tor {f} öffnen :: to open the door/gate"
    assert parse_ding_line(line) == [("Tür öffnen", "to open the door")]
    assert parse_ding_line(line, Cleaning(slashes="keep")) == [("Tür/Tor öffnen", "to open the door/gate")]


@pytest.mark.parametrize("line,expected", [
    ("etw. tun :: to do sth.", ("etwas tun", "to do something")),
    ("jdm. helfen :: to help sb.", ("jemandem helfen", "to help somebody")),
    ("jdn. anrufen :: to call sb.", ("jemanden anrufen", "to call somebody")),
    ("jds. Auto :: sb.'s car", ("jemandes Auto", "somebody's car")),
    ("Äpfel, Birnen usw. :: apples, pears etc.", ("Äpfel, Birnen und so weiter", "apples, pears et cetera")),
])
def test_abbreviations_expanded(line, expected):
    assert parse_ding_line(line) == [expected]


def test_abbreviations_kept_when_asked():
    assert parse_ding_line("etw. tun :: to do sth.", Cleaning(expand_abbrev=False)) == [("etw. tun", "to do sth.")]


def test_abbreviation_inside_a_word_is_not_expanded():
    # "sb." only as a word of its own: "Gasb." is not "Gasomebody".
    assert parse_ding_line("Gasb. :: Gasb.") == [("Gasb.", "Gasb.")]


@pytest.mark.parametrize("line", [
    "# Version :: devel 2023-01-30",
    "# License :: GPL Version 2 or later; GNU General Public License",
    "#comment :: text",
])
def test_header_lines_are_skipped(line):
    assert parse_ding_line(line) == []


@pytest.mark.parametrize("line", ["", "no separator here", "{n} [ugs.] :: house", "Haus :: (only an explanation)"])
def test_lines_without_a_usable_pair_give_nothing(line):
    assert parse_ding_line(line) == []


def test_tilde_becomes_space_and_spaces_collapse():
    assert parse_ding_line("Haus~tür   {f} :: front  door") == [("Haus tür", "front door")]


# Well-formed random lines: the k-th pair comes from the k-th alternative on both sides.
_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüß", min_size=1, max_size=8)
_annot = st.sampled_from(["", " {m}", " {f}", " {pl}", " [ugs.]", " [comp.] {n}", " (Erklärung hier)"])


@st.composite
def _synonym(draw):
    words = draw(st.lists(_word, min_size=1, max_size=3))
    return " ".join(words), " ".join(words) + draw(_annot)


@st.composite
def _ding_line(draw):
    n_alt = draw(st.integers(1, 4))
    de_alts, en_alts, expected = [], [], []
    for _ in range(n_alt):
        de = draw(st.lists(_synonym(), min_size=1, max_size=3))
        en = draw(st.lists(_synonym(), min_size=1, max_size=3))
        de_alts.append("; ".join(raw for _, raw in de))
        en_alts.append("; ".join(raw for _, raw in en))
        expected.append((de[0][0], en[0][0]))
    return " | ".join(de_alts) + " :: " + " | ".join(en_alts), expected


@PROPS
@given(_ding_line())
def test_random_well_formed_lines_parse_to_aligned_pairs(case):
    line, expected = case
    pairs = parse_ding_line(line)
    assert pairs == expected
    for de, en in pairs:
        for text in (de, en):
            assert text == text.strip() and "  " not in text
            assert not set(text) & set("{}[]()|;")


@PROPS
@given(st.text(max_size=80))
def test_parse_never_crashes_and_outputs_are_clean(line):
    for de, en in parse_ding_line(line):
        assert de and en
        assert de == de.strip(" ,;") and en == en.strip(" ,;")


# ---- the split --------------------------------------------------------------------------

@PROPS
@given(st.text(max_size=60))
def test_bucket_follows_the_spec(line):
    assert bucket_of(line) == int(hashlib.sha256(line.encode("utf-8")).hexdigest(), 16) % 100
    assert 0 <= bucket_of(line) < 100


def test_bucket_known_value():
    line = "Haus {n} :: house"
    assert bucket_of(line) == int.from_bytes(hashlib.sha256(line.encode()).digest(), "big") % 100


def test_split_of_follows_the_spec():
    assert split_of(0) == "test"
    assert split_of(1) == "dev"
    assert split_of(2) == split_of(3) == "reserved"
    assert all(split_of(b) == "train" for b in range(4, 100))


def _lines_with_buckets() -> dict[int, list[str]]:
    """Synthetic Ding-like lines, searched until every special bucket has some."""
    found: dict[int, list[str]] = {b: [] for b in range(4)}
    train: list[str] = []
    i = 0
    while min(len(v) for v in found.values()) < 3 or len(train) < 30:
        line = f"Wort{i} {{n}} :: word{i}"
        b = bucket_of(line)
        (found[b] if b < 4 else train).append(line)
        i += 1
    found[99] = train
    return found


@pytest.fixture
def split_file(tmp_path) -> tuple[Path, dict[str, list[str]]]:
    by_bucket = _lines_with_buckets()
    lines = sorted(line for v in by_bucket.values() for line in v)  # mixed order
    path = tmp_path / "corpus.txt"
    path.write_text("# Version :: test\n\n   \n" + "\n".join(lines) + "\n", encoding="utf-8")
    expected = {"test": [], "dev": [], "train": [], "reserved": []}
    for line in lines:
        expected[split_of(bucket_of(line))].append(line)
    assert expected["reserved"] and expected["test"] and expected["dev"]
    return path, expected


def test_iter_split_lines_partitions_and_never_yields_reserved(split_file):
    path, expected = split_file
    got = {s: list(iter_split_lines(path, s)) for s in data.SPLITS}
    for s in data.SPLITS:
        assert got[s] == expected[s]
        assert got[s] == list(iter_split_lines(path, s))  # deterministic
    everything = [line for s in data.SPLITS for line in got[s]]
    assert len(everything) == len(set(everything))
    assert not set(everything) & set(expected["reserved"])
    assert all(not line.startswith("#") and line.strip() for line in everything)


@pytest.mark.parametrize("split", ["reserved", "all", "", "Train"])
def test_unknown_split_raises(split_file, split):
    path, _ = split_file
    with pytest.raises(ValueError):
        list(iter_split_lines(path, split))


def test_read_ding_reads_only_its_split(split_file):
    path, expected = split_file
    rules = Cleaning(single_word_keep=1.0)
    for s in data.SPLITS:
        assert read_ding(path, s, rules) == [p for line in expected[s] for p in parse_ding_line(line, rules)]
    reserved_words = {line.split()[0] for line in expected["reserved"]}
    assert not reserved_words & {de for s in data.SPLITS for de, _ in read_ding(path, s)}


def test_read_ding_dedupes(tmp_path):
    path = tmp_path / "d.txt"
    # The same pair from two different lines that both land in train.
    lines = [f"Haus {{n}} :: house [{i}]" for i in range(200)]
    lines = [line for line in lines if split_of(bucket_of(line)) == "train"][:3]
    path.write_text("\n".join(lines) + "\n")
    assert read_ding(path, "train", Cleaning(single_word_keep=1.0)) == [("Haus", "house")]
    assert len(read_ding(path, "train", Cleaning(single_word_keep=1.0), dedupe=False)) == 3


def test_single_word_downsampling_applies_to_train_only_and_is_deterministic(tmp_path):
    lines = [f"Wort{i} :: word{i}" for i in range(3000)]
    path = tmp_path / "d.txt"
    path.write_text("\n".join(lines) + "\n")
    n_train = sum(1 for _ in iter_split_lines(path, "train"))
    half = read_ding(path, "train", Cleaning(single_word_keep=0.5))
    assert 0.4 * n_train < len(half) < 0.6 * n_train
    assert half == read_ding(path, "train", Cleaning(single_word_keep=0.5))
    assert read_ding(path, "train", Cleaning(single_word_keep=0.0)) == []
    n_test = sum(1 for _ in iter_split_lines(path, "test"))
    assert len(read_ding(path, "test", Cleaning(single_word_keep=0.0))) == n_test


# ---- TSV --------------------------------------------------------------------------------

def test_read_tsv_skips_blank_and_malformed_lines(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("Haus\thouse\n\nkein tab\n\tleer\nleer\t \n Baum \t tree \textra\n", encoding="utf-8")
    assert read_tsv(path) == [("Haus", "house"), ("Baum", "tree")]


def test_write_then_read_tsv_round_trips(tmp_path):
    pairs = [("Guten Morgen", "good morning"), ("Straße", "street"), ("😀 ja", "yes")]
    path = tmp_path / "sub" / "x.tsv"
    assert write_tsv(path, pairs) == 3
    assert read_tsv(path) == pairs


def test_read_tsv_with_split_uses_the_line_hash(tmp_path):
    lines = [f"Satz {i}\tsentence {i}" for i in range(600)]
    path = tmp_path / "p.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    seen = []
    for s in data.SPLITS:
        got = read_tsv(path, s)
        want = [tuple(line.split("\t")) for line in lines if split_of(bucket_of(line)) == s]
        assert got == want and got
        seen += got
    reserved = [tuple(line.split("\t")) for line in lines if split_of(bucket_of(line)) == "reserved"]
    assert reserved and not set(reserved) & set(seen)
    assert len(seen) + len(reserved) == len(lines)
    with pytest.raises(ValueError):
        read_tsv(path, "reserved")


def test_sample_is_reproducible():
    pairs = list(range(100))
    assert data.sample(pairs, 10, seed=3) == data.sample(pairs, 10, seed=3)
    assert len(set(data.sample(pairs, 10))) == 10
    assert data.sample(pairs, 500) == pairs


# ---- the real dictionary ----------------------------------------------------------------

def test_published_split_counts():
    if not data.DING_PATH.is_file():
        pytest.skip(f"{data.DING_PATH} not installed (apt-get install trans-de-en)")
    counts = {s: sum(1 for _ in iter_split_lines(data.DING_PATH, s)) for s in data.SPLITS}
    assert counts == {"train": 197_877, "dev": 2_030, "test": 2_096}
