"""app.py, run as Spaces runs it: ``python app.py`` serves the page with the shipped models."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def app_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "GRADIO_TEMP_DIR": str(tmp_path / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False",
            "GRADIO_EXAMPLES_CACHE": str(tmp_path / "examples"), **extra}


def test_python_app_py_serves_the_page(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = app_env(tmp_path, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port))
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        config, deadline = None, time.monotonic() + 180
        while config is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as r:
                    config = json.load(r)
            except OSError:
                time.sleep(0.5)
        assert config is not None, f"app.py did not serve (exit {proc.poll()})"
        assert config["title"].startswith("Attention in seq2seq")
        assert "translate" in {d.get("api_name") for d in config["dependencies"]}
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "Traceback" not in out, out


def test_importing_app_turns_garbage_collection_back_on_and_leaves_matplotlib_for_later(tmp_path):
    code = ("import gc, sys, app; print(gc.isenabled(), gc.get_freeze_count() > 0, 'matplotlib' in sys.modules)\n"
            "from demo import state, views\n"
            "result = state.translate(app.demo.translator, 'Guten Morgen.', ['dot'])\n"
            "print('<img class=\"heatmap\"' in views.results_html(result))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=app_env(tmp_path), capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-4:] == ["True", "True", "False", "True"]   # the first request draws all the same
