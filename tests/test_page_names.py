"""The class and data-* names the results markup, demo/page.js and demo/page.css share are the
ones demo/page_names.py declares: a name renamed in one of them and not in the others fails here,
instead of leaving the page unstyled or a control unwired. The markup is the rendered results
block of real results (beam search with n-best; a note on unknown characters), in pieces and in
words."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from demo import page_names, state, views
from seq2seq.attention import VARIANTS

DEMO = Path(views.__file__).resolve().parent
SENTENCE = "Der See bildet eine natürliche Grenze zwischen den Ländern."
UNKNOWN = "Ich fahre nach 東京."
CLASS = r"\.(-?[a-zA-Z_][\w-]*)"


class Names(HTMLParser):
    def __init__(self):
        super().__init__()
        self.names: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k == "class":
                self.names |= set((v or "").split())
            elif k.startswith("data-"):
                self.names.add(k)


def markup_names(html: str) -> set[str]:
    parser = Names()
    parser.feed(html)
    return parser.names


def css_names(css: str) -> set[str]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    selectors = re.sub(r"\{[^{}]*\}", "{}", re.sub(r"@media[^{]*\{", "", css))    # rule bodies out
    return set(re.findall(CLASS, selectors)) | {"data-" + m for m in re.findall(r"\[data-([\w-]+)", selectors)}


def js_names(js: str) -> tuple[set[str], set[str]]:
    """(names page.js uses, names it gives elements it makes or marks)."""
    js = re.sub(r"(^|\s)//[^\n]*", r"\1", js)                                      # comments out
    literals = re.findall(r'"((?:[^"\\]|\\.)*)"', js)
    made = set(re.findall(r'classList\.(?:add|toggle)\("([\w-]+)"', js))
    for group in re.findall(r'\btext\("\w+", "([\w -]+)"', js) + re.findall(r'\bclass: "([\w -]+)"', js):
        made |= set(group.split())
    data = {"data-" + re.sub(r"[A-Z]", lambda c: "-" + c.group().lower(), m) for m in re.findall(r"\bdataset\.(\w+)", js)}
    data |= {s for s in literals if re.fullmatch(r"data-[\w-]+", s)}
    used = {c for s in literals if "://" not in s for c in re.findall(CLASS, s)} | set(re.findall(r'classList\.\w+\("([\w-]+)"', js))
    return used | made | data, made | {d for d in data if re.search(rf"dataset\.{d[5:]}\s*=|\"{d}\":", js)}


@pytest.fixture(scope="module")
def markup(tiny_assets) -> set[str]:
    tr, _, _ = state.load_translator(tiny_assets)
    result = state.translate(tr, SENTENCE, list(VARIANTS), "beam", 3, 2)
    noted = state.translate(tr, UNKNOWN, list(VARIANTS))           # with a note on the characters
    assert noted["notes"]
    return {n for r in (result, noted) for words in (True, False) for n in markup_names(views.results_html(r, words))}


def test_shared_names_are_declared(markup):
    css = css_names((DEMO / "page.css").read_text(encoding="utf-8"))
    js, made = js_names((DEMO / "page.js").read_text(encoding="utf-8"))
    declared = page_names.NAMES
    assert css - declared == set(), "page.css styles names not declared in demo/page_names.py"
    assert js - declared == set(), "page.js uses names not declared in demo/page_names.py"
    assert declared - (markup | made) == set(), "declared, but neither the markup nor page.js gives them"
    assert declared - (css | js) == set(), "declared, but neither page.js nor page.css uses them"
    shared = (markup & (css | js)) | (made & css)
    assert shared <= declared


def test_the_parsers_find_names():
    # the extraction itself, on a line of each: a test of the test that can fail
    assert css_names(".a.b, .c > .d:focus-visible { color: #fff; } @media (x) { .e { top: 0.5px } }") == \
        {"a", "b", "c", "d", "e"}
    used, made = js_names('el.querySelector(".x .y.z"); el.classList.toggle("on", 1); el.dataset.row = "1";'
                          ' text("div", "col"); // ".not"\n svg("g", {class: "edges"});')
    assert used == {"x", "y", "z", "on", "col", "edges", "data-row"} and made == {"on", "col", "edges", "data-row"}
    assert markup_names('<p class="a b" data-k="1"><i class=\'c\'></i></p>') == {"a", "b", "c", "data-k"}
