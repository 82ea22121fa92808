"""Hugging Face Spaces entry point: the Gradio app of demo/ui.py."""
from demo.ui import build_demo

demo = build_demo()

if __name__ == "__main__":
    demo.launch(enable_monitoring=False)
