"""The application entry point: input checks, and translation with every variant and method."""
from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from seq2seq.attention import VARIANTS
from seq2seq.search import Intervention, beam_search, force_decode, greedy, max_output_len
from seq2seq.tokenizer import BOS_ID, EOS_ID, UNK_ID, word_groups
from seq2seq.translator import (MAX_BEAM, MAX_CHARS, MAX_OUTPUT, MAX_PIECES, MAX_SEED, DecodingSettings, InputError,
                                Source, Translator, check_number, check_positions, check_variant, check_variants,
                                clean_input, fill_unknown)


@pytest.fixture(scope="module")
def translator_kind() -> str:
    return "library"          # the library's own default precision, as Translator(assets) loads


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


# ---- one number check for every caller ------------------------------------------------------

@pytest.mark.parametrize("value, expected", [(3, 3), (3.0, 3), (np.int64(4), 4), (1, 1), (10, 10)])
def test_check_number_takes_whole_numbers_in_range(value, expected):
    got = check_number(value, "Beam width", 1, 10, integer=True)
    assert got == expected and type(got) is int


@pytest.mark.parametrize("value", [0, 11, 2.5, True, None, "3", float("nan"), 10**400, [3]], ids=repr)
def test_check_number_refuses_with_one_message(value):
    with pytest.raises(InputError, match=r"^Beam width must be a number between 1 and 10 \(a whole number\)\.$"):
        check_number(value, "Beam width", 1, 10, integer=True)


def test_check_positions():
    assert check_positions([2, 0, 2.0], 3, "Source piece") == [0, 2]
    assert check_positions(1, 3, "Source piece") == [1] and check_positions(None, 3, "Source piece") == []
    for bad, message in (([3], "Source piece 4 does not exist"), ([-1], "does not exist"), (["x"], "by position"),
                         ([0.5], "by position"), ([True], "by position"), ([float("nan")], "by position"),
                         (list(range(9)), "positions were given")):
        with pytest.raises(InputError, match=message):
            check_positions(bad, 3, "Source piece")


# ---- questions to the models: forced decoding, continuation, interventions, the beam tree ----

SENTENCE = "Der See bildet eine natürliche Grenze zwischen den Ländern."
TARGET = "The lake forms a natural border between the countries."
ATTENTION = [v for v in VARIANTS if v != "none"]


def forward_logprobs(model, source: list[int], tokens: list[int]) -> np.ndarray:
    """log p of each token by the model's batched forward pass (the training path, not the
    step-by-step decoding loop)."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        logits, _ = model(torch.tensor([source]), torch.tensor([len(source)]), torch.tensor([[BOS_ID] + tokens[:-1]]))
    logp = F.log_softmax(logits[0].float(), -1)
    return np.array([float(logp[t, tok]) for t, tok in enumerate(tokens)])


def forward_logprobs_all(model, source: list[int], prefix: list[int]) -> np.ndarray:
    """log p of every next token after ``prefix``, by the batched forward pass: (V,)."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        logits, _ = model(torch.tensor([source]), torch.tensor([len(source)]), torch.tensor([[BOS_ID] + prefix]))
    return F.log_softmax(logits[0, -1].float(), -1).numpy()


def own_output(tr, source: Source, variant: str) -> Source:
    """A variant's own greedy output as a translation to force, by ids (no text round trip)."""
    g = greedy(tr.models[variant], [source.ids], max_len=MAX_OUTPUT)[0]
    ids = g.tokens[:-1] if g.finished else g.tokens
    return Source(tr.tok.decode(ids), ids, tr.tok.pieces(ids), []), g


def test_forcing_a_variants_own_greedy_output_reproduces_its_logprobs_and_alpha(tr):
    source = tr.prepare(SENTENCE)
    for v in VARIANTS:
        target, g = own_output(tr, source, v)
        h = tr.score(source, target, [v])[v].best
        T = len(g.tokens)
        assert h.tokens[:T] == g.tokens
        assert np.allclose(h.logprobs[:T], g.logprobs, atol=1e-5)
        if g.heads is None:
            assert h.heads is None
        else:
            assert np.allclose(h.attention[:T], g.attention, atol=1e-5)


def test_forced_logprobs_match_the_batched_forward_pass(tr):
    source, target = tr.prepare(SENTENCE), tr.prepare_target(TARGET)
    scored = tr.score(source, target, list(VARIANTS))
    assert list(scored) == list(VARIANTS)
    ids = target.ids + [EOS_ID]
    for v, t in scored.items():
        h = t.best
        assert h.tokens == ids and t.target_pieces[0] == target.pieces + ["</s>"] and t.texts == [target.text]
        assert np.allclose(h.logprobs, forward_logprobs(tr.models[v], source.ids, ids), atol=1e-4)
        if v != "none":                                  # identical axes for every variant
            assert h.attention.shape == (len(ids), len(source.ids))
            assert np.allclose(h.attention.sum(1), 1, atol=1e-5)


def test_continue_from(tr):
    source, target = tr.prepare(SENTENCE), tr.prepare_target(TARGET)
    own = tr.decode(source, list(VARIANTS))
    free = tr.continue_from(source, target, 0, list(VARIANTS))
    for v in VARIANTS:                                   # nothing forced: the variant's own translation
        assert free[v].best.tokens == own[v].best.tokens
    k = 3
    for v, t in tr.continue_from(source, target, k, list(VARIANTS)).items():
        h = t.best
        assert h.tokens[:k] == target.ids[:k] and len(h.tokens) > k
        # reference: after the prefix, each next token is the argmax of the batched forward pass
        for n in range(k, min(len(h.tokens), k + 6)):
            logp = forward_logprobs_all(tr.models[v], source.ids, h.tokens[:n])
            assert int(logp.argmax()) == h.tokens[n]
        assert np.allclose(h.logprobs, forward_logprobs(tr.models[v], source.ids, h.tokens), atol=1e-4)
    for bad in (-1, len(target.ids) + 1, 1.5, "x", None, True):
        with pytest.raises(InputError, match="prefix length"):
            tr.continue_from(source, target, bad, ["dot"])


def test_knock_out_puts_no_weight_on_the_pieces_and_reports_the_change(tr):
    source = tr.prepare(SENTENCE)
    out = tr.knock_out(source, list(VARIANTS), [0, 2])
    assert out["none"].after is None and out["none"].delta is None     # no attention to knock out
    for v in ATTENTION:
        r = out[v]
        g = greedy(tr.models[v], [source.ids], max_len=MAX_OUTPUT)[0]
        assert r.before.best.tokens == g.tokens
        a = r.after.best.attention
        assert np.all(a[:, [0, 2]] == 0) and np.allclose(a.sum(1), 1, atol=1e-5)
        again = force_decode(tr.models[v], source.ids, g.tokens, Intervention(knockout=(0, 2)))
        assert np.allclose(r.delta, np.array(again.logprobs[: len(g.logprobs)]) - g.logprobs, atol=1e-6)
    own = tr.decode(source, list(VARIANTS))                           # the baseline, made once, gives the same
    again = tr.knock_out(source, list(VARIANTS), [0, 2], own)
    for v in ATTENTION:
        assert again[v].before is own[v] and np.array_equal(again[v].delta, out[v].delta)
        assert again[v].after.best.tokens == out[v].after.best.tokens
    other = tr.decode(tr.prepare("Das Haus ist schön."), ["dot"])
    for bad in (other, {"dot": "a translation"}, {"dot": own["additive"]}):
        with pytest.raises(InputError, match="not this source's"):
            tr.knock_out(source, ["dot"], [0], bad)
    with pytest.raises(InputError, match="Every source piece"):
        tr.knock_out(source, ["dot"], list(range(len(source.ids))))
    for bad, message in (([], "at least one"), (None, "at least one"), ([99], "does not exist"),
                         (["▁Der"], "by position")):
        with pytest.raises(InputError, match=message):
            tr.knock_out(source, ["dot"], bad)


def test_force_alpha_changes_nothing_before_its_step(tr):
    source = tr.prepare(SENTENCE)
    t, j = 3, 1
    for v, r in tr.force_alpha(source, ATTENTION, t, j).items():
        a = r.after.best.attention
        assert a[t - 1, j] == pytest.approx(1.0) and np.allclose(np.delete(a[t - 1], j), 0)
        assert np.all(r.delta[: t - 1] == 0)                           # steps before t are as before
        assert r.after.best.tokens[: t - 1] == r.before.best.tokens[: t - 1]
    for step, piece, message in ((0, 1, "step t"), (MAX_OUTPUT + 1, 1, "step t"), (2, 99, "does not exist"),
                                 (2, None, "one source piece"), (2, [0, 1], "one source piece")):
        with pytest.raises(InputError, match=message):
            tr.force_alpha(source, ["dot"], step, piece)


def test_delete_word_decodes_the_source_without_it(tr):
    source = tr.prepare(SENTENCE)
    groups = word_groups(source.pieces)
    out = tr.delete_word(source, list(VARIANTS), 1)
    shorter = [i for k, i in enumerate(source.ids) if k not in groups[1]]
    for v, r in out.items():                                           # none included: the input changes
        assert r.after.best.tokens == greedy(tr.models[v], [shorter], max_len=MAX_OUTPUT)[0].tokens
        assert r.after.source_pieces == [p for k, p in enumerate(source.pieces) if k not in groups[1]]
    for bad, message in ((len(groups), "does not exist"), (None, "one source word"), ("Der", "by position")):
        with pytest.raises(InputError, match=message):
            tr.delete_word(source, ["dot"], bad)
    with pytest.raises(InputError, match="only one word"):
        tr.delete_word(tr.prepare("Hund"), ["none"], 0)


def test_beam_tree_returns_what_beam_search_returns(tr):
    source = tr.prepare(SENTENCE)
    tree = tr.beam_tree(source, "additive", DecodingSettings.check("beam", 3, 2))
    best = beam_search(tr.models["additive"], source.ids, beam=3, n_best=2, max_len=MAX_OUTPUT)
    assert [h.tokens for h in tree.best.hypotheses] == [h.tokens for h in best]
    ranked = sorted((n for n in tree.nodes if n.rank), key=lambda n: n.rank)
    assert [tree.paths[n.id] for n in ranked] == [tr.tok.decode(h.tokens) for h in best]
    assert tree.pieces[0] == "<s>" and len(tree.pieces) == len(tree.nodes) == len(tree.candidates)
    for n in tree.nodes[1:]:
        assert [p for _, p in tree.candidates[n.id]] == [p for _, p in n.candidates]
    for variant, settings, message in (("additive", DecodingSettings(), "method 'beam'"),
                                       ("additive", {"beam": 3}, "decoding settings"),
                                       ("bogus", DecodingSettings.check("beam"), "Unknown variant"),
                                       (["dot", "additive"], DecodingSettings.check("beam"), "Unknown variant")):
        with pytest.raises(InputError, match=message):
            tr.beam_tree(source, variant, settings)


def test_attribute(tr):
    from seq2seq.attribution import gradient_x_input

    source, target = tr.prepare(SENTENCE), tr.prepare_target(TARGET)
    found = tr.attribute(source, target, list(VARIANTS))
    for v, a in found.items():
        assert a.shape == (len(target.ids) + 1, len(source.ids)) and np.allclose(a.sum(1), 1)
        assert np.allclose(a, gradient_x_input(tr.models[v], source.ids, target.ids + [EOS_ID]))


@pytest.mark.parametrize("target, message", [
    ("", "No translation"), ("   ", "No translation"), (None, "No translation"), ("x" * (MAX_CHARS + 1), "limit"),
    ("ab\ud800", "surrogate"), (42, "string"), ("\u200b\u2028", "empty"),
])
def test_the_translation_to_force_is_checked_like_the_source(tr, target, message):
    with pytest.raises(InputError, match=message):
        tr.prepare_target(target)


def test_question_methods_refuse_what_the_library_did_not_prepare(tiny_assets, tr):
    source = tr.prepare(SENTENCE)
    for call in (lambda: tr.score(SENTENCE, tr.prepare_target(TARGET), ["dot"]),
                 lambda: tr.score(source, TARGET, ["dot"]), lambda: tr.knock_out(None, ["dot"], [0]),
                 lambda: tr.decode(source, ["dot"], "greedy")):
        with pytest.raises(InputError, match="first"):
            call()
    only_dot = Translator(tiny_assets, ["dot"])
    with pytest.raises(InputError, match="general model is not installed"):
        only_dot.knock_out(only_dot.prepare(SENTENCE), ["dot", "general"], [0])


def test_the_question_methods_work_both_ways(two_way_assets):
    """Forcing, deleting a word and attribution on a two-direction model: the target has no tag,
    the tag is no word, and every axis spans the tagged source."""
    tr = Translator(two_way_assets)
    source = tr.prepare("the house is red", "en-de")
    target = tr.prepare_target("das Haus ist rot", "en-de")
    assert target.ids == tr.tok.encode("das Haus ist rot") and source.tags == 1
    scored = tr.score(source, target, ["dot"])["dot"]
    assert scored.best.attention.shape == (len(target.ids) + 1, len(source.ids))
    assert [len(w) for w in source.words] == [len(g) for g in word_groups(tr.tok.text_pieces("the house is red"))]
    gone = tr.delete_word(source, ["dot"], 0)["dot"]
    assert gone.after.source_pieces[0] == "<2de>" and "▁the" not in gone.after.source_pieces
    assert tr.attribute(source, target, ["none"])["none"].shape == (len(target.ids) + 1, len(source.ids))
    with pytest.raises(InputError, match="type one in German"):
        tr.prepare_target(" ", "en-de")


def test_contrast_asks_why_the_chosen_token_and_not_another(tr):
    source, target = tr.prepare("Das Haus ist rot."), tr.prepare_target("The house is red.")
    out = tr.contrast(source, target, 2, "car", list(VARIANTS))
    alt = tr.tok.encode("car")[0]
    for v, r in out.items():
        assert r["chosen_piece"] == tr.tok.pieces([target.ids[1]])[0] and r["alternative_piece"] == tr.tok.pieces([alt])[0]
        assert r["difference"] == pytest.approx(r["chosen"] - r["alternative"], abs=1e-5)
        assert r["attribution"].shape == (len(source.ids),) and (r["alpha"] is None) == (v == "none")
    assert tr.contrast(source, target, 2, alt, ["dot"])["dot"]["difference"] == pytest.approx(out["dot"]["difference"])
    for step, alternative, says in ((0, "car", "step t"), (99, "car", "step t"), (2, target.ids[1], "itself"),
                                    (2, "   ", "empty"), (2, -1, "alternative token"), (1.5, "car", "step t")):
        with pytest.raises(InputError, match=says):
            tr.contrast(source, target, step, alternative, ["dot"])
