"""Shared fixtures. ``tiny_assets`` builds a complete assets folder with the
shipped tokenizer and small randomly initialised models of every variant, so
tests of loading and of the UI plumbing never depend on trained weights.
``tr`` loads such models into a translator, ``served_page``/``app_url`` serve the page on them
(``serve_page`` serves any other page, ``start_app_py`` runs app.py itself), and
``browser``/``page``/``new_page`` drive chromium."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

from seq2seq import checkpoint as ckpt
from seq2seq.attention import VARIANTS
from seq2seq.model import ModelConfig, Seq2Seq
from seq2seq.tokenizer import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_TOKENIZER = ROOT / "assets" / ckpt.TOKENIZER_FILE

# Files whose every test serves app.py or forks training ranks, and every test that drives the
# browser: marked slow, so `pytest -m "not slow"` leaves them out (README; docs/code.md, "Tests").
# .ci/run runs all.
SLOW_FILES = {"test_app.py", "test_distributed.py"}


def uses_browser(item) -> bool:
    return "browser" in getattr(item, "fixturenames", ()) or item.path.name.startswith("test_browser")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SLOW_FILES or uses_browser(item):
            item.add_marker(pytest.mark.slow)
    # The browser's tests last, in their order: while the shared browser runs, playwright keeps
    # the main thread's asyncio loop marked as running, which no later test should meet.
    items.sort(key=uses_browser)


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


# ---- a small translator ---------------------------------------------------------------------

# What the ``tr`` fixture loads, by name: (the fixture of its assets folder, or None for assets/;
# whether in the page's precision, demo.state.HALF, or in Translator's default).
TRANSLATORS = {"page": ("tiny_assets", True), "library": ("tiny_assets", False),
               "two_way": ("two_way_assets", True), "shipped": (None, True)}


@pytest.fixture(scope="module")
def translator_kind() -> str:
    """Which of TRANSLATORS ``tr`` loads; a test module overrides this fixture to change it."""
    return "page"


@pytest.fixture(scope="module")
def tr(request, translator_kind):
    """A translator of every variant, loaded once per module: the tiny random models of
    ``tiny_assets`` as the page loads them, unless the module or a test asks for another kind
    (``@pytest.mark.parametrize("tr", ["two_way"], indirect=True)``)."""
    from demo import state
    from seq2seq.translator import Translator

    assets_fixture, as_page = TRANSLATORS[getattr(request, "param", translator_kind)]
    assets = ckpt.ASSETS if assets_fixture is None else request.getfixturevalue(assets_fixture)
    loaded = Translator(assets, half=state.HALF if as_page else False)
    assert loaded.variants == list(VARIANTS), loaded.variants
    assert (set(loaded.directions) == {"de-en", "en-de"}) == (assets_fixture == "two_way_assets")
    return loaded


SENTENCE = "Der See bildet eine natürliche Grenze zwischen den Ländern."
TARGET = "The lake forms a natural border between the countries."
ATTENTION = [v for v in VARIANTS if v != "none"]


@pytest.fixture(scope="module")
def result(tr):
    """The page's result (demo.state.translate) for SENTENCE on every variant of ``tr``."""
    from demo import state

    return state.translate(tr, SENTENCE, list(VARIANTS))


@pytest.fixture(scope="session")
def demo(tiny_assets):
    """The whole page on the tiny models, built (demo.ui.build_demo) but not served."""
    from demo import ui

    return ui.build_demo(tiny_assets)


def copy_assets(src: Path, dst: Path, keep: list[str]) -> Path:
    """A new assets folder at ``dst`` with src's tokenizer and only the variants in ``keep``."""
    dst.mkdir()
    shutil.copy(src / ckpt.TOKENIZER_FILE, dst / ckpt.TOKENIZER_FILE)
    for v in keep:
        for path in ckpt.model_paths(v, src):
            (dst / "models").mkdir(exist_ok=True)
            shutil.copy(path, dst / "models" / path.name)
    ckpt.write_manifest(dst)
    return dst


# ---- a served page --------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def serve_page(tmp_path_factory):
    """Serves a built page as app.py serves it (demo.serving's queue and launch settings) on a
    free localhost port, with Gradio's temp and examples-cache folders in tmp:
    ``with serve_page(demo) as url:`` (no trailing slash); the page is closed on leaving."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio_tmp")))
    mp.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path_factory.mktemp("gradio_examples")))
    mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    from demo import serving

    @contextmanager
    def serve(demo):
        serving.serve(demo)
        try:
            _, url, _ = demo.launch(**serving.launch_kwargs(server_name="127.0.0.1", server_port=free_port(),
                                                            prevent_thread_lock=True, quiet=True))
            yield url.rstrip("/")
        finally:
            demo.close()

    yield serve
    mp.undo()


class Served(NamedTuple):
    demo: object      # the gr.Blocks, for what the server made of it (queue, session store)
    url: str


@pytest.fixture(scope="session")
def served_page(serve_page, tiny_assets) -> Served:
    """The whole page on the tiny models, served once for the session as app.py serves it."""
    from demo.ui import build_demo

    demo = build_demo(tiny_assets)
    with serve_page(demo) as url:
        yield Served(demo, url)


@pytest.fixture(scope="session")
def app_url(served_page) -> str:
    return served_page.url


@pytest.fixture
def start_app_py(tmp_path):
    """Runs ``python app.py ARGS`` on a free localhost port as Spaces runs it, and waits until it
    serves: ``with start_app_py(*args, cwd=..., env=...) as (url, config):``. On leaving, the
    server is stopped and its output must hold no traceback."""
    @contextmanager
    def start(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout_s: float = 180):
        port = free_port()
        env = {**os.environ, "GRADIO_TEMP_DIR": str(tmp_path / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False",
               "GRADIO_EXAMPLES_CACHE": str(tmp_path / "examples"), **(env or {}),
               "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), *args], cwd=cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        config, deadline = None, time.monotonic() + timeout_s
        try:
            while config is None and time.monotonic() < deadline and proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"{url}/config", timeout=5) as r:
                        config = json.load(r)
                except OSError:
                    time.sleep(0.3)
            if config is not None:
                yield url, config
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
        assert config is not None, f"app.py {' '.join(args)} did not serve (exit {proc.returncode}): {out[-3000:]}"
        assert "Traceback" not in out, out

    return start


# ---- the browser ----------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
BROWSER_TIMEOUT_MS = 120_000      # a busy machine renders slowly; a wait that ends early costs nothing


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, driven by playwright, started once for the session. While playwright
    runs, the main thread's asyncio loop counts as running, so tests that use it run last
    (pytest_collection_modifyitems)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser):
    """Opens a page of its own (its own context: cookies, session) with the long default timeout:
    ``new_page(viewport=...)``; every page is closed after the test."""
    opened = []

    def open_page(**kwargs):
        page = browser.new_page(**{"viewport": {"width": 1440, "height": 900}, **kwargs})
        page.set_default_timeout(BROWSER_TIMEOUT_MS)
        opened.append(page)
        return page

    yield open_page
    for page in opened:
        page.close()


@pytest.fixture
def page(new_page):
    """A 1440×900 page that accepts downloads."""
    return new_page(accept_downloads=True)
