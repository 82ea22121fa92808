"""The web demo: ``demo.ui.build_demo()`` lays out the Gradio page, ``demo.handlers`` does what
it asks, ``demo.plots`` draws the figures."""
from .gradio_import import skip_stub_generation

skip_stub_generation()      # before demo.ui imports gradio: halves the app's start-up import time
