"""Hugging Face Spaces entry point: the Gradio app of demo/ui.py, served with demo/serving.py's settings.
``python app.py --assets DIR`` (or ``SEQ2SEQ_ASSETS=DIR``) serves the models of another folder."""
import gc
import sys

gc.disable()    # start-up makes ~650k long-lived objects (torch, gradio); collecting while importing wastes ~1 s
from demo import serving  # noqa: E402
from demo.model_folder import assets_from  # noqa: E402
from demo.ui import build_demo  # noqa: E402

demo = serving.serve(build_demo(assets_from(sys.argv[1:] if __name__ == "__main__" else [])))
gc.freeze()     # and later collections need not scan them either
gc.enable()

if __name__ == "__main__":
    demo.launch(**serving.launch_kwargs())
