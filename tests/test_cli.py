"""The command line, run as a user runs it: ``python -m seq2seq ...`` in a subprocess."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from seq2seq.search import LENGTH_PENALTY
from seq2seq import checkpoint as ckpt
from seq2seq.__main__ import main

SUBCOMMANDS = ["prepare", "train", "evaluate", "translate"]


def run_cli(*args, stdin: bytes = b"", timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "seq2seq", *args], input=stdin, capture_output=True,
                          cwd=ROOT, env=env, timeout=timeout)


@pytest.mark.slow
def test_help_exits_zero():
    r = run_cli("--help")
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    assert out.startswith("usage: python -m seq2seq")
    assert all(s in out for s in SUBCOMMANDS)
    assert not r.stderr


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_subcommand_help_exits_zero(sub, capsys):
    # In-process (the same argparse code as ``python -m seq2seq SUB --help``), to spare a torch import each.
    with pytest.raises(SystemExit) as exc:
        main([sub, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m seq2seq {sub}")
    assert "--assets" in out


def test_no_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


# Input lines, as raw bytes: one output line must come back for each.
LINES = [
    b"",                                          # empty
    b"Das Haus ist sch\xc3\xb6n.",                # ordinary German
    b"\x01\x02\x07\x0b\x0c\x1b\x1f\x7f",          # control characters only
    b"\xed\xa0\x80\xed\xbf\xbf Haus",             # UTF-8 encoded lone surrogates (invalid UTF-8)
    b"\xff\xfe kaputt \xc3",                      # more invalid bytes
    b"\xf0\x9f\x98\x80 \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",  # emoji
    b"   \t  ",                                   # whitespace only
    b"Guten\xc2\x85Morgen\xe2\x80\xa8Welt",       # NEL and LINE SEPARATOR inside a line: not line breaks
    b"Windows-Zeile\r",                           # CRLF line ending
    "ein sehr langer Satz ".encode() * 30,        # over the character limit
    b"Ich gehe nach Hause.",
]
BAD = {1: "empty", 3: "empty", 7: "empty", 10: "limit"}  # 1-based line number: word in the message


@pytest.mark.slow
def test_translate_stdin_one_output_line_per_input_line(tiny_assets):
    stdin = b"\n".join(LINES) + b"\n"
    r = run_cli("translate", "--assets", str(tiny_assets), "--variant", "dot", stdin=stdin)
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert "Traceback" not in err
    out = r.stdout.decode("utf-8")
    assert out.endswith("\n")
    lines = out.split("\n")[:-1]
    assert len(lines) == len(LINES)
    messages = [m for m in err.splitlines() if m.startswith("line ")]
    assert len(messages) == len(BAD)
    for n, word in BAD.items():
        msg = next(m for m in messages if m.startswith(f"line {n}:"))
        assert word in msg.lower()
        assert lines[n - 1] == ""
    # lines that were fine got no message
    assert not any(m.startswith(f"line {n}:") for n in range(1, len(LINES) + 1) if n not in BAD for m in messages)


@pytest.mark.slow
def test_translate_stdin_without_final_newline_and_beam(tiny_assets):
    r = run_cli("translate", "--assets", str(tiny_assets), "--variant", "multihead", "--beam", "2",
                stdin=b"Hallo Welt\nGuten Tag")
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().count("\n") == 2


def test_translate_alpha_reaches_beam_search(tiny_assets, capsys, monkeypatch):
    import seq2seq.evaluate as evaluate

    seen = []
    real = evaluate.beam_search_batch

    def spy(*args, **kw):
        seen.append(kw["alpha"])
        return real(*args, **kw)

    monkeypatch.setattr(evaluate, "beam_search_batch", spy)
    for alpha in (0.0, 3.0):
        args = ["translate", "--assets", str(tiny_assets), "--variant", "dot", "--beam", "3", "--alpha", str(alpha)]
        assert main(args + ["Das Haus ist alt", "Guten Morgen"]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 2
    assert set(seen) == {0.0, 3.0}
    main(["translate", "--assets", str(tiny_assets), "--variant", "dot", "--beam", "3", "Das Haus"])
    assert seen[-1] == LENGTH_PENALTY


@pytest.mark.slow
def test_translate_arguments(tiny_assets):
    r = run_cli("translate", "--assets", str(tiny_assets), "--variant", "none", "Das Haus", "", "Der Baum")
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().count("\n") == 3
    assert "line 2:" in r.stderr.decode()


def test_translate_empty_stdin(tiny_assets, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8"))
    assert main(["translate", "--assets", str(tiny_assets)]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.slow
def test_missing_assets_folder(tmp_path):
    missing = tmp_path / "no-such-assets"
    r = run_cli("translate", "--assets", str(missing), stdin=b"Das Haus\n")
    err = r.stderr.decode()
    assert r.returncode == 2
    assert err.startswith("error:") and str(missing) in err
    assert "Traceback" not in err and r.stdout == b""


@pytest.mark.slow
def test_missing_variant_in_assets(tiny_assets, tmp_path):
    assets = shutil.copytree(tiny_assets, tmp_path / "assets")
    ckpt.model_paths("general", assets)[0].unlink()
    r = run_cli("translate", "--assets", str(assets), "--variant", "general", stdin=b"Das Haus\n")
    err = r.stderr.decode()
    assert r.returncode == 2 and err.startswith("error:") and "general.safetensors" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_tampered_assets_are_refused(tiny_assets, tmp_path):
    assets = shutil.copytree(tiny_assets, tmp_path / "assets")
    weights = ckpt.model_paths("additive", assets)[0]
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF
    weights.write_bytes(bytes(raw))
    r = run_cli("translate", "--assets", str(assets), stdin=b"Das Haus\n")
    err = r.stderr.decode()
    assert r.returncode == 2 and "sha256" in err and "Traceback" not in err


def test_evaluate_without_models(tmp_path, capsys):
    assert main(["evaluate", "--assets", str(tmp_path)]) == 2
    assert "no shipped model" in capsys.readouterr().err


def test_prepare_without_corpus(tmp_path, capsys):
    code = main(["prepare", "--corpus", str(tmp_path / "nope"), "--out", str(tmp_path / "d"),
                 "--assets", str(tmp_path / "a")])
    assert code == 2 and "corpus not found" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def _ding_corpus(path):
    words = [("Haus", "house"), ("Baum", "tree"), ("Katze", "cat"), ("Hund", "dog"), ("Stadt", "town")]
    lines = ["# header"]
    for i in range(400):
        (de, en), (de2, en2) = words[i % 5], words[(i // 5) % 5]
        lines.append(f"{de} | das {de} und der {de2} {i} :: {en} | the {en} and the {en2} {i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_prepare_keeps_the_tokenizer_that_shipped_models_need(tmp_path, capsys):
    corpus, data_dir, assets = tmp_path / "de-en", tmp_path / "data", tmp_path / "assets"
    _ding_corpus(corpus)
    base = ["prepare", "--corpus", str(corpus), "--out", str(data_dir), "--assets", str(assets)]
    assert main(base + ["--vocab", "60"]) == 0
    info = json.loads((data_dir / "prepare.json").read_text())
    tokenizer = assets / ckpt.TOKENIZER_FILE
    sha = ckpt.sha256_file(tokenizer)
    assert info["tokenizer"] == {"sha256": sha, "trained": True} and info["vocab_size"] == 60
    assert info["cleaning"]["single_word_keep"] == 0.0 and info["command"].startswith("python -m seq2seq prepare")
    assert info["splits"]["train"]["pairs"] > 0
    ckpt.verify(tokenizer, assets)

    # With a model trained on it in assets/, a prepare that would train a different tokenizer refuses.
    weights = ckpt.model_paths("dot", assets)[0]
    weights.parent.mkdir(parents=True, exist_ok=True)
    weights.write_bytes(b"weights trained with this tokenizer")
    assert main(base + ["--vocab", "70"]) == 2
    err = capsys.readouterr().err
    assert "--keep-tokenizer" in err and "dot" in err and "Traceback" not in err
    assert ckpt.sha256_file(tokenizer) == sha

    # --keep-tokenizer re-cleans the data and leaves the tokenizer as it is.
    assert main(base + ["--keep-tokenizer", "--single-word-keep", "1.0"]) == 0
    info2 = json.loads((data_dir / "prepare.json").read_text())
    assert info2["tokenizer"] == {"sha256": sha, "trained": False} and info2["vocab_size"] == 60
    assert info2["cleaning"]["single_word_keep"] == 1.0
    def cleaned(i):  # train pairs before the held-out German sentences are dropped
        return i["splits"]["train"]["pairs"] + i["dropped_held_out_german"]

    assert cleaned(info2) > cleaned(info)   # the one-word pairs are back
    assert ckpt.sha256_file(tokenizer) == sha

    # The same data and settings give the same tokenizer, so a rerun is allowed.
    assert main(base + ["--vocab", "60"]) == 0 and ckpt.sha256_file(tokenizer) == sha
    assert main(base + ["--vocab", "5000"]) == 2            # more pieces than the data has: a message
    assert "could not be trained" in capsys.readouterr().err
    assert main(["prepare", "--corpus", str(corpus), "--out", str(tmp_path / "d2"),
                 "--assets", str(tmp_path / "empty"), "--keep-tokenizer"]) == 2
    assert "no tokenizer" in capsys.readouterr().err


def test_evaluate_short_sentences_only(tiny_assets, tmp_path, capsys):
    """A split without long sentences leaves some subsets empty: reported as n/a, not a crash."""
    (tmp_path / "dev.tsv").write_text("Das Haus\tthe house\nGuten Morgen\tgood morning\n", encoding="utf-8")
    out_json = tmp_path / "r.json"
    code = main(["evaluate", "--assets", str(tiny_assets), "--data", str(tmp_path), "--split", "dev",
                 "--variant", "dot", "--beam", "1", "--json", str(out_json)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "dot" in captured.err and "n/a" in captured.err
    results = json.loads(out_json.read_text())
    assert results["dot"]["all"]["n"] == 2 and results["dot"]["min10words"]["n"] == 0
    assert results["dot"]["min10words"]["chrf"] is None
    assert json.loads(captured.out)["dot"]["all"]["n"] == 2


def test_cards_keep_one_result_per_beam_for_the_same_weights(tiny_assets, tmp_path, capsys):
    assets = tmp_path / "assets"
    shutil.copytree(tiny_assets, assets)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "test.tsv").write_text("Das Haus ist alt\tthe house is old\nGuten Morgen\tgood morning\n",
                                       encoding="utf-8")
    (data_dir / "prepare.json").write_text(json.dumps({"splits": {}, "cleaning": {}, "vocab_size": 100}))
    base = ["evaluate", "--assets", str(assets), "--data", str(data_dir), "--variant", "dot", "--write-cards"]
    assert main(base + ["--beam", "1"]) == 0
    assert main(base + ["--beam", "3"]) == 0
    card = json.loads(ckpt.card_path("dot", assets).read_text())
    assert card["test"]["beam"] == 3
    assert sorted(card["test_by_beam"]) == ["1", "3"]
    assert card["test_by_beam"]["1"]["beam"] == 1 and card["test_by_beam"]["1"]["all"]["n"] == 2
    assert card["test"]["length_penalty"] == LENGTH_PENALTY and card["test_by_beam"]["1"]["length_penalty"] is None
    assert card["reproduce"]["evaluate"].endswith(f"--beam 3 --alpha {LENGTH_PENALTY} --write-cards")
    assert card["reproduce"]["commands"] == json.loads(ckpt.model_paths("dot", assets)[1].read_text()).get(
        "commands", [])
    assert main(base + ["--beam", "3", "--alpha", "0"]) == 0          # alpha 0 is a value, not "unset"
    assert json.loads(ckpt.card_path("dot", assets).read_text())["reproduce"]["evaluate"].endswith(
        "--beam 3 --alpha 0.0 --write-cards")
    ckpt.verify(ckpt.card_path("dot", assets), assets)     # the manifest covers the rewritten card
    # A corrupt weights file: a clear error naming it, no traceback.
    weights, config = ckpt.model_paths("dot", assets)
    good = weights.read_bytes()
    weights.write_bytes(good[:-10] + b"corrupted!")
    assert main(base + ["--beam", "1"]) == 2
    err = capsys.readouterr().err
    assert "dot.safetensors" in err and "Traceback" not in err
    # New weights: results measured on the old ones are dropped, not mixed in.
    weights.write_bytes(good)
    model, info = ckpt.load_model(weights, config, assets)
    with torch.no_grad():
        model.decoder.out_bias.add_(0.01)
    ckpt.save_model(model, weights, config, {k: v for k, v in info.items() if k != "model"})
    ckpt.write_manifest(assets)
    assert main(base + ["--beam", "3"]) == 0
    card = json.loads(ckpt.card_path("dot", assets).read_text())
    assert sorted(card["test_by_beam"]) == ["3"]


def test_recorded_command_names_repository_paths_relative_to_it(tmp_path):
    # Cards and histories record the command; this machine's folders must not travel with them.
    from seq2seq.__main__ import recorded_command

    data = str(ROOT / "data")
    outside = str(tmp_path / "deu.txt")
    got = recorded_command(["train", "--variant", "dot", "--data", data, f"--runs={ROOT / 'runs'}",
                            "--tatoeba", outside, "--minutes", "5", "two words"])
    assert got == (f"python -m seq2seq train --variant dot --data data --runs=runs "
                   f"--tatoeba {outside} --minutes 5 'two words'")


def test_both_directions_from_the_command_line(two_way_assets, tmp_path, capsys):
    """translate and evaluate take --direction; a card keeps each direction's figures."""
    assets = tmp_path / "assets"
    shutil.copytree(two_way_assets, assets)
    assert main(["translate", "--assets", str(assets), "--variant", "dot", "--direction", "en-de",
                 "the house is red"]) == 0
    assert capsys.readouterr().out.count("\n") == 1
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "test.tsv").write_text("das Haus ist rot eins\tthe house is red eins\n", encoding="utf-8")
    (data_dir / "prepare.json").write_text(json.dumps({"splits": {}, "cleaning": {}, "vocab_size": 60}))
    base = ["evaluate", "--assets", str(assets), "--data", str(data_dir), "--variant", "dot", "--write-cards",
            "--beam", "1", "--json", str(tmp_path / "r.json")]
    assert main(base) == 0
    assert main(base + ["--direction", "en-de", "--pieces"]) == 0
    err = capsys.readouterr().err
    assert "pieces per word, ding source: " in err and "Traceback" not in err
    card = json.loads(ckpt.card_path("dot", assets).read_text())
    assert card["directions"] == ["de-en", "en-de"] and "German → English and English → German" in card["task"]
    assert card["test"]["direction"] == "de-en" and card["other_directions"]["en-de"]["test"]["direction"] == "en-de"
    assert card["other_directions"]["en-de"]["test"]["all"]["n"] == 1
    # A one-direction model refuses the other direction with one clear line.
    one_way = ["translate", "--assets", str(ROOT / "assets"), "--variant", "dot", "--direction", "en-de", "x"]
    assert main(one_way) == 2 and "German → English only" in capsys.readouterr().err


def test_train_refuses_bad_directions_and_a_missing_tokenizer(tmp_path, capsys):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "prepare.json").write_text("{}")
    assets = tmp_path / "assets"
    base = ["train", "--variant", "dot", "--data", str(data_dir), "--assets", str(assets)]
    assert main(base) == 2 and "tokenizer model not found" in capsys.readouterr().err
    assets.mkdir()
    shutil.copy(ROOT / "assets" / ckpt.TOKENIZER_FILE, assets / ckpt.TOKENIZER_FILE)
    for bad, says in (("de-en,fr-en", "both ways"), ("de-en,en-de", "no <2en> token")):
        assert main(base + ["--directions", bad]) == 2
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err


def test_cards_keep_the_training_stretches_while_training_goes_on_from_the_same_warm_start(tiny_assets, tmp_path):
    assets = tmp_path / "assets"
    shutil.copytree(tiny_assets, assets)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "test.tsv").write_text("Guten Morgen\tgood morning\n", encoding="utf-8")
    (data_dir / "prepare.json").write_text(json.dumps({"splits": {}, "cleaning": {}, "vocab_size": 100}))
    weights, config = ckpt.model_paths("dot", assets)
    info = json.loads(config.read_text())

    def evaluate_with(warm_start, stretches):
        config.write_text(json.dumps({**info, "training": {"warm_start": warm_start}}))
        card = ckpt.card_path("dot", assets)
        card.parent.mkdir(exist_ok=True)
        card.write_text(json.dumps({"training": {"warm_start": {"sha256": "a"}, "stretches": stretches}}))
        ckpt.write_manifest(assets)
        assert main(["evaluate", "--assets", str(assets), "--data", str(data_dir), "--variant", "dot",
                     "--beam", "1", "--write-cards"]) == 0
        return json.loads(card.read_text())["training"].get("stretches")

    record = [{"stretch": 1, "minutes": 5, "command": "python -m seq2seq train --variant dot --minutes 5"}]
    assert evaluate_with({"sha256": "a"}, record) == record        # the same warm start: kept
    assert evaluate_with({"sha256": "b"}, record) is None          # another start: not this model's record
    assert evaluate_with(None, record) is None                     # from scratch
