"""The web demo: ``demo.ui.build_demo()`` lays out the Gradio page; ``demo.state`` translates,
``demo.views`` shows a result, ``demo.plots`` draws, ``demo.export`` writes files and
``demo.about`` fills the About tab."""
from .gradio_private import skip_stub_generation

skip_stub_generation()      # before demo.ui imports gradio: halves the app's start-up import time
