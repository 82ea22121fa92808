"""Corpus translation and the sacreBLEU report."""
from __future__ import annotations

import pytest

from seq2seq import checkpoint as ckpt
from seq2seq.evaluate import LENGTH_BUCKETS, chrf, corpus_scores, report, translate_corpus
from seq2seq.search import beam_search, greedy
from seq2seq.tokenizer import Tokenizer, UNK_ID

SOURCES = ["Das Haus ist schön.", "", "Ich gehe heute Abend mit meinen Freunden ins Kino.", "Baum", "Guten Morgen!",
           "Die Katze schläft.", "😀"]


@pytest.fixture(scope="module")
def model_tok(tiny_assets):
    model, _ = ckpt.load_variant("general", tiny_assets)
    return model, Tokenizer(tiny_assets / ckpt.TOKENIZER_FILE)


def test_greedy_corpus_translation_keeps_the_order(model_tok):
    model, tok = model_tok
    out = translate_corpus(model, tok, SOURCES, batch_size=2, max_len=20)
    assert len(out) == len(SOURCES)
    for text, hyp in zip(SOURCES, out):
        ids = tok.encode(text) or [UNK_ID]  # an empty source is translated as one unknown piece
        assert hyp == tok.decode(greedy(model, [ids], max_len=20)[0].tokens)
    assert translate_corpus(model, tok, SOURCES, batch_size=128, max_len=20) == out


def test_beam_corpus_translation(model_tok):
    model, tok = model_tok
    out = translate_corpus(model, tok, SOURCES[:3], beam=3, max_len=10)
    for text, hyp in zip(SOURCES[:3], out):
        ids = tok.encode(text) or [UNK_ID]
        assert hyp == tok.decode(beam_search(model, ids, beam=3, max_len=10)[0].tokens)


def test_translate_nothing(model_tok):
    model, tok = model_tok
    assert translate_corpus(model, tok, []) == []


def test_corpus_scores():
    refs = ["the house is nice", "good morning", "the cat sleeps"]
    perfect = corpus_scores(refs, refs)
    assert perfect["n"] == 3 and perfect["bleu"] == 100.0 and perfect["chrf"] == 100.0
    assert "tok:13a" in perfect["bleu_signature"] and "nc:6|nw:0" in perfect["chrf_signature"]
    worse = corpus_scores(["the home is nice", "good day", "a dog barks"], refs)
    assert 0 <= worse["chrf"] < 100 and 0 <= worse["bleu"] < 100
    assert worse["chrf"] == round(chrf(["the home is nice", "good day", "a dog barks"], refs), 2)
    empty = corpus_scores([], [])
    assert empty["n"] == 0 and empty["bleu"] is None and empty["chrf"] is None and empty["bleu_signature"]


def test_report_subsets_by_source_words():
    sources = ["a", "a b c d", "a b c d e f g h i j", "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 2]
    refs = ["one", "two words here", "x " * 10, "y " * 30]
    hyps = list(refs)
    r = report(sources, hyps, refs)
    assert r["all"]["n"] == 4
    assert r["min4words"]["n"] == 3 and r["min10words"]["n"] == 2
    assert [b["n"] for b in r["by_length"]] == [1, 1, 0, 1, 0, 0, 1]
    assert [b["words"] for b in r["by_length"]] == [f"{lo}-{hi}" for lo, hi in LENGTH_BUCKETS[:-1]] + ["30+"]
    assert r["by_length"][2]["chrf"] is None
    assert r["min10words"]["chrf"] == 100.0
