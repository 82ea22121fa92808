"""The application entry point: input checks, and translation with every variant and method."""
from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from seq2seq.attention import VARIANTS
from seq2seq.search import max_output_len
from seq2seq.tokenizer import EOS_ID, UNK_ID
from seq2seq.translator import (MAX_BEAM, MAX_CHARS, MAX_OUTPUT, MAX_PIECES, MAX_SEED, DecodingSettings, InputError,
                                Translator, check_variant, check_variants, clean_input, fill_unknown)


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


# ---- decoding settings: one object, every limit and message in one place -------------------

def test_settings_keep_what_the_method_uses():
    assert DecodingSettings.check("greedy", beam=99, temperature="x").as_dict() == {"method": "greedy"}
    assert DecodingSettings.check("beam", 4, 9).as_dict() == {"method": "beam", "beam": 4, "n_best": 4}
    assert DecodingSettings.check("beam", 3.0, 2.0) == DecodingSettings("beam", beam=3, n_best=2)
    assert DecodingSettings.check("sample", temperature=0.5, seed=7).as_dict() == {
        "method": "sample", "temperature": 0.5, "seed": 7}
    assert DecodingSettings.check("sample", seed=MAX_SEED).seed == MAX_SEED


BAD_NUMBERS = [10**400, -10**400, 10**20, True, False, float("nan"), float("inf"), -float("inf"), "3", "many", None,
               [3], {"a": 1}, (1,), b"1", 1j]


@pytest.mark.parametrize("bad", BAD_NUMBERS, ids=repr)
def test_settings_refuse_anything_but_a_number_in_range_with_the_library_error(bad):
    for method, kw, name in (("beam", "beam", "Beam width"), ("beam", "n_best", "n-best"),
                             ("sample", "temperature", "Temperature"), ("sample", "seed", "Seed")):
        with pytest.raises(InputError, match=f"^{name} must be a number between") as exc:
            DecodingSettings.check(method, **{kw: bad})
        assert type(exc.value) is InputError and len(str(exc.value)) < 80


@pytest.mark.parametrize("method", [None, 3, ["beam"], "Beam", "", 10**400, {"m": 1}])
def test_settings_refuse_unknown_methods(method):
    with pytest.raises(InputError, match="Unknown decoding method"):
        DecodingSettings.check(method)


def test_check_variants():
    assert check_variants(["multihead", "dot"]) == ["dot", "multihead"]          # the order of VARIANTS
    assert check_variants("dot") == ["dot"]
    for bad, word in ((None, "No variants"), ([], "at least one"), (3, "list"), (["dot", "<x>"], "Unknown"),
                      ([None], "Unknown"), ([["dot"]], "Unknown"), ({"dot": 1}, "list")):
        with pytest.raises(InputError, match=word):
            check_variants(bad)


# ---- one call, several variants -------------------------------------------------------------

def test_translate_many_tokenises_once_and_matches_single_translations(tr, monkeypatch):
    calls = []
    encode = tr.tok.encode
    monkeypatch.setattr(tr.tok, "encode", lambda text: calls.append(text) or encode(text))
    c = tr.translate_many("  Das Haus ist schön. ", list(VARIANTS), "beam", 3, 2)
    assert calls == ["Das Haus ist schön."]                       # the whole text once (no per-variant checks)
    assert list(c.translations) == list(VARIANTS) and c.missing == {}
    assert c.source.text == "Das Haus ist schön." and c.source.pieces == tr.tok.text_pieces(c.source.text)
    assert c.settings == DecodingSettings("beam", beam=3, n_best=2)
    monkeypatch.undo()
    for v, t in c.translations.items():
        alone = tr.translate("Das Haus ist schön.", v, method="beam", beam=3, n_best=2)
        assert [h.tokens for h in t.hypotheses] == [h.tokens for h in alone.hypotheses]


def test_translate_many_checks_everything_before_decoding(tr, monkeypatch):
    from seq2seq import translator as translator_module

    monkeypatch.setattr(translator_module, "greedy", lambda *a, **k: pytest.fail("decoded before checking"))
    for args in (("", ["dot"]), ("Haus", ["bogus"]), ("Haus", ["dot"], "beam", 0), ("x " * (MAX_PIECES + 5), ["dot"])):
        with pytest.raises(InputError):
            tr.translate_many(*args)


def test_translate_many_reports_variants_that_are_not_installed(tiny_assets):
    only_dot = Translator(tiny_assets, ["dot"])
    c = only_dot.translate_many("Das Haus", ["dot", "general"])
    assert list(c.translations) == ["dot"] and "not installed" in c.missing["general"]


def test_unknown_characters_are_named_in_typed_order_with_the_right_reason(tr):
    s = tr.prepare("Ich mag 東京 und 京都.")
    assert s.unknown[:3] == ["東", "京", "都"]
    assert "東 京 都" in s.notes[0] and "non-Latin" in s.notes[0]
    ascii_only = tr.prepare("Preis: 5 $ oder ~ 3")
    unknown = [c for c in ascii_only.unknown]
    if unknown:                                      # whichever ASCII symbols the vocabulary lacks
        assert all(c.isascii() for c in unknown) and "ASCII symbols" in ascii_only.notes[0]
    assert tr.prepare("Das Haus.").notes == []


# ---- fuzz: every call gives a result or the library's own error --------------------------------

ANYTHING = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**500, max_value=10**500),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                     st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
                     st.sampled_from(["greedy", "beam", "sample", "dot", "additive"]))


@settings(deadline=None, max_examples=300, derandomize=True)
@given(ANYTHING, ANYTHING, ANYTHING, ANYTHING, ANYTHING)
def test_settings_fuzz(method, beam, n_best, temperature, seed):
    try:
        s = DecodingSettings.check(method, beam, n_best, temperature, seed)
    except InputError as exc:
        assert type(exc) is InputError and str(exc)
        return
    assert s.method in ("greedy", "beam", "sample")
    assert 1 <= s.n_best <= s.beam <= MAX_BEAM and 0 < s.temperature <= 10 and 0 <= s.seed <= MAX_SEED


@settings(deadline=None, max_examples=150, derandomize=True)
@given(st.one_of(ANYTHING, st.text(max_size=40)), st.one_of(ANYTHING, st.lists(st.sampled_from(list(VARIANTS) + ["x"]))),
       st.sampled_from(["greedy", "beam", "sample", "bogus"]), ANYTHING)
def test_translate_many_fuzz(tr, text, variants, method, number):
    try:
        c = tr.translate_many(text, variants, method, number, number, number, number)
    except InputError as exc:
        assert type(exc) is InputError and str(exc)
        return
    assert c.source.ids and set(c.translations) <= set(VARIANTS)


# ---- directions ------------------------------------------------------------------------------

def test_a_two_direction_translator_opens_each_source_with_its_tag(two_way_assets):
    tr = Translator(two_way_assets)
    assert tr.directions == ("de-en", "en-de")
    de = tr.prepare("das Haus ist rot")
    en = tr.prepare("the house is red", "en-de")
    assert de.direction == "de-en" and de.pieces[0] == "<2en>" and de.ids[0] == tr.tok.tag_id("de-en")
    assert en.pieces[0] == "<2de>" and en.ids[1:] == tr.tok.encode("the house is red")
    assert len(en.pieces) == len(en.ids)
    result = tr.translate_many("the house is red", ["dot", "none"], direction="en-de")
    assert result.source == en and set(result.translations) == {"dot", "none"}
    for t in result.translations.values():
        assert t.source_pieces == en.pieces
        att = t.best.attention
        assert att is None or att.shape[1] == len(en.ids)


def test_the_wrong_language_is_named_and_the_switch_offered(two_way_assets, tiny_assets):
    source = Translator(two_way_assets).prepare("I have forgotten my key.")
    assert source.suggested_direction == "en-de"
    assert any("looks like English" in n and "Switch to English → German?" in n for n in source.notes)
    assert Translator(two_way_assets).prepare("Ich habe den Schlüssel vergessen.").suggested_direction is None
    one_way = Translator(tiny_assets).prepare("I have forgotten my key.")
    assert one_way.suggested_direction is None and any("German → English only" in n for n in one_way.notes)


@pytest.mark.parametrize("direction, message", [("fr-en", "Unknown direction"), (None, "Unknown direction"),
                                                (3, "Unknown direction"), ("en-de", "German → English only")])
def test_directions_the_models_cannot_translate_are_refused(tiny_assets, direction, message):
    with pytest.raises(InputError, match=message):
        Translator(tiny_assets).translate_many("das Haus", ["dot"], direction=direction)


def test_the_messages_name_the_source_language(two_way_assets):
    with pytest.raises(InputError, match="Type an English sentence"):
        Translator(two_way_assets).prepare("   ", "en-de")
