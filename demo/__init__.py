"""The web demo: ``demo.ui.build_demo()`` builds the Gradio app, ``demo.plots`` draws the figures."""
