"""Shared fixtures. ``tiny_assets`` builds a complete assets folder with the
shipped tokenizer and small randomly initialised models of every variant, so
tests of loading and of the UI plumbing never depend on trained weights."""
from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
import torch

from seq2seq import checkpoint as ckpt
from seq2seq.attention import VARIANTS
from seq2seq.model import ModelConfig, Seq2Seq
from seq2seq.tokenizer import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_TOKENIZER = ROOT / "assets" / ckpt.TOKENIZER_FILE

# Files whose every test drives a browser, serves app.py or forks training ranks:
# marked slow, so `pytest -m "not slow"` leaves them out (README, "Two commands"; docs/code.md, "Tests"); .ci/run runs all.
SLOW_FILES = {"test_app.py", "test_browser.py", "test_browser_question.py", "test_browser_toy.py",
              "test_browser_tour.py", "test_browser_lines.py", "test_distributed.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


# The test models are tiny: extra intra-op threads only add synchronisation, which
# on a busy machine makes every small op many times slower. One thread is also
# what keeps floating-point results reproducible from run to run.
torch.set_num_threads(1)


def tiny_config(variant: str, vocab_size: int) -> ModelConfig:
    return ModelConfig(variant=variant, vocab_size=vocab_size, emb_size=16, enc_hidden=8, dec_hidden=16, dropout=0.0)


@pytest.fixture(scope="session")
def tiny_assets(tmp_path_factory) -> Path:
    assets = tmp_path_factory.mktemp("assets")
    shutil.copy(SHIPPED_TOKENIZER, assets / ckpt.TOKENIZER_FILE)
    vocab = Tokenizer(assets / ckpt.TOKENIZER_FILE).vocab_size
    for i, variant in enumerate(VARIANTS):
        torch.manual_seed(i)
        model = Seq2Seq(tiny_config(variant, vocab))
        weights, config = ckpt.model_paths(variant, assets)
        ckpt.save_model(model, weights, config, {"variant": variant, "parameters": model.num_parameters()})
    ckpt.write_manifest(assets)
    return assets


SYNTHETIC_PAIRS = [(f"{de} {n}", f"{en} {n}") for n in ("eins", "zwei", "drei", "vier")
                   for de, en in (("das Haus ist rot", "the house is red"), ("der Hund schläft", "the dog sleeps"),
                                  ("ich habe den Schlüssel vergessen", "I have forgotten the key"),
                                  ("wir gehen morgen nach Hause", "we are going home tomorrow"))]


@pytest.fixture(scope="session")
def two_way_tokenizer(tmp_path_factory) -> Path:
    """A small tokenizer with both direction tags, trained on synthetic sentences."""
    from seq2seq.tokenizer import train_tokenizer

    path = tmp_path_factory.mktemp("two_way") / ckpt.TOKENIZER_FILE
    train_tokenizer([s for pair in SYNTHETIC_PAIRS for s in pair] * 5, path, vocab_size=60)
    return path


@pytest.fixture(scope="session")
def two_way_assets(tmp_path_factory, two_way_tokenizer) -> Path:
    """An assets folder of tiny random models of every variant that translate both ways."""
    assets = tmp_path_factory.mktemp("two_way_assets")
    shutil.copy(two_way_tokenizer, assets / ckpt.TOKENIZER_FILE)
    vocab = Tokenizer(assets / ckpt.TOKENIZER_FILE).vocab_size
    for i, variant in enumerate(VARIANTS):
        torch.manual_seed(i)
        cfg = ModelConfig(**{**tiny_config(variant, vocab).to_dict(), "directions": ("de-en", "en-de")})
        model = Seq2Seq(cfg)
        weights, config = ckpt.model_paths(variant, assets)
        ckpt.save_model(model, weights, config, {"variant": variant, "parameters": model.num_parameters()})
    ckpt.write_manifest(assets)
    return assets


@pytest.fixture(scope="session")
def app_url(tiny_assets, tmp_path_factory):
    """The demo served as app.py serves it on a free localhost port (temp and examples-cache dirs in tmp)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio_tmp")))
    mp.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path_factory.mktemp("gradio_examples")))
    mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    from demo.ui import build_demo

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from demo import serving

    demo = serving.serve(build_demo(tiny_assets))          # served exactly as app.py serves it
    try:
        _, url, _ = demo.launch(**serving.launch_kwargs(server_name="127.0.0.1", server_port=port,
                                                        prevent_thread_lock=True, quiet=True))
        yield url
    finally:
        demo.close()
        mp.undo()
