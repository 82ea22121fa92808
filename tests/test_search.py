"""Greedy, beam search and sampling on small random models."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_config
from seq2seq.attention import VARIANTS
from seq2seq.model import Seq2Seq
from seq2seq.search import TOP_CANDIDATES, beam_search, beam_search_batch, greedy, max_output_len, pad_batch, sample
from seq2seq.tokenizer import BOS_ID, EOS_ID

VOCAB = 30
SOURCES = [[5, 6, 7], [8, 9, 10, 11, 12, 13, 14], [15], [16, 17, 18, 19, 20]]


def tiny(variant: str, seed: int = 0, eos_bias: float = 0.0, vocab: int = VOCAB) -> Seq2Seq:
    """A random model; ``eos_bias`` makes it stop at varying lengths instead of running to the limit."""
    torch.manual_seed(seed)
    model = Seq2Seq(tiny_config(variant, vocab)).eval()
    with torch.no_grad():
        model.decoder.out_bias[EOS_ID] = eos_bias
    return model


def teacher_forced_logprobs(model: Seq2Seq, source: list[int], tokens: list[int]) -> list[float]:
    with torch.no_grad():
        logits, _ = model(torch.tensor([source]), torch.tensor([len(source)]), torch.tensor([[BOS_ID] + tokens[:-1]]))
        logp = F.log_softmax(logits[0], -1)
    return [float(logp[t, tok]) for t, tok in enumerate(tokens)]


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("eos_bias", [0.0, 2.5])
def test_beam_width_one_equals_greedy(variant, eos_bias):
    for seed in range(3):
        model = tiny(variant, seed, eos_bias)
        for src in SOURCES:
            g = greedy(model, [src])[0]
            b = beam_search(model, src, beam=1)
            assert len(b) == 1
            assert b[0].tokens == g.tokens
            assert np.allclose(b[0].logprobs, g.logprobs, atol=1e-5)
            assert b[0].finished == g.finished
            if g.heads is None:
                assert b[0].heads is None
            else:
                assert np.allclose(b[0].heads, g.heads, atol=1e-5)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_greedy_logprobs_match_teacher_forcing(variant):
    model = tiny(variant, 1, eos_bias=2.0)
    for src, hyp in zip(SOURCES, greedy(model, SOURCES)):
        assert np.allclose(hyp.logprobs, teacher_forced_logprobs(model, src, hyp.tokens), atol=1e-5)
        assert hyp.score == pytest.approx(hyp.logprob)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_batched_greedy_equals_one_by_one(variant):
    model = tiny(variant, 2, eos_bias=2.0)
    batch = greedy(model, SOURCES)
    assert len(batch) == len(SOURCES)
    for src, hyp in zip(SOURCES, batch):
        alone = greedy(model, [src])[0]
        assert hyp.tokens == alone.tokens
        assert np.allclose(hyp.logprobs, alone.logprobs, atol=1e-5)
        if variant == "none":
            assert hyp.heads is None and hyp.attention is None
        else:
            assert hyp.attention.shape == (len(hyp.tokens), len(src))
            assert np.allclose(hyp.heads, alone.heads, atol=1e-5)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_beam_returns_sorted_n_best_with_own_attention(variant):
    model = tiny(variant, 3, eos_bias=2.0)
    for src in SOURCES:
        hyps = beam_search(model, src, beam=5, n_best=5, alpha=1.0)
        assert 1 < len(hyps) <= 5
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(h.tokens) for h in hyps}) == len(hyps)
        for h in hyps:
            T = len(h.tokens)
            assert len(h.logprobs) == len(h.candidates) == T
            assert h.score == pytest.approx(sum(h.logprobs) / T, abs=1e-5)
            assert np.allclose(h.logprobs, teacher_forced_logprobs(model, src, h.tokens), atol=1e-5)
            assert T <= max_output_len(len(src), 100)
            if variant == "none":
                assert h.heads is None and h.attention is None
                continue
            heads = model.decoder.attention.heads
            assert h.heads.shape == (T, heads, len(src))
            assert h.attention.shape == (T, len(src))
            assert np.allclose(h.attention.sum(1), 1.0, atol=1e-5)
            # its own attention: the one teacher forcing produces for *these* tokens
            with torch.no_grad():
                _, w = model(torch.tensor([src]), torch.tensor([len(src)]), torch.tensor([[BOS_ID] + h.tokens[:-1]]))
            assert np.allclose(h.heads, w[0].numpy(), atol=1e-5)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("beam", [1, 3, 6])
def test_batched_beam_equals_one_by_one(variant, beam):
    """Sentences of different lengths beamed together give what each gives alone."""
    model = tiny(variant, 6, eos_bias=2.0)
    together = beam_search_batch(model, SOURCES, beam=beam, n_best=beam, max_len=20)
    assert len(together) == len(SOURCES)
    for src, hyps in zip(SOURCES, together):
        alone = beam_search(model, src, beam=beam, n_best=beam, max_len=20)
        assert [h.tokens for h in hyps] == [h.tokens for h in alone]
        assert np.allclose([h.score for h in hyps], [h.score for h in alone], atol=1e-5)
        for h, a in zip(hyps, alone):
            assert [[i for i, _ in c] for c in h.candidates] == [[i for i, _ in c] for c in a.candidates]
            if a.heads is not None:
                assert h.heads.shape == a.heads.shape and np.allclose(h.heads, a.heads, atol=1e-5)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_half_precision_model_decodes_like_fp32(variant):
    """fp16 weights (the shipped precision, used by the page) give the fp32 outputs here, with
    log-probabilities and attention close to fp32 and the weights still summing to 1."""
    import copy

    model = tiny(variant, 7, eos_bias=2.5)
    half = copy.deepcopy(model).half()
    for src in SOURCES:
        a, b = greedy(model, [src])[0], greedy(half, [src])[0]
        assert b.tokens == a.tokens
        assert np.allclose(b.logprobs, a.logprobs, atol=2e-2)
        ab, bb = beam_search(model, src, beam=3, n_best=3), beam_search(half, src, beam=3, n_best=3)
        assert [h.tokens for h in bb][:1] == [h.tokens for h in ab][:1]
        if a.heads is not None:
            assert b.heads.dtype == np.float32
            np.testing.assert_allclose(b.heads.sum(-1), 1.0, atol=1e-5)
            np.testing.assert_allclose(b.heads, a.heads, atol=2e-2)


def test_beam_n_best_is_capped_by_the_beam():
    model = tiny("dot", 0, eos_bias=2.0)
    assert len(beam_search(model, SOURCES[0], beam=2, n_best=10)) <= 2
    assert len(beam_search(model, SOURCES[0], beam=3, n_best=0)) == 1
    with pytest.raises(ValueError):
        beam_search(model, SOURCES[0], beam=0)


@pytest.mark.parametrize("variant", ["none", "additive", "multihead"])
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_wide_beam_finds_the_exact_best(variant, alpha):
    """With a six-token vocabulary and at most three output steps, a wide enough beam
    is exhaustive: its n-best must equal the brute-force ranking of every finished output."""
    vocab = 6
    model = tiny(variant, 4, eos_bias=1.0, vocab=vocab)
    src = [4, 5, 4, 4]
    brute = []
    for T in range(1, 4):
        for prefix in itertools.product([i for i in range(vocab) if i != EOS_ID], repeat=T - 1):
            toks = list(prefix) + [EOS_ID]
            brute.append((sum(teacher_forced_logprobs(model, src, toks)) / T ** alpha, toks))
    brute.sort(key=lambda x: -x[0])
    hyps = beam_search(model, src, beam=200, n_best=5, alpha=alpha, max_len=3)
    assert [h.tokens for h in hyps] == [toks for _, toks in brute[:5]]
    assert np.allclose([h.score for h in hyps], [s for s, _ in brute[:5]], atol=1e-5)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_greedy_candidates_are_sorted_top5(variant):
    model = tiny(variant, 5, eos_bias=1.0)
    for hyp in greedy(model, SOURCES):
        assert len(hyp.candidates) == len(hyp.tokens)
        for tok, lp, cands in zip(hyp.tokens, hyp.logprobs, hyp.candidates):
            assert len(cands) == TOP_CANDIDATES
            ids, probs = zip(*cands)
            assert len(set(ids)) == TOP_CANDIDATES and all(0 <= i < VOCAB for i in ids)
            assert all(0.0 <= p <= 1.0 for p in probs) and sum(probs) <= 1.0 + 1e-6
            assert list(probs) == sorted(probs, reverse=True)
            assert ids[0] == tok  # greedy picks the top candidate
            assert probs[0] == pytest.approx(math.exp(lp), rel=1e-5)


def test_greedy_attention_rows_sum_to_one():
    model = tiny("general", 6, eos_bias=1.0)
    for src, hyp in zip(SOURCES, greedy(model, SOURCES)):
        assert hyp.attention.shape == (len(hyp.tokens), len(src))
        assert np.allclose(hyp.attention.sum(1), 1.0, atol=1e-5)
        assert (hyp.attention >= 0).all()


@pytest.mark.parametrize("variant", ["dot", "multihead"])
def test_sampling_is_deterministic_for_a_seed(variant):
    model = tiny(variant, 7, eos_bias=1.0)
    a = sample(model, SOURCES, temperature=1.5, seed=11)
    b = sample(model, SOURCES, temperature=1.5, seed=11)
    assert [h.tokens for h in a] == [h.tokens for h in b]
    assert all(np.allclose(x.logprobs, y.logprobs) for x, y in zip(a, b))
    others = [sample(model, SOURCES, temperature=1.5, seed=s) for s in range(12, 16)]
    assert any([h.tokens for h in o] != [h.tokens for h in a] for o in others)
    for src, hyp in zip(SOURCES, a):  # log-probs are those of the model, not of the tempered distribution
        assert np.allclose(hyp.logprobs, teacher_forced_logprobs(model, src, hyp.tokens), atol=1e-5)


def test_sampling_top_k():
    model = tiny("additive", 8, eos_bias=1.0)
    one = sample(model, SOURCES, top_k=1, temperature=3.0, seed=1)
    assert [h.tokens for h in one] == [h.tokens for h in greedy(model, SOURCES)]
    for hyp in sample(model, SOURCES, top_k=3, temperature=5.0, seed=2):
        for tok, cands in zip(hyp.tokens, hyp.candidates):
            assert tok in [i for i, _ in cands[:3]]
    with pytest.raises(ValueError):
        sample(model, SOURCES, temperature=0)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_max_length_is_respected(variant):
    model = tiny(variant, 9, eos_bias=-30.0)  # never stops by itself
    for cap in (1, 4, 100):
        g = greedy(model, SOURCES, max_len=cap)
        s = sample(model, SOURCES, max_len=cap, seed=0)
        for src, hg, hs in zip(SOURCES, g, s):
            limit = max_output_len(len(src), cap)
            assert limit == min(cap, 2 * len(src) + 10)
            assert len(hg.tokens) == len(hs.tokens) == limit
            assert not hg.finished
            if hg.heads is not None:
                assert hg.heads.shape[0] == limit
        for src in SOURCES[:2]:
            for h in beam_search(model, src, beam=3, n_best=3, max_len=cap):
                assert len(h.tokens) == max_output_len(len(src), cap) and not h.finished


def test_immediate_eos():
    model = tiny("dot", 10, eos_bias=50.0)
    for hyp in greedy(model, SOURCES) + beam_search(model, SOURCES[1], beam=4, n_best=4)[:1]:
        assert hyp.tokens == [EOS_ID] and hyp.finished


def test_pad_batch():
    src, lens = pad_batch([[5, 6, 7], [8]])
    assert src.tolist() == [[5, 6, 7], [8, 0, 0]] and lens.tolist() == [3, 1]
