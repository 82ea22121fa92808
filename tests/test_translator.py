"""The application entry point: input checks, and translation with every variant and method."""
from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from seq2seq.attention import VARIANTS
from seq2seq.search import max_output_len
from seq2seq.tokenizer import EOS_ID, UNK_ID
from seq2seq.translator import (MAX_BEAM, MAX_CHARS, MAX_OUTPUT, MAX_PIECES, InputError, Translator,
                                check_variant, clean_input, fill_unknown)


@pytest.fixture(scope="module")
def tr(tiny_assets) -> Translator:
    return Translator(tiny_assets)


# ---- clean_input ------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("Das Haus", "Das Haus"),
    ("  Das \t Haus \n", "Das Haus"),
    ("Da\x00s\x07Haus\x1b", "Da s Haus"),
    ("Guten\u2028Morgen\u2029!", "Guten Morgen !"),
    ("Null\u200bbreite\ufeff", "Null breite"),        # format characters (Cf) become spaces
    ("Cafe\u0301", "Café"),                            # NFC
    ("😀 👍🏽", "😀 👍🏽"),                               # emoji pass through
    ("שלום עולם", "שלום עולם"),                         # right-to-left text passes through
])
def test_clean_input(text, expected):
    assert clean_input(text) == expected


@pytest.mark.parametrize("text,word", [
    (None, "no text"), (42, "string"), (b"Haus", "string"), ("", "empty"), ("   \t\n", "empty"),
    ("\x01\x02", "empty"), ("x" * (MAX_CHARS + 1), "limit"), ("Haus \ud800", "surrogate"), ("\udfff", "surrogate"),
])
def test_clean_input_refuses(text, word):
    with pytest.raises(InputError) as exc:
        clean_input(text)
    assert word in str(exc.value).lower()


def test_clean_input_limit_is_inclusive():
    assert clean_input("x" * MAX_CHARS) == "x" * MAX_CHARS


@settings(deadline=None, max_examples=200, derandomize=True)
@given(st.text(max_size=60))
def test_clean_input_output_is_normalised_or_refused(text):
    try:
        out = clean_input(text)
    except InputError:
        return
    assert out and out == out.strip() and "  " not in out
    assert unicodedata.is_normalized("NFC", out)
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") for ch in out)
    assert clean_input(out) == out  # idempotent


def test_check_variant():
    for v in VARIANTS:
        assert check_variant(v) == v
    for bad in ("bogus", None, 3, ""):
        with pytest.raises(InputError, match="Unknown variant"):
            check_variant(bad)


# ---- Translator -------------------------------------------------------------------------

def test_loads_every_shipped_variant(tr):
    assert tr.variants == list(VARIANTS)
    assert all(tr.info[v]["variant"] == v for v in VARIANTS)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("method", ["greedy", "beam", "sample"])
def test_translate(tr, variant, method):
    text = "  Das Haus ist schön. "
    res = tr.translate(text, variant, method=method, beam=3, n_best=2, seed=5)
    ids = tr.tok.encode("Das Haus ist schön.")
    assert res.variant == variant
    assert res.source_pieces == tr.tok.pieces(ids)
    assert len(res.hypotheses) == (2 if method == "beam" else 1)
    assert res.best is res.hypotheses[0]
    for hyp, pieces, txt in zip(res.hypotheses, res.target_pieces, res.texts):
        assert len(pieces) == len(hyp.tokens) <= max_output_len(len(ids), MAX_OUTPUT)
        assert pieces[-1] == "</s>" if hyp.tokens[-1] == EOS_ID else "</s>" not in pieces
        if UNK_ID not in hyp.tokens or hyp.attention is None:
            assert txt == tr.tok.decode(hyp.tokens)
        if variant == "none":
            assert hyp.attention is None
        else:
            assert hyp.attention.shape == (len(hyp.tokens), len(ids))
            assert np.allclose(hyp.attention.sum(1), 1.0, atol=1e-5)


def test_sampling_is_reproducible(tr):
    a = tr.translate("Guten Morgen", "dot", method="sample", temperature=2.0, seed=3)
    b = tr.translate("Guten Morgen", "dot", method="sample", temperature=2.0, seed=3)
    assert a.best.tokens == b.best.tokens


@pytest.mark.parametrize("kwargs,word", [
    (dict(method="viterbi"), "decoding method"),
    (dict(method="beam", beam=0), "beam width"),
    (dict(method="beam", beam=MAX_BEAM + 1), "beam width"),
    (dict(method="sample", temperature=0), "temperature"),
    (dict(method="sample", temperature=11), "temperature"),
    (dict(variant="bogus"), "unknown variant"),
])
def test_translate_refuses_bad_options(tr, kwargs, word):
    kwargs = {"variant": "dot", **kwargs}
    with pytest.raises(InputError) as exc:
        tr.translate("Das Haus", **kwargs)
    assert word in str(exc.value).lower()


def test_too_many_pieces(tr):
    text = "x " * (MAX_PIECES + 5)
    assert len(text) <= MAX_CHARS
    with pytest.raises(InputError, match="pieces"):
        tr.translate(text, "dot")


def test_variant_not_installed(tiny_assets):
    only_dot = Translator(tiny_assets, ["dot"])
    assert only_dot.variants == ["dot"]
    with pytest.raises(InputError, match="not installed"):
        only_dot.translate("Das Haus", "general")



def test_half_precision_translator(tiny_assets):
    """``half=True`` (what the page uses) decodes in fp16 and still returns fp32 weights summing to 1."""
    import torch

    half = Translator(tiny_assets, half=True)
    assert all(next(m.parameters()).dtype == torch.float16 for m in half.models.values())
    for v in VARIANTS:
        for method in ("greedy", "beam", "sample"):
            t = half.translate("Der See bildet eine natürliche Grenze.", v, method=method, beam=3, n_best=2)
            h = t.hypotheses[0]
            assert h.tokens and all(np.isfinite(h.logprobs)) and all(lp <= 0 for lp in h.logprobs)
            if v == "none":
                assert h.attention is None
            else:
                assert h.attention.dtype == np.float32
                np.testing.assert_allclose(h.attention.sum(axis=1), 1.0, atol=1e-5)


def test_unknown_output_pieces_copy_the_source_piece_they_attend_to(tr):
    tok = tr.tok
    source = tok.text_pieces("Ich fahre nach 東京.")
    tokyo = source.index("東京")
    ids = tok.encode("I drive to") + [tok.sp.piece_to_id("▁"), UNK_ID, tok.sp.piece_to_id("."), EOS_ID]
    att = np.full((len(ids), len(source)), 0.01)
    att[ids.index(UNK_ID), tokyo] = 0.9
    assert fill_unknown(ids, att, source, tok) == "I drive to 東京."
    assert fill_unknown(ids, None, source, tok) == tok.decode(ids)          # no attention: nothing to copy
    known = tok.encode("I drive to Berlin.") + [EOS_ID]
    assert fill_unknown(known, np.full((len(known), len(source)), 0.1), source, tok) == tok.decode(known)


def test_translate_fills_in_unknown_output_pieces(tr, monkeypatch):
    from seq2seq import translator as translator_module
    from seq2seq.search import Hypothesis

    text = "Ich fahre nach 東京."
    source = tr.tok.text_pieces(text)
    ids = tr.tok.encode("to") + [tr.tok.sp.piece_to_id("▁"), UNK_ID, EOS_ID]
    heads = np.full((len(ids), 1, len(source)), 0.01, np.float32)
    heads[ids.index(UNK_ID), 0, source.index("東京")] = 0.9
    monkeypatch.setattr(translator_module, "greedy", lambda *a, **k: [Hypothesis(ids, [-0.1] * len(ids), heads)])
    assert tr.translate(text, "dot").texts == ["to 東京"]
