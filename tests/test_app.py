"""app.py, run as Spaces runs it: ``python app.py`` serves the page with the shipped models."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def app_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "GRADIO_TEMP_DIR": str(tmp_path / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False",
            "GRADIO_EXAMPLES_CACHE": str(tmp_path / "examples"), **extra}


def test_python_app_py_serves_the_page(start_app_py):
    with start_app_py() as (_, config):
        assert config["title"].startswith("Attention in seq2seq")
        assert "translate" in {d.get("api_name") for d in config["dependencies"]}


def test_importing_app_turns_garbage_collection_back_on_and_leaves_matplotlib_for_later(tmp_path):
    code = ("import gc, sys, app; print(gc.isenabled(), gc.get_freeze_count() > 0, 'matplotlib' in sys.modules)\n"
            "from demo import state, views\n"
            "result = state.translate(app.demo.translator, 'Guten Morgen.', ['dot'])\n"
            "print('<img class=\"heatmap\"' in views.results_html(result))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=app_env(tmp_path), capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-4:] == ["True", "True", "False", "True"]   # the first request draws all the same
