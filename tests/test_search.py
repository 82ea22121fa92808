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


# ---- forced decoding, interventions, the beam tree ------------------------------------------

from seq2seq.search import Intervention, beam_tree, continue_decode, force_decode, node_path  # noqa: E402


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("eos_bias", [0.0, 2.5])
def test_forcing_the_greedy_output_reproduces_greedy_exactly(variant, eos_bias):
    for seed in range(2):
        model = tiny(variant, seed, eos_bias)
        for src in SOURCES:
            g = greedy(model, [src], max_len=20)[0]
            f = force_decode(model, src, g.tokens)
            T = len(g.tokens)               # an unfinished greedy output gets </s> appended when forced
            assert f.tokens[:T] == g.tokens and f.finished
            assert len(f.tokens) == T + (not g.finished)
            assert f.logprobs[:T] == g.logprobs               # bit for bit: the same step code
            assert f.candidates[:T] == g.candidates
            if g.heads is None:
                assert f.heads is None
            else:
                assert np.array_equal(f.heads[:T], g.heads)


@pytest.mark.parametrize("variant", ["none", "general", "multihead"])
def test_forced_logprobs_match_the_models_teacher_forcing(variant):
    """An independent reference: Seq2Seq.forward (the training path) on the same target."""
    model = tiny(variant, 3)
    target = [9, 4, 17, 22, EOS_ID]
    for src in SOURCES:
        f = force_decode(model, src, target[:-1])
        assert f.tokens == target
        assert np.allclose(f.logprobs, teacher_forced_logprobs(model, src, target), atol=1e-5)


def test_forced_output_with_inner_eos_is_refused():
    with pytest.raises(ValueError, match="end-of-sentence"):
        force_decode(tiny("dot"), SOURCES[0], [5, EOS_ID, 6])


@pytest.mark.parametrize("variant", ["none", "additive"])
def test_continue_from_a_prefix(variant):
    model = tiny(variant, 1, eos_bias=2.0)
    for src in SOURCES:
        g = greedy(model, [src])[0]
        for k in range(len(g.tokens) + 1):      # its own prefix: the rest is its own greedy output
            c = continue_decode(model, src, g.tokens[:k])
            assert c.tokens == g.tokens and c.logprobs == g.logprobs
        c = continue_decode(model, src, [25, 26])
        assert c.tokens[:2] == [25, 26]
        forced = force_decode(model, src, [25, 26])
        assert c.logprobs[:2] == forced.logprobs[:2]
        assert c.finished or len(c.tokens) == max_output_len(len(src), 100)


@pytest.mark.parametrize("variant", ["dot", "general", "additive", "multihead"])
def test_knocking_out_all_but_one_puts_all_attention_on_it(variant):
    model = tiny(variant, 4, eos_bias=1.0)
    src = SOURCES[1]
    for keep in (0, 3, len(src) - 1):
        knock = tuple(i for i in range(len(src)) if i != keep)
        for hyp in (greedy(model, [src], max_len=15, intervention=Intervention(knockout=knock))[0],
                    force_decode(model, src, [7, 8, 9], Intervention(knockout=knock))):
            expected = np.zeros((len(hyp.tokens), model.decoder.attention.heads, len(src)))
            expected[:, :, keep] = 1.0
            assert np.array_equal(hyp.heads, expected)


@pytest.mark.parametrize("variant", ["dot", "multihead"])
def test_knock_out_zeroes_those_pieces_and_renormalises_the_rest(variant):
    model = tiny(variant, 5)
    src, target = SOURCES[1], [7, 8, 9, 10]
    free = force_decode(model, src, target)
    out = force_decode(model, src, target, Intervention(knockout=(1, 4)))
    assert np.all(out.heads[:, :, [1, 4]] == 0)
    assert np.allclose(out.heads.sum(-1), 1, atol=1e-6)
    # At step 0 the decoder state is the same, so the kept weights are the old ones renormalised.
    kept = [0, 2, 3, 5, 6]
    old = free.heads[0][:, kept]
    assert np.allclose(out.heads[0][:, kept], old / old.sum(-1, keepdims=True), atol=1e-6)


@pytest.mark.parametrize("variant", ["additive", "multihead"])
def test_forcing_alpha_at_one_step(variant):
    model = tiny(variant, 6)
    src, target = SOURCES[3], [7, 8, 9, 10, 11]
    free = force_decode(model, src, target)
    out = force_decode(model, src, target, Intervention(force_step=2, force_source=4))
    assert np.array_equal(out.heads[:2], free.heads[:2])       # steps before t are untouched
    assert out.logprobs[:2] == free.logprobs[:2]
    assert np.array_equal(out.heads[2], np.eye(len(src))[[4] * model.decoder.attention.heads])
    assert out.logprobs[2] != free.logprobs[2]                 # c_t changed, so p(y_t) did
    assert np.allclose(out.heads[3:].sum(-1), 1, atol=1e-6)    # later steps attend freely again


def test_interventions_do_not_change_none():
    model = tiny("none", 2)
    src, target = SOURCES[1], [7, 8, 9]
    assert force_decode(model, src, target, Intervention(knockout=(0, 1))).logprobs == \
        force_decode(model, src, target).logprobs


@pytest.mark.parametrize("intervention, message", [
    (Intervention(knockout=(7,)), "does not exist"),
    (Intervention(knockout=(-1,)), "does not exist"),
    (Intervention(knockout=(0, 1, 2)), "Every source piece"),
    (Intervention(force_step=0, force_source=3), "does not exist"),
    (Intervention(force_step=0), "both"),
    (Intervention(knockout=(1,), force_step=0, force_source=1), "knocked out"),
])
def test_impossible_interventions_are_refused(intervention, message):
    with pytest.raises(ValueError, match=message):
        greedy(tiny("dot"), [SOURCES[0]], intervention=intervention)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("eos_bias", [0.0, 2.5])
@pytest.mark.parametrize("beam, n_best", [(1, 1), (3, 3), (5, 2)])
def test_beam_tree_leaves_are_the_n_best(variant, eos_bias, beam, n_best):
    model = tiny(variant, 7, eos_bias)
    for src in SOURCES[:3]:
        hyps, nodes = beam_tree(model, src, beam=beam, n_best=n_best, max_len=12)
        plain = beam_search(model, src, beam=beam, n_best=n_best, max_len=12)
        assert [h.tokens for h in hyps] == [h.tokens for h in plain]
        ended = sorted((n for n in nodes if n.status in ("finished", "length limit")), key=lambda n: -n.score)
        ranked = sorted((n for n in nodes if n.rank is not None), key=lambda n: n.rank)
        assert ranked == ended[: len(plain)]
        assert [node_path(nodes, n.id) for n in ranked] == [h.tokens for h in plain]
        assert [n.score for n in ranked] == pytest.approx([h.score for h in plain])
        for n, h in zip(ranked, plain):       # the node's total is the path's Σ log p
            assert n.total == pytest.approx(h.logprob, abs=1e-4)


def test_beam_tree_structure():
    model = tiny("additive", 8, eos_bias=1.0)
    src, beam = SOURCES[1], 3
    _, nodes = beam_tree(model, src, beam=beam, n_best=2, max_len=10)
    assert nodes[0].status == "root" and nodes[0].parent == -1
    by_id = {n.id: n for n in nodes}
    for n in nodes[1:]:
        parent = by_id[n.parent]
        assert parent.step == n.step - 1
        assert parent.status in ("root", "kept")                  # only survivors are expanded
        assert n.total == pytest.approx(parent.total + n.logprob, abs=1e-4)
        assert n.alpha.shape == (len(src),) and n.alpha.sum() == pytest.approx(1, abs=1e-5)
        assert [c for c, _ in n.candidates][:1] and len(n.candidates) == TOP_CANDIDATES
    for t in range(max(n.step for n in nodes) + 1):
        step = [n for n in nodes if n.step == t]
        assert sum(n.status == "kept" for n in step) <= beam
        assert len(step) <= 2 * beam
        kept_scores = [n.total for n in step if n.status == "kept"]
        pruned = [n.total for n in step if n.status == "pruned"]
        if kept_scores and pruned:
            assert min(kept_scores) >= max(pruned)                 # the beam keeps the best


def test_beam_tree_needs_one_sentence():
    with pytest.raises(ValueError, match="one sentence"):
        beam_search_batch(tiny("dot"), SOURCES[:2], record=[])
