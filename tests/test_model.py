"""The encoder–decoder: shapes, tied embeddings, config round trip, padded-batch invariance."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

from conftest import tiny_config
from seq2seq.attention import VARIANTS
from seq2seq.model import ModelConfig, Seq2Seq
from seq2seq.search import pad_batch
from seq2seq.tokenizer import BOS_ID, PAD_ID

PROPS = settings(deadline=None, max_examples=10, derandomize=True)
VOCAB = 40


def tiny(variant, seed=0):
    torch.manual_seed(seed)
    return Seq2Seq(tiny_config(variant, VOCAB)).eval()


def random_seqs(g, lengths):
    return [torch.randint(4, VOCAB, (n,), generator=g).tolist() for n in lengths]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_forward_shapes(variant):
    model = tiny(variant)
    g = torch.Generator().manual_seed(0)
    src, src_len = pad_batch(random_seqs(g, [5, 3, 7]))
    tgt_in, _ = pad_batch([[BOS_ID] + s for s in random_seqs(g, [4, 6, 2])])
    logits, weights = model(src, src_len, tgt_in)
    assert logits.shape == (3, 7, VOCAB)
    if variant == "none":
        assert weights is None and model.decoder.attention.heads == 0
    else:
        heads = model.decoder.attention.heads
        assert model.decoder.attention.heads > 0 and heads >= (2 if variant == "multihead" else 1)
        assert weights.shape == (3, 7, heads, 7)
        assert (weights[1, :, :, 3:] == 0).all()
        assert torch.allclose(weights.sum(-1), torch.ones(3, 7, heads), atol=1e-5)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_encode_shapes_and_mask(variant):
    model = tiny(variant)
    cfg = model.cfg
    src, src_len = pad_batch([[5, 6, 7, 8], [9, 10]])
    memory, mask, (s0, feed0, keys) = model.encode(src, src_len)
    assert memory.shape == (2, 4, 2 * cfg.enc_hidden)
    assert mask.tolist() == [[True] * 4, [True, True, False, False]]
    assert (memory[1, 2:] == 0).all()  # packed sequences: nothing leaks into padding
    assert s0.shape == (2, cfg.dec_hidden) and feed0.shape == (2, cfg.emb_size)


@pytest.mark.parametrize("variant", list(VARIANTS))
@PROPS
@given(data=st.data())
def test_padded_batch_gives_the_same_logits_as_each_sentence_alone(variant, data):
    src_lens = data.draw(st.lists(st.integers(1, 9), min_size=2, max_size=4), label="src_lens")
    tgt_lens = data.draw(st.lists(st.integers(1, 8), min_size=len(src_lens), max_size=len(src_lens)), label="tgt_lens")
    seed = data.draw(st.integers(0, 1000), label="seed")
    model = tiny(variant, seed)
    g = torch.Generator().manual_seed(seed)
    srcs = random_seqs(g, src_lens)
    tgts = [[BOS_ID] + t for t in random_seqs(g, tgt_lens)]
    src, src_len = pad_batch(srcs)
    tgt_in, _ = pad_batch(tgts)
    with torch.no_grad():
        logits, weights = model(src, src_len, tgt_in)
        for b, (s, t) in enumerate(zip(srcs, tgts)):
            one_logits, one_weights = model(torch.tensor([s]), torch.tensor([len(s)]), torch.tensor([t]))
            assert torch.allclose(logits[b, : len(t)], one_logits[0], atol=1e-5)
            if weights is not None:
                assert torch.allclose(weights[b, : len(t), :, : len(s)], one_weights[0], atol=1e-5)
                assert (weights[b, :, :, len(s):] == 0).all()


def test_embeddings_are_tied_and_pad_is_zero():
    model = tiny("additive")
    assert model.encoder.embed is model.embed and model.decoder.embed is model.embed
    assert (model.embed.weight[PAD_ID] == 0).all()
    logits = model.decoder.logits(torch.randn(2, model.cfg.emb_size))
    assert logits.shape == (2, VOCAB)
    # the tied embedding appears once among the parameters
    assert model.num_parameters() == sum(p.numel() for p in set(model.parameters()))
    names = [n for n, _ in model.named_parameters()]
    assert "embed.weight" in names and not any(n.endswith("embed.weight") and n != "embed.weight" for n in names)


def test_default_config_parameter_count_is_stable():
    """The shipped default size (emb 256, enc 192, dec 384, vocab 8000, additive)."""
    model = Seq2Seq(ModelConfig())
    emb, enc, dec, vocab = 256, 192, 384, 8000
    gru = lambda i, h: 3 * h * (i + h) + 6 * h  # noqa: E731
    expected = (vocab * emb                                  # tied embedding
                + 2 * gru(emb, enc)                          # bidirectional encoder
                + 2 * enc * dec + dec                        # bridge
                + gru(2 * emb, dec)                          # decoder cell (input feeding)
                + dec * dec + 2 * enc * dec + dec + dec      # additive: W, U (+bias), v
                + (dec + 2 * enc + emb) * emb + emb          # combine
                + vocab)                                     # output bias
    assert model.num_parameters() == expected


def test_dropout_only_in_training_mode():
    torch.manual_seed(0)
    model = Seq2Seq(ModelConfig(variant="dot", vocab_size=VOCAB, emb_size=16, enc_hidden=8, dec_hidden=16,
                                dropout=0.5))
    src, src_len = pad_batch([[5, 6, 7, 8]])
    tgt = torch.tensor([[BOS_ID, 5, 6]])
    model.eval()
    assert torch.equal(model(src, src_len, tgt)[0], model(src, src_len, tgt)[0])
    model.train()
    assert not torch.equal(model(src, src_len, tgt)[0], model(src, src_len, tgt)[0])


def test_config_round_trip_and_unknown_keys():
    cfg = ModelConfig(variant="general", vocab_size=123, emb_size=8, enc_hidden=4, dec_hidden=8, dropout=0.1)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({**cfg.to_dict(), "layers": 2})


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError):
        Seq2Seq(ModelConfig(variant="bogus", vocab_size=VOCAB))


def test_directions_are_one_pair_both_ways_and_survive_the_config_file():
    from seq2seq.model import orient

    cfg = ModelConfig(directions=["de-en", "en-de"])
    assert cfg.directions == ("de-en", "en-de") and ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert ModelConfig().directions == ("de-en",)       # configs written before directions existed
    for bad in ((), ("de-en", "de-en"), ("de-en", "fr-en"), ("de-en", "en-de", "de-fr"), ("deen",), ("de-",)):
        with pytest.raises(ValueError):
            ModelConfig(directions=bad)
    pairs = [("das Haus", "the house")]
    assert orient(pairs, "de-en", cfg.directions) == pairs
    assert orient(pairs, "en-de", cfg.directions) == [("the house", "das Haus")]
    assert orient(pairs, "en-de", ("en-de",)) == [("the house", "das Haus")]   # one-way English → German
    with pytest.raises(ValueError):
        orient(pairs, "en-de", ("de-en",))
