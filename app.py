"""Hugging Face Spaces entry point: the Gradio app of demo/ui.py."""
import gc

gc.disable()    # start-up makes ~650k long-lived objects (torch, gradio); collecting while importing wastes ~1 s
from demo.ui import build_demo  # noqa: E402

demo = build_demo()
gc.freeze()     # and later collections need not scan them either
gc.enable()

if __name__ == "__main__":
    demo.launch(enable_monitoring=False)
