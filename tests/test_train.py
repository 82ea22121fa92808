"""Training: length-bucketed batches, the loss, and a tiny end-to-end run with export, resume and warm start."""
from __future__ import annotations

import json
import random
import shutil

import pytest
import torch
from hypothesis import given, settings, strategies as st

from conftest import SHIPPED_TOKENIZER, tiny_config
from seq2seq import checkpoint as ckpt
from seq2seq.model import ModelConfig, Seq2Seq
from seq2seq.tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer
from seq2seq.train import TrainConfig, batch_tensors, loss_fn, make_batches, throughput_note, train

PROPS = settings(deadline=None, max_examples=40, derandomize=True)

_lengths = st.lists(st.tuples(st.integers(1, 30), st.integers(1, 30)), min_size=1, max_size=60)


@PROPS
@given(lengths=_lengths, max_tokens=st.integers(1, 300), seed=st.integers(0, 100))
def test_make_batches_covers_every_pair_once_within_the_token_budget(lengths, max_tokens, seed):
    src = [[5] * s for s, _ in lengths]
    tgt = [[6] * t for _, t in lengths]
    batches = make_batches(src, tgt, max_tokens, random.Random(seed))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    for b in batches:
        assert b
        longest = max(max(len(tgt[i]) + 1, len(src[i])) for i in b)
        assert len(b) == 1 or longest * len(b) <= max_tokens
    assert batches == make_batches(src, tgt, max_tokens, random.Random(seed))  # deterministic


def test_make_batches_groups_similar_lengths():
    rng = random.Random(0)
    src = [[5] * rng.randint(1, 40) for _ in range(500)]
    tgt = [[6] * len(s) for s in src]
    batches = make_batches(src, tgt, 400, random.Random(1))
    real = sum(len(s) for s in src)
    padded = sum(max(len(src[i]) for i in b) * len(b) for b in batches)
    assert real / padded > 0.9  # little padding (random batches of this size would waste about half)
    assert len(batches) < 100  # and they are full, not one pair each
    orders = {tuple(map(tuple, make_batches(src, tgt, 400, random.Random(s)))) for s in range(3)}
    assert len(orders) == 3  # the batch order is shuffled per epoch seed


def test_make_batches_keeps_target_padding_small_when_target_lengths_vary():
    """The decoder steps over every position of a batch's longest target, so batches
    must be close in target length too, not only in source length."""
    rng = random.Random(0)
    src = [[5] * rng.randint(1, 12) for _ in range(3000)]
    tgt = [[6] * max(1, len(s) + rng.randint(-4, 4)) for s in src]
    batches = make_batches(src, tgt, 600, random.Random(1))
    real = sum(len(tgt[i]) + 1 for b in batches for i in b)
    stepped = sum((max(len(tgt[i]) for i in b) + 1) * len(b) for b in batches)
    assert real / stepped > 0.85


def test_batch_tensors():
    src, tgt = [[5, 6, 7], [8]], [[9, 10], [11, 12, 13]]
    s, s_len, t_in, t_out = batch_tensors(src, tgt, [1, 0], "cpu")
    assert s.tolist() == [[8, PAD_ID, PAD_ID], [5, 6, 7]] and s_len.tolist() == [1, 3]
    assert t_in.tolist() == [[BOS_ID, 11, 12, 13], [BOS_ID, 9, 10, PAD_ID]]
    assert t_out.tolist() == [[11, 12, 13, EOS_ID], [9, 10, EOS_ID, PAD_ID]]


def test_loss_ignores_padding():
    torch.manual_seed(0)
    t_out = torch.tensor([[7, EOS_ID, PAD_ID, PAD_ID]])
    logits = torch.randn(1, 4, 12)
    other = logits.clone()
    other[0, 2:] = torch.randn(2, 12) * 100  # whatever the model says at padded steps
    for ls in (0.0, 0.1):
        assert torch.allclose(loss_fn(logits, t_out, ls), loss_fn(other, t_out, ls))
    expected = torch.nn.functional.cross_entropy(logits[0, :2], t_out[0, :2])
    assert torch.allclose(loss_fn(logits, t_out, 0.0), expected)


def test_throughput_note():
    assert throughput_note({"train_seconds": 120.0, "target_tokens": 60000}) == "500 target tokens/s over 2.0 min"


# ---- a tiny end-to-end run -------------------------------------------------------------

PAIRS = [("das Haus", "the house"), ("der Baum", "the tree"), ("die Katze", "the cat"), ("ein Hund", "a dog"),
         ("das Auto ist rot", "the car is red"), ("ich gehe nach Hause", "I am going home"),
         ("guten Morgen", "good morning"), ("gute Nacht", "good night"), ("danke schön", "thank you"),
         ("die Straße ist lang", "the street is long")] * 3
DEV = [("das Haus", "the house"), ("gute Nacht", "good night"), ("danke", "thanks")]


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # keep the test session's setting
    assets = tmp_path / "assets"
    assets.mkdir()
    shutil.copy(SHIPPED_TOKENIZER, assets / ckpt.TOKENIZER_FILE)
    tok = Tokenizer(assets / ckpt.TOKENIZER_FILE)
    cfg = tiny_config("dot", tok.vocab_size)
    tcfg = TrainConfig(max_tokens=40, eval_every=2, dev_sample=3, patience=50, seed=7)
    return assets, tmp_path / "runs" / "dot", tok, cfg, tcfg


def _run(setup, **kw):
    assets, run_dir, tok, cfg, tcfg = setup
    return train("dot", PAIRS, DEV, tok, run_dir, assets, cfg, tcfg, command="pytest", data_info={"corpus": "test"}, **kw)


def test_train_exports_resumes_and_warm_starts(setup, capsys):
    assets, run_dir, tok, cfg, tcfg = setup
    meta = _run(setup, max_steps=3)
    assert meta["step"] == 3 and meta["target_tokens"] > 0
    assert [h["step"] for h in meta["history"]] == [2, 3]  # every eval_every steps, and at the end
    assert all(0 <= h["dev_chrf"] <= 100 and 0 <= h["dev_bleu"] <= 100 for h in meta["history"])
    weights, config = ckpt.model_paths("dot", assets)
    model, info = ckpt.load_variant("dot", assets)  # verified against the manifest
    assert info["training"]["step"] == 3 and info["command"] == "pytest" and info["data"] == {"corpus": "test"}
    assert info["parameters"] == model.num_parameters()
    assert model.cfg == cfg
    assert json.loads((run_dir / "state.json").read_text())["step"] == 3

    meta = _run(setup, max_steps=5)  # resumes from runs/dot
    assert "resumed dot" in capsys.readouterr().err
    assert meta["step"] == 5 and [h["step"] for h in meta["history"]] == [2, 3, 4, 5]
    assert ckpt.load_variant("dot", assets)[1]["training"]["step"] == 5
    assert ckpt.load_variant("dot", assets)[1]["commands"] == ["pytest", "pytest"]   # both invocations

    shutil.rmtree(run_dir)  # no training state: warm start from the shipped weights
    shipped, _ = ckpt.load_variant("dot", assets)
    shipped_sha = ckpt.sha256_file(weights)
    meta = _run(setup, max_steps=6)
    assert "warm-started dot" in capsys.readouterr().err
    assert meta["step"] == 6 and [h["step"] for h in meta["history"]][:4] == [2, 3, 4, 5]
    assert meta["commands"] == ["pytest"] * 3        # carried over from the shipped weights
    first_warm = meta["warm_start"]
    assert first_warm["sha256"] == shipped_sha
    assert first_warm["step"] == 5 and first_warm["from"] == str(weights)   # outside the repo: as given

    shutil.rmtree(run_dir)  # warm start again, from weights that were themselves warm-started
    meta = _run(setup, max_steps=7)
    assert meta["warm_start"] == first_warm           # where training on this data began
    assert ckpt.load_variant("dot", assets)[1]["training"]["warm_start"] == first_warm

    meta = _run(setup, max_steps=2, restart=True)  # from scratch
    assert meta["step"] == 2


def test_warm_start_names_shipped_weights_relative_to_the_repository(tmp_path):
    # A card must not carry this machine's folders: inside the repository the path is relative.
    inside = ckpt.ASSETS / "models" / "dot.safetensors"
    assert ckpt.shown_path(inside) == "assets/models/dot.safetensors"
    assert ckpt.shown_path(ckpt.ASSETS / "models" / ".." / "models" / "dot.safetensors") == "assets/models/dot.safetensors"
    outside = tmp_path / "dot.safetensors"
    assert ckpt.shown_path(outside) == str(outside)


def test_train_is_reproducible(setup, tmp_path):
    assets, run_dir, tok, cfg, tcfg = setup
    _run(setup, max_steps=3, export=False)
    first = {k: v.clone() for k, v in ckpt.load_model(run_dir / "best.safetensors", run_dir / "best.json", None)[0]
             .state_dict().items()}
    first_state = (run_dir / "state.safetensors").read_bytes()
    shutil.rmtree(run_dir)
    _run(setup, max_steps=3, export=False)
    assert not ckpt.model_paths("dot", assets)[0].exists()  # export=False ships nothing
    assert (run_dir / "state.safetensors").read_bytes() == first_state
    again = ckpt.load_model(run_dir / "best.safetensors", run_dir / "best.json", None)[0].state_dict()
    assert all(torch.equal(v, again[k]) for k, v in first.items())


def test_train_time_budget(setup):
    meta = _run(setup, minutes=0.0, export=False)
    assert meta["step"] == 1  # the budget is checked after each step


def test_sigterm_saves_the_state_and_the_run_resumes_there(setup, capsys):
    """An interrupted run (Ctrl-C, SIGTERM) stops after the current step and saves its state."""
    import os
    import signal
    import threading

    assets, run_dir, tok, cfg, tcfg = setup
    stepped = threading.Event()
    real_update = torch.optim.Adam.step

    def step_then_signal(self, *a, **kw):
        out = real_update(self, *a, **kw)
        if not stepped.is_set():
            stepped.set()
            os.kill(os.getpid(), signal.SIGTERM)   # arrives in the middle of the run
        return out

    before = signal.getsignal(signal.SIGTERM)
    try:
        torch.optim.Adam.step = step_then_signal
        meta = _run(setup, max_steps=1000)
    finally:
        torch.optim.Adam.step = real_update
    assert "stopped (interrupted)" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before          # the handler is put back
    assert 1 <= meta["step"] < 1000
    state = json.loads((run_dir / "state.json").read_text())
    assert state["step"] == meta["step"] and state["batch_in_epoch"] == meta["batch_in_epoch"]
    resumed = _run(setup, max_steps=meta["step"] + 2)
    assert "resumed dot" in capsys.readouterr().err and resumed["step"] == meta["step"] + 2


def test_bf16_step_trains_like_fp32():
    from seq2seq.model import Seq2Seq
    from seq2seq.train import train_step

    batch = batch_tensors([[5, 6, 7, 8], [9, 10]], [[11, 12, 13], [14, 15]], [0, 1], "cpu")
    losses = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = Seq2Seq(tiny_config("additive", 40))
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses[precision] = [train_step(model, opt, batch, 0.0, 1.0, precision)[0] for _ in range(20)]
        assert all(p.dtype == torch.float32 for p in model.parameters())   # weights stay fp32
    assert losses["bf16"][-1] < losses["bf16"][0] / 2                     # it learns
    assert losses["bf16"][0] == pytest.approx(losses["fp32"][0], rel=0.02)
    with pytest.raises(ValueError):
        train_step(model, opt, batch, 0.0, 1.0, "fp8")


def test_native_precision_is_bf16_only_where_the_cpu_has_bfloat16_products(monkeypatch):
    from seq2seq.train import PRECISIONS, native_precision

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert native_precision() == "bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert native_precision() == "fp32"
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    assert native_precision() == "fp32"           # a torch without the check: the safe choice
    assert native_precision("cuda") in PRECISIONS


def test_weight_average_follows_the_weights_and_swaps_in_for_evaluation():
    from seq2seq.model import Seq2Seq
    from seq2seq.train import WeightAverage

    torch.manual_seed(0)
    model = Seq2Seq(tiny_config("additive", 40))
    start = [p.detach().clone() for p in model.parameters()]
    average = WeightAverage(model, decay=0.75)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    average.update()                                     # θ̄ = 0.75 θ̄ + 0.25 θ
    trained = [p.detach().clone() for p in model.parameters()]
    assert all(torch.allclose(a, s + 0.25) for a, s in zip(average.avg, start))
    with average.swapped_in():
        assert all(torch.allclose(p, s + 0.25) for p, s in zip(model.parameters(), start))
    assert all(torch.equal(p, t) for p, t in zip(model.parameters(), trained))  # training goes on from θ
    again = WeightAverage(model, 0.75, saved=average.tensors())
    assert all(torch.equal(a, b) for a, b in zip(again.avg, average.avg))


def test_the_average_is_saved_with_the_state_and_lr_restarts_a_resumed_run(setup):
    assets, run_dir, tok, cfg, tcfg = setup
    _run(setup, max_steps=3)
    model = ckpt.load_variant("dot", assets)[0]
    saved = {}
    ckpt.load_training_state(run_dir, model, torch.optim.Adam(model.parameters()), saved)
    assert sorted(saved) == list(range(len(list(model.parameters()))))
    state = json.loads((run_dir / "state.json").read_text())
    assert 0 < state["param_groups"][0]["lr"] <= state["history"][-1]["lr"] == tcfg.lr

    meta = _run(setup, max_steps=4, lr=5e-4)             # resumed with a new rate
    assert meta["history"][-1]["lr"] == 5e-4
    kept = _run(setup, max_steps=5)                       # resumed without: the saved rate goes on
    assert kept["history"][-1]["lr"] <= 5e-4


def test_the_best_checkpoint_holds_the_averaged_weights(setup):
    assets, run_dir, tok, cfg, tcfg = setup
    meta = _run(setup, max_steps=2, export=False)   # one evaluation, at step 2: it is the best so far
    best = ckpt.load_model(run_dir / "best.safetensors", run_dir / "best.json", None)[0]
    from seq2seq.model import Seq2Seq
    last, average = Seq2Seq(cfg), {}
    ckpt.load_training_state(run_dir, last, torch.optim.Adam(last.parameters()), average)
    assert meta["step"] == 2
    assert all(torch.allclose(p, average[i]) for i, p in enumerate(best.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(best.parameters(), last.parameters()))


def test_record_commands_puts_each_change_of_data_before_the_training_it_fed():
    from seq2seq.train import record_commands

    prep_a, prep_b = "python -m seq2seq prepare", "python -m seq2seq prepare --keep-tokenizer"
    cmds = record_commands([], prep_a, "train 1")
    cmds = record_commands(cmds, prep_a, "train 2")          # same data: no second prepare
    assert cmds == [prep_a, "train 1", "train 2"]
    cmds = record_commands(cmds, prep_b, "train 3")
    assert cmds == [prep_a, "train 1", "train 2", prep_b, "train 3"]
    assert record_commands(["train 0"], None, "train 1") == ["train 0", "train 1"]   # data of unknown origin


def test_a_two_direction_model_trains_on_every_pair_both_ways_each_source_tagged(two_way_tokenizer):
    from seq2seq.train import dev_runs, encode_pairs

    tok = Tokenizer(two_way_tokenizer)
    pairs = [("das Haus ist rot", "the house is red"), ("der Hund schläft", "the dog sleeps")]
    src, tgt = encode_pairs(tok, pairs, 60, ("de-en", "en-de"))
    to_en, to_de = tok.tag_id("de-en"), tok.tag_id("en-de")
    assert src == [[to_en] + tok.encode(d) for d, _ in pairs] + [[to_de] + tok.encode(e) for _, e in pairs]
    assert tgt == [tok.encode(e) for _, e in pairs] + [tok.encode(d) for d, _ in pairs]
    assert encode_pairs(tok, pairs, 60) == ([tok.encode(d) for d, _ in pairs], [tok.encode(e) for _, e in pairs])
    runs = dev_runs({"ding": pairs}, ("de-en", "en-de"))
    assert runs["ding en-de"] == ("en-de", [(e, d) for d, e in pairs]) and runs["ding de-en"][1] == pairs
    assert dev_runs({"ding": pairs}, ("de-en",)) == {"ding": ("de-en", pairs)}


def test_translate_corpus_steers_a_two_direction_model_by_its_tag(two_way_tokenizer, monkeypatch):
    from seq2seq import evaluate

    tok = Tokenizer(two_way_tokenizer)
    model = Seq2Seq(ModelConfig(variant="dot", vocab_size=tok.vocab_size, emb_size=8, enc_hidden=4, dec_hidden=8,
                                directions=("de-en", "en-de")))
    seen = []
    monkeypatch.setattr(evaluate, "greedy", lambda m, batch, max_len: seen.extend(batch) or
                        [type("H", (), {"tokens": []})() for _ in batch])
    evaluate.translate_corpus(model, tok, ["das Haus"], direction="en-de")
    evaluate.translate_corpus(model, tok, ["das Haus"])
    assert seen == [[tok.tag_id("en-de")] + tok.encode("das Haus"), [tok.tag_id("de-en")] + tok.encode("das Haus")]
