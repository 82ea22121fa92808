"""Hugging Face Spaces entry point: the Gradio app of demo/ui.py, served with demo/serving.py's settings."""
import gc

gc.disable()    # start-up makes ~650k long-lived objects (torch, gradio); collecting while importing wastes ~1 s
from demo import serving  # noqa: E402
from demo.ui import build_demo  # noqa: E402

demo = serving.serve(build_demo())
gc.freeze()     # and later collections need not scan them either
gc.enable()

if __name__ == "__main__":
    demo.launch(**serving.launch_kwargs())
