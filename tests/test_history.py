"""Training history: the recorder inside a tiny training run, the schema check, the
command-line flag, and the shipped history files."""
from __future__ import annotations

import copy
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT, SHIPPED_TOKENIZER, tiny_config
from seq2seq import checkpoint as ckpt
from seq2seq import history
from seq2seq.__main__ import main
from seq2seq.attention import VARIANTS
from seq2seq.tokenizer import Tokenizer
from seq2seq.train import TrainConfig, train

PAIRS = [("das Haus", "the house"), ("der Baum", "the tree"), ("die Katze", "the cat"), ("ein Hund", "a dog"),
         ("das Auto ist rot", "the car is red"), ("guten Morgen", "good morning")] * 3
DEV = [("das Haus", "the house"), ("gute Nacht", "good night")]
PROBE = [("Das Haus ist rot.", "The house is red."), ("Guten Morgen", "Good morning")]
HISTORY_DIR = ROOT / "assets" / "history"


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    assets = tmp_path / "assets"
    assets.mkdir()
    shutil.copy(SHIPPED_TOKENIZER, assets / ckpt.TOKENIZER_FILE)
    return assets, Tokenizer(assets / ckpt.TOKENIZER_FILE)


def _train(setup, tmp_path, variant="dot", recorder=None, steps=5):
    assets, tok = setup
    tcfg = TrainConfig(max_tokens=40, eval_every=100, dev_sample=2, patience=50, seed=3)
    return train(variant, PAIRS, DEV, tok, tmp_path / "runs" / variant, assets, tiny_config(variant, tok.vocab_size),
                 tcfg, max_steps=steps, restart=True, export=False, history=recorder)


def _recorder(setup, path, every=2, variant="dot"):
    _, tok = setup
    return history.HistoryRecorder(path, tok, PROBE, {"ding": DEV}, every=every,
                                   info={"variant": variant, "model": {}, "command": "first",
                                         "budget": {"restart": True}})


@pytest.mark.parametrize("variant", ["dot", "none"])
def test_a_run_records_the_scheduled_steps_and_the_file_passes_the_check(setup, tmp_path, variant):
    path = tmp_path / f"{variant}.json"
    _train(setup, tmp_path, variant, _recorder(setup, path, variant=variant))
    data = history.load(path)
    assert [p["step"] for p in data["points"]] == [0, 1, 2, 4, 5]      # 0, early, every 2, and the last step
    assert data["budget"]["steps"] == 5 and data["budget"]["stopped"] == "max steps"
    assert [p["source"] for p in data["probe"]] == [s for s, _ in PROBE]
    for point in data["points"]:
        assert len(point["outputs"]) == len(PROBE) and 0 <= point["dev_chrf"] <= 100
        for out, p in zip(point["outputs"], data["probe"]):
            if variant == "none":
                assert out["attention"] is None
            else:
                att = torch.tensor(out["attention"])
                assert att.shape == (len(out["target_pieces"]), len(p["source_pieces"]))
                assert torch.allclose(att.sum(1), torch.ones(len(att)), atol=0.01)


def test_a_resumed_run_adds_to_its_history_and_a_restart_begins_a_new_one(setup, tmp_path):
    path = tmp_path / "dot.json"
    _train(setup, tmp_path, "dot", _recorder(setup, path), steps=3)
    assets, tok = setup
    go_on = history.HistoryRecorder(path, tok, PROBE, {"ding": DEV}, every=2,
                                    info={"variant": "dot", "model": {}, "command": "second", "budget": {"restart": False}})
    tcfg = TrainConfig(max_tokens=40, eval_every=100, dev_sample=2, patience=50, seed=3)
    train("dot", PAIRS, DEV, tok, tmp_path / "runs" / "dot", assets, tiny_config("dot", tok.vocab_size), tcfg,
          max_steps=6, export=False, history=go_on)                      # resumes from the saved state
    data = history.load(path)
    assert [p["step"] for p in data["points"]] == [0, 1, 2, 3, 4, 6]
    assert data["commands"] == ["first", "second"] and data["budget"]["steps"] == 6
    fresh = _recorder(setup, path)                                       # --restart: a new history
    assert fresh.data["points"] == []
    with pytest.raises(history.HistoryError, match="another variant"):
        history.HistoryRecorder(path, tok, PROBE, {"ding": DEV},
                                info={"variant": "additive", "model": {}, "budget": {"restart": False}})


def test_recording_does_not_change_training(setup, tmp_path):
    """The recorder only reads the model: the weights after training are the same with and without it."""
    _train(setup, tmp_path, "additive")
    plain = load_file(str(tmp_path / "runs" / "additive" / "state.safetensors"))
    _train(setup, tmp_path, "additive", _recorder(setup, tmp_path / "h.json", every=1, variant="additive"))
    recorded = load_file(str(tmp_path / "runs" / "additive" / "state.safetensors"))
    assert plain.keys() == recorded.keys()
    assert all(torch.equal(plain[k], recorded[k]) for k in plain)


def test_record_steps_schedule():
    assert history.record_steps(25, 100) == [0, 1, 2, 4, 8, 16, 25, 50, 75, 100]
    assert history.record_steps(3, 7) == [0, 1, 2, 3, 6]
    with pytest.raises(ValueError):
        history.HistoryRecorder.__init__(object.__new__(history.HistoryRecorder), "x", None, [], {}, every=0)


def _valid():
    return {"schema": 1, "variant": "dot", "model": {}, "budget": {},
            "probe": [{"source": "Ja.", "reference": "Yes.", "source_pieces": ["▁Ja", "."]}],
            "points": [{"step": s, "train_seconds": 1.0, "dev_chrf": 10.0, "dev_by_corpus": {"ding": 10.0},
                        "outputs": [{"text": "Yes.", "target_pieces": ["▁Yes", "</s>"],
                                     "attention": [[0.9, 0.1], [0.25, 0.75]]}]} for s in (0, 5)]}


@pytest.mark.parametrize("breaks", [
    lambda d: d["points"].reverse(),                                        # steps not increasing
    lambda d: d["points"][1].update(step=0),                                # repeated step
    lambda d: d["points"][0].update(step=True),                             # not an integer
    lambda d: d["points"][0].update(dev_chrf=101),                          # out of range
    lambda d: d["points"][0]["outputs"].append(d["points"][0]["outputs"][0]),  # one output too many
    lambda d: d["points"][0]["outputs"][0]["attention"].pop(),              # a row missing
    lambda d: d["points"][0]["outputs"][0]["attention"][0].append(0.0),    # a row too long
    lambda d: d["points"][0]["outputs"][0]["attention"].__setitem__(0, [0.5, 0.4]),  # not a distribution
    lambda d: d.pop("variant"),
    lambda d: d.update(schema=2),
    lambda d: d.update(points=[]),
])
def test_check_rejects_files_off_the_schema(breaks):
    history.check(_valid())
    bad = copy.deepcopy(_valid())
    breaks(bad)
    with pytest.raises(history.HistoryError):
        history.check(bad)


def test_load_rejects_unreadable_and_oversized_files(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(history.HistoryError):
        history.load(tmp_path / "bad.json")
    with pytest.raises(history.HistoryError):
        history.load(tmp_path / "absent.json")
    big = _valid()
    big["padding"] = "x" * history.MAX_BYTES
    (tmp_path / "big.json").write_text(json.dumps(big))
    with pytest.raises(history.HistoryError, match="larger"):
        history.load(tmp_path / "big.json")


def test_history_flag_needs_a_variant_placeholder_for_all(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "prepare.json").write_text("{}")
    (data / "train.tsv").write_text("das Haus\tthe house\n")
    (data / "dev.tsv").write_text("das Haus\tthe house\n")
    assets = tmp_path / "assets"
    assets.mkdir()
    shutil.copy(SHIPPED_TOKENIZER, assets / ckpt.TOKENIZER_FILE)
    code = main(["train", "--variant", "all", "--data", str(data), "--assets", str(assets),
                 "--history", str(tmp_path / "h.json")])
    assert code == 2 and "{variant}" in capsys.readouterr().err


@pytest.mark.slow
def test_the_probe_is_written_for_the_project():
    """The probe sentences come from no corpus: none is a side of a Ding pair (Tatoeba is not
    read by tests; its check is in docs/training.md). Slow: it parses the whole dictionary."""
    from seq2seq.data import DING_PATH, parse_ding_line

    probe = history.load_probe()
    assert len(probe) >= 5 and all(src and ref for src, ref in probe)
    sides = {s for src, ref in probe for s in (src, ref)}
    with open(DING_PATH, encoding="utf-8") as f:
        assert not any(s in sides for line in f for pair in parse_ding_line(line.rstrip("\n")) for s in pair)


def test_a_long_run_keeps_its_early_steps_even_intervals_and_last_point(setup, tmp_path, monkeypatch):
    """Past MAX_POINTS the interval doubles: the file stays small however long the run."""
    monkeypatch.setattr(history, "MAX_POINTS", 4)
    path = tmp_path / "dot.json"
    _train(setup, tmp_path, "dot", _recorder(setup, path, every=2), steps=13)
    data = history.load(path)
    steps = [p["step"] for p in data["points"]]
    assert steps == [0, 1, 4, 8, 12, 13] and data["every"] == 4


def test_a_two_direction_recorder_probes_both_ways(tmp_path, two_way_tokenizer):
    tok = Tokenizer(two_way_tokenizer)
    rec = history.HistoryRecorder(tmp_path / "h.json", tok, PROBE, {"ding": DEV}, every=2,
                                  info={"variant": "dot", "model": {}, "budget": {"restart": True}},
                                  directions=("de-en", "en-de"))
    probe = rec.data["probe"]
    assert [p["direction"] for p in probe] == ["de-en"] * len(PROBE) + ["en-de"] * len(PROBE)
    assert [(p["source"], p["reference"]) for p in probe[len(PROBE):]] == [(e, d) for d, e in PROBE]
    assert {p["source_pieces"][0] for p in probe} == {"<2en>", "<2de>"}
    assert set(rec.data["dev"]["pairs"]) == {"ding de-en", "ding en-de"}


# ---- the shipped histories ------------------------------------------------------------------

@pytest.mark.parametrize("variant", list(VARIANTS))
def test_shipped_history_is_valid_small_and_from_scratch(variant):
    path = HISTORY_DIR / f"{variant}.json"
    assert path.stat().st_size <= history.MAX_BYTES
    data = history.load(path)
    steps = [p["step"] for p in data["points"]]
    assert data["variant"] == variant and len(steps) >= 20 and steps[0] == 0 and steps[:3] == [0, 1, 2]
    assert data["budget"]["restart"] is True and "--restart" in data["commands"][0]
    # Recorded on the page's examples of the time (demo/examples.tsv) until the both-ways models ship.
    assert [p["source"] for p in data["probe"]] in ([s for s, _ in history.load_probe(path)]
                                                     for path in (history.EXAMPLES, ROOT / "demo" / "examples.tsv"))
    assert all((o["attention"] is None) == (variant == "none") for p in data["points"] for o in p["outputs"])


# ---- the panel's handler --------------------------------------------------------------------

def _histories():
    out = {}
    for v in VARIANTS:
        h = _valid()
        h["variant"] = v
        if v == "none":
            for p in h["points"]:
                p["outputs"][0]["attention"] = None
        out[v] = history.check(h)
    return out


def test_history_view_shows_each_variant_at_its_last_point_up_to_the_step():
    from demo.history_panel import history_view, point_at

    hs = _histories()
    assert point_at(hs["dot"], 0)["step"] == 0 and point_at(hs["dot"], 4)["step"] == 0
    assert point_at(hs["dot"], 5)["step"] == 5
    view = history_view(hs, 0, 3)
    assert set(view["panels"]) == set(VARIANTS) and "Ja." in view["status"]
    for v, panel in view["panels"].items():
        assert f"<b>{v}</b>, step 0" in panel and "data:image/png;base64," in panel   # the chrF curve at least
    assert "No attention" in view["panels"]["none"]
    assert view["panels"]["dot"].count("<img") == 1
    assert history_view(hs, 0, 5)["panels"]["dot"] != view["panels"]["dot"]


def test_history_view_escapes_text_and_refuses_bad_input():
    import gradio as gr

    from demo.history_panel import history_view

    hs = _histories()
    hs["dot"]["points"][0]["outputs"][0]["text"] = "<script>alert(1)</script>"
    assert "<script>" not in history_view(hs, 0, 0)["panels"]["dot"]
    for example, step in ((1, 0), (-1, 0), (0, 6), (0, -1), (0, 1.5), ("0", 0), (None, 0), (0, float("nan")), (True, 0)):
        with pytest.raises(gr.Error):
            history_view(hs, example, step)
    with pytest.raises(gr.Error):
        history_view({}, 0, 0)


def test_load_histories_reports_missing_and_broken_files(tmp_path):
    from demo.history_panel import load_histories

    (tmp_path / "dot.json").write_text(json.dumps(_valid()))
    (tmp_path / "general.json").write_text("{broken")
    found, problems = load_histories(tmp_path)
    assert list(found) == ["dot"] and len(problems) == len(VARIANTS) - 1
    assert any("general" in p and "unreadable" in p for p in problems)


def test_the_panel_offers_each_recorded_direction_and_its_examples():
    from demo.history_panel import caption, directions_of, example_choices

    hs = _histories()
    assert directions_of(hs) == ["de-en"] and example_choices(hs, "de-en") == [("Ja.", 0)]   # before directions
    for h in hs.values():
        h["probe"] = [{**h["probe"][0], "direction": "de-en"},
                      {"source": "Yes.", "reference": "Ja.", "direction": "en-de", "source_pieces": ["▁Yes", "."]}]
        for p in h["points"]:
            p["outputs"].append(p["outputs"][0])
        h["points"][-1]["shipped"] = True
        h["dev"] = {"pairs": {"ding de-en": 200, "ding en-de": 200}}
        history.check(h)
    assert directions_of(hs) == ["de-en", "en-de"] and example_choices(hs, "en-de") == [("Yes.", 1)]
    text = caption(hs)
    assert "real training run" in text and "both directions" in text and "exported weights" in text
    assert "200 ding en-de" in text
