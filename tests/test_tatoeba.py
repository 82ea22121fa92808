"""Tatoeba reading, the sentence-group split and the cross-corpus leak rule, on
synthetic files the tests write themselves (never the real export)."""
from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from seq2seq import tatoeba
from seq2seq.__main__ import main
from seq2seq.data import split_of

REAL = Path(__file__).resolve().parent.parent / tatoeba.DEFAULT_PATH


def write_export(path: Path, rows: list[tuple[str, str]]) -> Path:
    """rows are (English, German), written as the export writes them (with an attribution column)."""
    path.write_text("".join(f"{en}\t{de}\tCC-BY 2.0 (France) Attribution: tatoeba.org\n" for en, de in rows),
                    encoding="utf-8")
    return path


def brute_force_groups(pairs):
    """Reference: grow each group by repeated scans until nothing joins (quadratic, obviously right)."""
    groups = []
    for de, en in pairs:
        joined = [g for g in groups if ("de", de) in g or ("en", en) in g]
        merged = {("de", de), ("en", en)}.union(*joined)
        groups = [g for g in groups if g not in joined] + [merged]
    return {pair: min(s for side, s in g if side == "de") for g in groups
            for pair in pairs if ("de", pair[0]) in g}


def test_reader_normalises_whitespace_drops_duplicates_and_swaps_columns(tmp_path):
    f = write_export(tmp_path / "deu.txt", [("Go  away.", "Geh weg."), ("Go away.", " Geh   weg. "),
                                            ("Hi.", "Hallo!")])
    assert tatoeba.read_pairs(f) == [("Geh weg.", "Go away."), ("Hallo!", "Hi.")]


@pytest.mark.parametrize("text, needle", [
    ("Hello there\n", "line 1"),                 # no tab
    ("Hi.\tHallo!\n\tNur Deutsch\n", "line 2"),  # an empty side
    ("", "no sentence pairs"),
])
def test_malformed_file_names_the_problem(tmp_path, text, needle):
    f = tmp_path / "deu.txt"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(tatoeba.TatoebaError, match=needle):
        tatoeba.read_pairs(f)


def test_binary_and_missing_files(tmp_path):
    f = tmp_path / "deu.txt"
    f.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(tatoeba.TatoebaError, match="not UTF-8"):
        tatoeba.read_pairs(f)
    with pytest.raises(tatoeba.TatoebaError, match="not found"):
        tatoeba.read_pairs(tmp_path / "nope.txt")


def test_group_key_is_the_first_german_sentence_of_the_component():
    # "Go away." links three German sentences; "Geh!" links on to "Go!" via "Verschwinde!".
    pairs = [("Geh weg.", "Go away."), ("Hau ab.", "Go away."), ("Verschwinde!", "Go away."),
             ("Verschwinde!", "Get lost."), ("Hallo!", "Hi.")]
    keys = tatoeba.group_keys(pairs)
    assert keys == ["Geh weg."] * 4 + ["Hallo!"]


sentences = st.sampled_from([f"s{i}" for i in range(12)])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(sentences, sentences), min_size=1, max_size=30, unique=True))
def test_groups_equal_a_brute_force_oracle(pairs):
    pairs = [(f"de {d}", f"en {e}") for d, e in pairs]
    oracle = brute_force_groups(pairs)
    assert tatoeba.group_keys(pairs) == [oracle[p] for p in pairs]


def test_split_keeps_shared_sentences_together_and_never_yields_reserved():
    rng = random.Random(0)
    pairs = list({(f"Satz {rng.randrange(300)}.", f"Sentence {rng.randrange(300)}.") for _ in range(600)})
    splits = tatoeba.split_pairs(pairs)
    where = {}
    for split, ps in splits.items():
        for de, en in ps:
            for node in (("de", de), ("en", en)):
                assert where.setdefault(node, split) == split, f"{node} in two splits"
    keys = dict(zip(pairs, tatoeba.group_keys(pairs)))
    kept = {p for ps in splits.values() for p in ps}
    for p in pairs:
        bucket = int(hashlib.sha256(keys[p].encode("utf-8")).hexdigest(), 16) % 100
        assert (p in kept) == (split_of(bucket) != "reserved")
        if p in kept:
            assert p in splits[split_of(bucket)]
    assert len(kept) < len(pairs), "the sample should contain some reserved groups"


def test_leak_rule_drops_training_pairs_with_a_held_out_side():
    train = [("Ich habe Hunger.", "I'm hungry."), ("Das Haus", "the house"), ("Guten Tag", "hello")]
    kept, dropped = tatoeba.drop_held_out(train, {"Das Haus", "Unbekannt"})
    assert kept == [train[0], train[2]] and dropped == [train[1]]
    kept, dropped = tatoeba.drop_held_out(train, {"Unbekannt"}, {"hello"})   # English, for en→de
    assert kept == train[:2] and dropped == [train[2]]


def _ding(path: Path, german: list[str]):
    lines = ["# header"] + [f"{de} {i} | {de} :: word {i} | thing {i}" for i, de in enumerate(german)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_prepare_mixes_both_corpora_without_a_leak(tmp_path, capsys):
    """End to end: no German sentence of any dev or test file is the German side of a training pair."""
    rows = [(f"Sentence {i} is here.", f"Satz {i} ist hier.") for i in range(400)]
    german = [f"Satz {i} ist hier." for i in range(0, 400, 3)]  # Ding lines sharing Tatoeba's German
    corpus, export = tmp_path / "de-en", write_export(tmp_path / "deu.txt", rows)
    _ding(corpus, german)
    out = tmp_path / "data"
    assert main(["prepare", "--corpus", str(corpus), "--tatoeba", str(export), "--out", str(out),
                 "--assets", str(tmp_path / "assets"), "--vocab", "60"]) == 0
    err = capsys.readouterr().err
    info = json.loads((out / "prepare.json").read_text())

    def german_of(name):
        return {line.split("\t")[0] for line in (out / name).read_text(encoding="utf-8").splitlines()}

    held_out = set().union(*(german_of(n) for n in ("dev.tsv", "test.tsv", "tatoeba-dev.tsv", "tatoeba-test.tsv")))
    assert held_out and not held_out & german_of("train.tsv")

    # Both directions read the same files, so no scored sentence, German or English, is a
    # training source or target in either direction.
    from seq2seq.data import read_tsv
    from seq2seq.tokenizer import Tokenizer
    from seq2seq.train import encode_pairs

    scored = [p for n in ("dev.tsv", "test.tsv", "tatoeba-dev.tsv", "tatoeba-test.tsv") for p in read_tsv(out / n)]
    tok = Tokenizer(tmp_path / "assets" / "spm.model")
    src, tgt = encode_pairs(tok, read_tsv(out / "train.tsv"), 60, ("de-en", "en-de"))
    trained = {tuple(ids) for ids in src + tgt} | {tuple(ids[1:]) for ids in src}   # with and without the tag
    assert scored and not any(tuple(tok.encode(s)) in trained for pair in scored for s in pair)
    t = info["tatoeba"]
    assert t["sha256"] == hashlib.sha256(export.read_bytes()).hexdigest()
    assert t["dropped_held_out_german"] + info["dropped_held_out_german"] > 0, "the data was built to collide"
    assert f"dropped {info['dropped_held_out_german']} pairs" in err
    n_train = len((out / "train.tsv").read_text(encoding="utf-8").splitlines())
    assert n_train == info["train_pairs"] == info["splits"]["train"]["pairs"] + t["splits"]["train"]["pairs"]
    assert sum(s["pairs"] for s in t["splits"].values()) < 400     # reserved groups are never written

    # A later Ding-only prepare removes the Tatoeba files instead of leaving another run's splits.
    assert main(["prepare", "--corpus", str(corpus), "--out", str(out), "--assets", str(tmp_path / "assets"),
                 "--keep-tokenizer"]) == 0
    assert not (out / "tatoeba-dev.tsv").exists() and json.loads((out / "prepare.json").read_text())["tatoeba"] is None


def test_prepare_refuses_a_missing_or_malformed_export(tmp_path, capsys):
    corpus = tmp_path / "de-en"
    _ding(corpus, ["Haus"])
    base = ["prepare", "--corpus", str(corpus), "--out", str(tmp_path / "data"), "--assets", str(tmp_path / "a")]
    assert main(base + ["--tatoeba", str(tmp_path / "missing.txt")]) == 2
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("no tab here\n", encoding="utf-8")
    assert main(base + ["--tatoeba", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 1" in err and "Traceback" not in err


@pytest.mark.skipif(not REAL.is_file(), reason="the Tatoeba export is not on this machine")
def test_real_export_split_counts():
    assert hashlib.sha256(REAL.read_bytes()).hexdigest() == tatoeba.EXPORT_SHA256
    splits = tatoeba.read_splits(REAL)
    assert {s: len(p) for s, p in splits.items()} == {"train": 162_873, "dev": 1_670, "test": 1_726}


def test_evaluate_reports_both_test_sets(tiny_assets, tmp_path, capsys):
    (tmp_path / "test.tsv").write_text("Das Haus ist alt\tthe house is old\n", encoding="utf-8")
    (tmp_path / "tatoeba-test.tsv").write_text("Ich habe Hunger.\tI'm hungry.\nGeh weg.\tGo away.\n",
                                               encoding="utf-8")
    out_json = tmp_path / "r.json"
    assert main(["evaluate", "--assets", str(tiny_assets), "--data", str(tmp_path), "--variant", "dot",
                 "--beam", "1", "--json", str(out_json), "--markdown"]) == 0
    captured = capsys.readouterr()
    r = json.loads(out_json.read_text())["dot"]
    assert r["all"]["n"] == 1 and r["tatoeba"]["all"]["n"] == 2
    assert r["tatoeba"]["by_length"][0]["n"] == 2
    assert "Tatoeba test:" in captured.out and "tatoeba" in captured.err

    # The card holds both test sets' figures of that run.
    import shutil

    from seq2seq import checkpoint as ckpt
    assets = tmp_path / "assets"
    shutil.copytree(tiny_assets, assets)
    (tmp_path / "prepare.json").write_text(json.dumps({"splits": {}, "cleaning": {}, "vocab_size": 100}))
    assert main(["evaluate", "--assets", str(assets), "--data", str(tmp_path), "--variant", "dot",
                 "--beam", "2", "--write-cards"]) == 0
    card = json.loads(ckpt.card_path("dot", assets).read_text())
    assert card["test"]["beam"] == 2 and card["test"]["all"]["n"] == 1 and card["test"]["tatoeba"]["all"]["n"] == 2
