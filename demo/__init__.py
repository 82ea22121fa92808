"""The web demo: ``demo.ui.build_demo()`` lays out the Gradio page, ``demo.handlers`` does what
it asks, ``demo.plots`` draws the figures."""
