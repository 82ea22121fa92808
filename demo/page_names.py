"""The class and data-* names that the results block's markup (demo/results.html and
demo/views.py), demo/page.js and demo/page.css share, declared in one place.

Each of the three files spells them as literals (a stylesheet and a script can do no other);
tests/test_page_names.py checks that every name page.js or page.css uses is declared here, and
that every name declared here is given by the markup or page.js and used by page.js or
page.css. A name renamed in one file and not the others fails that test.
"""
from __future__ import annotations

# In the markup, styled or wired by page.js.
BLOCK = {"results", "summary", "num", "v", "tr", "reference", "status", "note", "warn", "hint", "noatt", "diag"}
STEP_BAR = {"stepslot", "stepbar", "prev", "play", "next", "t", "tlabel", "copy-link", "copied"}
MAPS = {"multiples", "cell", "scroll", "frame", "heatmap", "mark", "download", "heads", "headmaps"}
TOKENS = {"tokens", "out", "src", "tok", "ws", "wc"}
STEP_VIEW = {"stepview", "chart", "legend", "choices"}
LINE_VIEW = {"lines", "all-steps", "crossline"}
DATA = {"data-steps", "data-variant", "data-t", "data-i", "data-caption",
        # written by page.js for readers of the page (the browser tests): where each mark stands
        "data-step", "data-row", "data-cell"}
# Made by page.js: the elements it draws and the states it marks.
DRAWN = {"col", "bars", "lab", "choice", "chosen", "cand", "attention-lightbox", "cross", "edges", "ltok"}
STATES = {"on", "clicked", "floating", "hi", "lit"}

NAMES = frozenset(BLOCK | STEP_BAR | MAPS | TOKENS | STEP_VIEW | LINE_VIEW | DATA | DRAWN | STATES)
