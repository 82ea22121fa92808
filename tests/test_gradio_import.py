"""demo.gradio_import: importing the demo package first makes gradio skip writing type stubs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo import gradio_import

ROOT = Path(__file__).resolve().parent.parent

# A module that defines a Gradio component, as demo/ui.py does: gradio writes a .pyi
# stub beside such a module when the class is created, unless the stub writer is off.
COMPONENT = "import gradio as gr\n\nclass NoteBox(gr.Textbox):\n    pass\n"


def run_component(tmp_path: Path, first: str) -> subprocess.CompletedProcess:
    (tmp_path / "component.py").write_text(COMPONENT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    code = (f"{first}\nimport component\nimport gradio.component_meta as m\n"
            "print(m.create_or_modify_pyi.__module__, component.NoteBox().label)")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)


@pytest.mark.slow
def test_stubs_are_written_without_the_demo_package(tmp_path):
    # gradio's own behaviour, which the next test switches off
    out = run_component(tmp_path, "")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "gradio.component_meta"
    assert (tmp_path / "component.pyi").is_file()


@pytest.mark.slow
def test_importing_demo_first_skips_the_stubs_and_components_still_work(tmp_path):
    out = run_component(tmp_path, "import demo")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["demo.gradio_import", "None"]
    assert not (tmp_path / "component.pyi").exists()


def test_does_nothing_once_gradio_is_imported():
    import gradio

    assert gradio.__name__ in sys.modules
    before = list(sys.meta_path)
    gradio_import.skip_stub_generation()
    assert sys.meta_path == before
