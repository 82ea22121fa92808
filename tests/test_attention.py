"""The attention variants: shapes, normalisation, masking, padding invariance, statelessness."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from seq2seq.attention import FORMULAS, VARIANTS, MultiHeadAttention, make_attention, masked_softmax

PROPS = settings(deadline=None, max_examples=25, derandomize=True)
WEIGHTED = [v for v in VARIANTS if v != "none"]


@st.composite
def batches(draw):
    """(seed, lengths, query size, memory size): memory size divisible by 4 for multihead."""
    lengths = draw(st.lists(st.integers(1, 7), min_size=1, max_size=5))
    q = draw(st.sampled_from([8, 12, 16]))
    m = draw(st.sampled_from([8, 16, 24]))
    return draw(st.integers(0, 2**16)), lengths, q, m


def make_inputs(seed, lengths, q, m):
    """Random query, memory with *garbage* (not zero) in padded positions, and the mask."""
    g = torch.Generator().manual_seed(seed)
    B, S = len(lengths), max(lengths)
    query = torch.randn(B, q, generator=g)
    memory = torch.randn(B, S, m, generator=g) * 2
    mask = torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]
    return query, memory, mask


def build(variant, q, m, seed=0):
    torch.manual_seed(seed)
    return make_attention(variant, q, m).eval()


def setup(variant, case):
    """(attention module, query, memory, mask, lengths) for one hypothesis case."""
    seed, lengths, q, m = case
    return (build(variant, q, m, seed), *make_inputs(seed, lengths, q, m), lengths)


@pytest.mark.parametrize("variant", WEIGHTED)
@PROPS
@given(case=batches())
def test_weights_normalised_and_zero_on_padding(variant, case):
    att, query, memory, mask, lengths = setup(variant, case)
    with torch.no_grad():
        context, weights = att(query, memory, mask)
    B, S = len(lengths), max(lengths)
    assert context.shape == (B, memory.size(-1))
    assert weights.shape == (B, att.heads, S)
    assert att.heads >= 1
    assert torch.isfinite(context).all() and torch.isfinite(weights).all()
    assert (weights >= 0).all()
    for b, n in enumerate(lengths):
        assert torch.allclose(weights[b, :, :n].sum(-1), torch.ones(att.heads), atol=1e-5)
        assert (weights[b, :, n:] == 0).all()  # exactly zero, not merely small


@pytest.mark.parametrize("variant", list(VARIANTS))
@PROPS
@given(case=batches())
def test_padded_batch_equals_each_sentence_alone(variant, case):
    att, query, memory, mask, lengths = setup(variant, case)
    with torch.no_grad():
        context, weights = att(query, memory, mask)
        for b, n in enumerate(lengths):
            c1, w1 = att(query[b:b + 1], memory[b:b + 1, :n], mask[b:b + 1, :n])
            assert torch.allclose(context[b], c1[0], atol=1e-5)
            if variant == "none":
                assert weights is None and w1 is None
            else:
                assert torch.allclose(weights[b, :, :n], w1[0], atol=1e-6)


@pytest.mark.parametrize("variant", list(VARIANTS))
@PROPS
@given(case=batches())
def test_precomputed_keys_give_the_same_result(variant, case):
    att, query, memory, mask, lengths = setup(variant, case)
    with torch.no_grad():
        c0, w0 = att(query, memory, mask)
        c1, w1 = att(query, memory, mask, att.prepare(memory))
    assert torch.equal(c0, c1)
    assert (w0 is None and w1 is None) or torch.equal(w0, w1)


@PROPS
@given(case=batches())
def test_none_returns_final_encoder_states(case):
    att, query, memory, mask, lengths = setup("none", case)
    context, weights = att(query, memory, mask)
    assert weights is None
    assert att.heads == 0
    assert context.shape == (len(lengths), memory.size(-1))
    half = memory.size(-1) // 2
    for b, n in enumerate(lengths):
        # [forward state at the last real piece ; backward state at the first piece]
        assert torch.equal(context[b], torch.cat([memory[b, n - 1, :half], memory[b, 0, half:]]))
    # the query plays no part
    assert torch.equal(att(torch.randn_like(query), memory, mask)[0], context)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_module_keeps_no_state_between_calls(variant):
    att = build(variant, 16, 24)
    before_attrs = dict(vars(att))
    before_attrs_keys = {k: set(v) if isinstance(v, dict) else None for k, v in before_attrs.items()}
    before_state = {k: v.clone() for k, v in att.state_dict().items()}
    n_buffers = len(list(att.buffers()))
    qa, ma, ka = make_inputs(1, [3, 5], 16, 24)
    qb, mb, kb = make_inputs(2, [7, 2, 4], 16, 24)
    with torch.no_grad():
        first = att(qa, ma, ka)
        att(qb, mb, kb)
        again = att(qa, ma, ka)
    assert set(vars(att)) == set(before_attrs)
    for k, keys in before_attrs_keys.items():
        if keys is not None:  # _parameters, _buffers, _modules, hooks ...
            assert set(vars(att)[k]) == keys, k
    assert len(list(att.buffers())) == n_buffers
    assert all(torch.equal(before_state[k], v) for k, v in att.state_dict().items())
    assert torch.equal(first[0], again[0])
    if first[1] is not None:
        assert torch.equal(first[1], again[1])


def test_multihead_has_several_heads_each_normalised():
    att = build("multihead", 16, 24)
    assert isinstance(att, MultiHeadAttention) and att.heads >= 2
    query, memory, mask = make_inputs(0, [4, 6], 16, 24)
    _, weights = att(query, memory, mask)
    assert weights.shape == (2, att.heads, 6)
    assert torch.allclose(weights[0, :, :4].sum(-1), torch.ones(att.heads), atol=1e-5)
    # the heads really differ (independent projections)
    assert not torch.allclose(weights[0, 0], weights[0, 1])


# ---- each variant computes the score its formula says -----------------------------------


def test_dot_formula():
    att = build("dot", 16, 16)
    assert att.proj is None
    q, mem, mask = make_inputs(3, [5], 16, 16)
    ctx, w = att(q, mem, mask)
    expected = torch.softmax(mem[0] @ q[0], -1)
    assert torch.allclose(w[0, 0], expected, atol=1e-6)
    assert torch.allclose(ctx[0], expected @ mem[0], atol=1e-5)


def test_dot_projects_when_sizes_differ():
    att = build("dot", 12, 24)
    q, mem, mask = make_inputs(3, [5], 12, 24)
    _, w = att(q, mem, mask)
    assert torch.allclose(w[0, 0], torch.softmax(att.proj(mem[0]) @ q[0], -1), atol=1e-6)


def test_general_formula():
    att = build("general", 12, 24)
    q, mem, mask = make_inputs(4, [6], 12, 24)
    _, w = att(q, mem, mask)
    e = torch.stack([q[0] @ (att.W.weight @ mem[0, i]) for i in range(6)])
    assert torch.allclose(w[0, 0], torch.softmax(e, -1), atol=1e-5)


def test_additive_formula():
    att = build("additive", 12, 24)
    q, mem, mask = make_inputs(5, [6], 12, 24)
    _, w = att(q, mem, mask)
    e = torch.stack([att.v(torch.tanh(att.W(q[0]) + att.U(mem[0, i])))[0] for i in range(6)])
    assert torch.allclose(w[0, 0], torch.softmax(e, -1), atol=1e-5)


def test_multihead_formula():
    att = build("multihead", 12, 24)
    q, mem, mask = make_inputs(6, [6], 12, 24)
    ctx, w = att(q, mem, mask)
    k, d = att.heads, 24 // att.heads
    Wk, Wv = att.kv.weight[:24], att.kv.weight[24:]
    qs = att.q(q[0]).view(k, d)
    heads = []
    for h in range(k):
        keys = mem[0] @ Wk.view(k, d, 24)[h].T      # (S, d)
        vals = mem[0] @ Wv.view(k, d, 24)[h].T
        a = torch.softmax(keys @ qs[h] / math.sqrt(d), -1)
        assert torch.allclose(w[0, h], a, atol=1e-5)
        heads.append(a @ vals)
    assert torch.allclose(ctx[0], att.o(torch.cat(heads)), atol=1e-5)


def test_masked_softmax_ignores_masked_scores():
    scores = torch.tensor([[1.0, 2.0, 1e9, -1e9]])
    mask = torch.tensor([[True, True, False, False]])
    out = masked_softmax(scores, mask)
    assert torch.allclose(out, torch.tensor([[1 / (1 + math.e), math.e / (1 + math.e), 0.0, 0.0]]))


def test_unknown_variant_and_formulas():
    with pytest.raises(ValueError, match="unknown attention variant"):
        make_attention("bogus", 8, 8)
    assert set(FORMULAS) == set(VARIANTS)
