"""Toy tasks: sequences and their alignments (against brute-force oracles), the
deterministic trainer, the live trainer's cap, stop and single-run rule, the
command line, the shipped tiny models' sanity bar, and the tab's handlers."""
from __future__ import annotations

import itertools
import random
import shutil
import sys
import threading
import time

import pytest
import torch
from hypothesis import given, settings, strategies as st

from conftest import ROOT
from seq2seq import checkpoint as ckpt
from seq2seq import toy
from seq2seq.attention import VARIANTS

sys.path.insert(0, str(ROOT / "scripts"))
import train_toy  # noqa: E402

PROPS = settings(deadline=None, max_examples=60, derandomize=True)
TINY = dict(steps=12, batch_size=8, max_len=6)          # a few quick steps for the trainer's tests
SHIPPED = [(t, v) for t in toy.SHIPPED_TASKS for v in VARIANTS]
SHORT = 3              # ``none`` gets sequences up to this long right (its bar), and long ones wrong


# ---- sequences ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, seq", [("4 9 0 2", "4902"), ("4,9,0,2", "4902"), (" 49 02\n", "4902"),
                                       ("7", "7"), ("0" * toy.MAX_LEN, "0" * toy.MAX_LEN)])
def test_parse_sequence_accepts_digits_with_spaces_and_commas(text, seq):
    assert toy.parse_sequence(text) == seq


@pytest.mark.parametrize("text, message", [(None, "Type"), ("", "Type"), ("  ,", "Type"), (5, "text"),
                                           ("12a", "digits"), ("１２", "digits"), ("\ud800", "digits"),
                                           ("1" * (toy.MAX_LEN + 1), "at most"),
                                           ("1 " * 150, "characters")])
def test_parse_sequence_refuses_other_input_with_a_message(text, message):
    with pytest.raises(toy.ToyInputError, match=message):
        toy.parse_sequence(text)


@PROPS
@given(seq=st.text(alphabet=toy.SYMBOLS, min_size=1, max_size=toy.MAX_LEN), task=st.sampled_from(toy.TASKS))
def test_aligned_positions_hold_the_digit_written(seq, task):
    out = toy.target(task, seq)
    assert sorted(out) == sorted(seq)                                   # a permutation of the input
    aligned = toy.aligned_positions(task, seq)
    assert len(aligned) == len(out)
    for t, positions in enumerate(aligned):
        assert positions and all(seq[i] == out[t] for i in positions)
        if task != "sort":      # copy and reverse: exactly the (anti-)diagonal
            assert positions == {t if task == "copy" else len(seq) - 1 - t}
        else:                   # every position holding that digit, found by brute force
            assert positions == {i for i, ch in enumerate(seq) if ch == out[t]}


def test_targets_by_hand():
    assert [toy.target(t, "3141") for t in toy.TASKS] == ["3141", "1413", "1134"]


@PROPS
@given(seq=st.text(alphabet=toy.SYMBOLS, min_size=1, max_size=toy.MAX_LEN))
def test_encode_decode_round_trip(seq):
    ids = toy.encode(seq)
    assert min(ids) >= toy.FIRST_SYMBOL_ID and max(ids) < toy.VOCAB_SIZE
    assert toy.decode(ids + [3, 5]) == seq              # stops at EOS


@pytest.mark.parametrize("seed, ok", [(0, True), (7.0, True), (toy.MAX_SEED, True), (-1, False), (2.5, False),
                                      (True, False), ("3", False), (None, False), (float("nan"), False),
                                      (toy.MAX_SEED + 1, False)])
def test_check_seed(seed, ok):
    if ok:
        assert toy.check_seed(seed) == int(seed)
    else:
        with pytest.raises(toy.ToyInputError):
            toy.check_seed(seed)


def test_config_refuses_unknown_task_variant_and_lengths():
    for kw in ({"task": "add"}, {"variant": "sparse"}, {"variant": None}, {"max_len": toy.MAX_LEN + 1}, {"min_len": 0}):
        with pytest.raises(toy.ToyInputError):
            toy.ToyConfig(**kw)


def test_test_sequences_cover_every_length_and_are_fixed():
    seqs = toy.test_sequences()
    assert seqs == toy.test_sequences()
    assert {len(s) for s in seqs} == set(range(toy.MIN_LEN, toy.MAX_LEN + 1))


# ---- the trainer ----------------------------------------------------------------------------

def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_is_deterministic_and_seeded():
    cfg = toy.ToyConfig(task="reverse", variant="dot", seed=3, **TINY)
    first = _weights(toy.train_model(cfg)[0])
    assert _same(first, _weights(toy.train_model(cfg)[0]))
    other = toy.ToyConfig(task="reverse", variant="dot", seed=4, **TINY)
    assert not _same(first, _weights(toy.train_model(other)[0]))
    state = torch.random.get_rng_state()
    toy.train_model(cfg)
    assert torch.equal(state, torch.random.get_rng_state())          # the global generator is untouched


def test_the_command_line_and_the_live_trainer_make_the_same_model(tmp_path):
    """Same task, variant and seed: the file the command writes holds the weights the page trains."""
    assert train_toy.main(["--task", "copy", "--variant", "general", "--seed", "5", "--steps", "12",
                           "--assets", str(tmp_path)]) == 0
    shipped, info = toy.load("copy", "general", tmp_path)             # verified against its manifest
    assert info["toy"]["seed"] == 5 and info["test"]["sequences"] == toy.TEST_SIZE
    cfg = toy.ToyConfig(task="copy", variant="general", seed=5, steps=12)
    final = [p for p in toy.LiveTrainer(time_cap=60, report_every=0.0).run(cfg)][-1]
    assert final.done and final.reason == "finished" and final.step == 12
    assert _same(_weights(shipped), _weights(final.model))


def test_a_live_run_stopped_at_step_k_is_the_command_lines_stop_after_k():
    cfg = toy.ToyConfig(task="sort", variant="additive", seed=1, **TINY)
    trainer = toy.LiveTrainer(time_cap=60, report_every=0.0)        # a report after every step
    for p in trainer.run(cfg, owner="me"):
        if p.step == 5 and not p.done:
            assert not trainer.stop("someone else")                  # only the owner stops it
            assert trainer.stop("me")
        last = p
    assert last.done and last.reason == "stopped" and last.step == 5
    assert _same(_weights(last.model), _weights(toy.train_model(cfg, stop_after=5)[0]))


def test_live_training_stops_at_its_cap_and_reports_often():
    cfg = toy.ToyConfig(task="copy", variant="additive", steps=10**6)
    cap, every = 1.5, 0.3
    trainer = toy.LiveTrainer(time_cap=cap, report_every=every)
    t0 = time.monotonic()
    seen = []
    for p in trainer.run(cfg):
        seen.append((time.monotonic() - t0, p))
    wall = time.monotonic() - t0
    final = seen[-1][1]
    assert final.done and final.reason == "time cap" and 0 < final.step < cfg.steps
    assert wall < cap + 1.5                                           # one step and a probe after the cap at most
    assert seen[0][1].step == 0 and seen[0][1].loss is None
    assert len(seen) >= 3 and [p.step for _, p in seen] == sorted(p.step for _, p in seen)
    gaps = [b - a for (a, _), (b, _) in zip(seen, seen[1:])]
    assert max(gaps) < 2.0                                            # progress at least every 2 s
    first, last = seen[0][1].alpha, final.alpha
    assert first.shape == last.shape == (len(toy.PROBE), len(toy.PROBE))
    assert torch.allclose(torch.tensor(last.sum(1)), torch.ones(len(toy.PROBE)), atol=1e-5)
    assert not trainer.busy


def test_a_second_live_run_is_refused_while_one_runs_and_allowed_after():
    trainer = toy.LiveTrainer(time_cap=30, report_every=0.0)
    cfg = toy.ToyConfig(**TINY)
    first = trainer.run(cfg, owner="a")
    next(first)                                                       # running: holds the trainer
    assert trainer.busy
    with pytest.raises(toy.TrainerBusy, match="one runs at a time"):
        next(trainer.run(cfg, owner="b"))
    first.close()                                                     # a closed (cancelled) run frees it
    assert not trainer.busy
    assert [p for p in trainer.run(cfg, owner="b")][-1].reason == "finished"


def test_a_second_live_run_from_another_thread_is_refused():
    trainer = toy.LiveTrainer(time_cap=30, report_every=0.0)
    started, release, errors = threading.Event(), threading.Event(), []

    def first():
        for p in trainer.run(toy.ToyConfig(**TINY)):
            started.set()
            release.wait(10)

    th = threading.Thread(target=first)
    th.start()
    assert started.wait(30)
    try:
        next(trainer.run(toy.ToyConfig(**TINY)))
    except toy.TrainerBusy as exc:
        errors.append(exc)
    release.set()
    th.join(30)
    assert len(errors) == 1 and not trainer.busy


def test_the_probe_alpha_is_teacher_forced_on_the_correct_output():
    model = toy.new_model(toy.ToyConfig(task="reverse", variant="multihead"))
    out, alpha = toy.probe(model, "reverse")
    assert alpha.shape == (len(toy.PROBE), len(toy.PROBE)) and isinstance(out, str)
    assert toy.probe(toy.new_model(toy.ToyConfig(variant="none")), "copy")[1] is None


def test_script_refuses_bad_choices(tmp_path, capsys):
    with pytest.raises(SystemExit):
        train_toy.main(["--task", "add", "--assets", str(tmp_path)])


# ---- the shipped models: the sanity bar -----------------------------------------------------
# The one proof that attention is real: every attention variant learns copy and reverse and looks
# where it should (the diagonal, the anti-diagonal), while ``none``, one fixed vector for the whole
# source, gets short sequences right and long ones wrong. The models are those the page shows;
# ``test_training_is_deterministic_and_seeded`` and the command-line test tie them to the trainer.

@pytest.fixture(scope="module")
def shipped_scores():
    seqs = toy.test_sequences()
    return {key: toy.evaluate(toy.load(*key)[0], key[0], seqs) for key in SHIPPED}


@pytest.mark.parametrize("task, variant", SHIPPED)
def test_shipped_toy_models_meet_the_bar(task, variant, shipped_scores):
    s = shipped_scores[(task, variant)]
    weights, config = toy.model_paths(task, variant)
    assert weights.stat().st_size < 200_000 and config.stat().st_size < 10_000
    if variant == "none":         # no attention: right on short sequences, wrong on long ones
        short = [s["exact_match_by_length"][L] for L in range(1, SHORT + 1)]     # 40 sequences each
        assert sum(short) / len(short) >= 0.95
        assert s["exact_match_long"] < 0.5
        assert s["attention_on_alignment"] is None
    else:
        assert s["exact_match"] >= 0.95
        assert s["attention_on_alignment"] >= 0.90
    assert ckpt.read_config(config)["test"]["exact_match"] == s["exact_match"]   # the JSON tells the truth


def test_shipped_dot_is_a_plain_dot_product_unlike_general():
    """As in the real models, the decoder state is as wide as h_i, so ``dot`` scores s_tᵀ h_i
    with no projection; with one it would be ``general`` under another name."""
    for task in toy.SHIPPED_TASKS:
        dot, general = toy.load(task, "dot")[0], toy.load(task, "general")[0]
        assert dot.decoder.attention.proj is None
        assert dot.num_parameters() < general.num_parameters()


def test_shipped_manifest_lists_every_toy_file_and_a_modified_one_is_refused(tmp_path):
    manifest = toy.read_manifest()
    assert set(manifest) == {p.name for t, v in SHIPPED for p in toy.model_paths(t, v)}
    copy = tmp_path / "toy"
    shutil.copytree(toy.TOY_ASSETS, copy)
    weights = toy.model_paths("copy", "dot", copy)[0]
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(ckpt.CheckpointError, match="sha256"):
        toy.load("copy", "dot", copy)
    models, problems = toy.load_all(copy)
    assert ("copy", "dot") not in models and len(problems) == 1 and len(models) == len(SHIPPED) - 1


# ---- the tab's handlers ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def tab():
    from demo import toy_tab

    return toy_tab


def test_run_toy_shows_every_variant(tab):
    models, _ = toy.load_all()
    view = tab.run_toy(models, "4 9 0 2 7 1 8 3 6 5 4 9", "reverse")
    assert set(view["panels"]) == set(VARIANTS) and "9 4 5 6" in view["status"]
    for v, panel in view["panels"].items():
        assert f"<b>{v}</b>" in panel
        assert ("data:image/png;base64," in panel) == (v != "none")
    assert "✓ right" in view["panels"]["additive"]


@pytest.mark.parametrize("text, task", [("", "copy"), ("12x", "copy"), ("1" * 99, "copy"), ("12", "add"), ("12", None)])
def test_run_toy_bad_input_is_a_message(tab, text, task):
    import gradio as gr

    with pytest.raises(gr.Error):
        tab.run_toy({}, text, task)


def test_random_digits_fit_the_models(tab):
    rng = random.Random(0)
    seqs = [toy.parse_sequence(tab.random_digits(rng)) for _ in range(200)]
    assert {len(s) for s in seqs} == set(range(toy.MIN_LEN, toy.MAX_LEN + 1))


def test_live_train_handler_streams_views_and_refuses_a_second_run(tab):
    import gradio as gr

    trainer = toy.LiveTrainer(time_cap=30, report_every=0.0)
    views = tab.live_train(trainer, "copy", "dot", 2, owner="a")
    first = next(views)
    assert "<progress" in first["progress"] and "data:image/png;base64," in first["plot"]
    with pytest.raises(gr.Error, match="one runs at a time"):
        next(tab.live_train(trainer, "copy", "dot", 2, owner="b"))
    assert tab.stop_live(trainer, "b").startswith("No training of yours")
    assert tab.stop_live(trainer, "a") == "Stopping…"
    rest = list(views)
    assert "Stopped by you" in rest[-1]["status"] and "--stop-after" in rest[-1]["status"]
    assert not trainer.busy


@pytest.mark.parametrize("task, variant, seed", [("copy", "dot", -1), ("copy", "dot", 1.5), ("x", "dot", 1),
                                                 ("copy", "<b>", 1), ("copy", "dot", "1")])
def test_live_train_bad_choices_are_messages(tab, task, variant, seed):
    import gradio as gr

    with pytest.raises(gr.Error):
        next(tab.live_train(toy.LiveTrainer(), task, variant, seed))


def test_the_toy_tabs_refusals_are_one_line_with_the_old_results_hidden():
    import gradio as gr

    from demo.toy_tab import build_toy_tab

    with gr.Blocks() as demo:
        with gr.Tabs():
            build_toy_tab()
    by_id = {c.elem_id: c for c in demo.blocks.values() if getattr(c, "elem_id", None)}
    run = next(fn for fn in demo.fns.values() if fn.name == "on_run")
    panels = next(c for c in run.outputs if isinstance(c, gr.Row))
    fine = run.fn("4 9 0", "copy")
    assert fine[by_id["toy-message"]]["visible"] is False and fine[panels]["visible"] is True
    bad = run.fn("12x", "copy")                                    # no exception, so no error badges
    assert bad[by_id["toy-message"]]["visible"] is True and "Only the digits" in bad[by_id["toy-message"]]["value"]
    assert bad[panels]["visible"] is False and bad[by_id["toy-status"]] is None
    train = next(fn for fn in demo.fns.values() if fn.name == "on_train")
    (refused,) = list(train.fn("copy", "dot", -1, gr.Request()))
    assert "seed must be a number between 0 and 2,147,483,647 \\(a whole number" in refused[by_id["live-message"]]["value"]
    assert refused[by_id["live-plot"]] is None
