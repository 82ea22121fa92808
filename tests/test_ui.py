"""demo/ui.py: build_demo's page without a server, its events called directly (the comparison,
words, zip, links, the direction switch), fuzzed, and the API's description."""
from __future__ import annotations

import base64
import io
import re

import gradio as gr
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from conftest import ATTENTION, SENTENCE
from demo import plots, state, ui, views
from seq2seq import analysis
from seq2seq.attention import VARIANTS
from seq2seq.translator import MAX_CHARS


def event(demo, name: str):
    """The function behind one of the page's events, and a reader of its answer by elem_id."""
    fn = next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == name)

    def call(*args):
        out = fn(*args)
        return {getattr(c, "elem_id", None) or type(c).__name__: v for c, v in out.items()}
    return call


# ---- the page's events -------------------------------------------------------------------------

def test_build_demo_without_a_server(demo):
    assert isinstance(demo, gr.Blocks)
    names = [fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"]
    assert names == ["translate"]


def test_compare_event_shows_results_and_refusal_leaves_nothing_stale(demo):
    compare = event(demo, "on_compare")
    ok = compare(SENTENCE, list(VARIANTS), "greedy", 5, 3, 1.0, 0, False)
    assert ok["results-area"]["visible"] is True and ok["message"]["visible"] is False
    assert 'id="summary"' in ok["results"] and ok["State"]["text"] == SENTENCE
    for bad in (("", list(VARIANTS)), (SENTENCE, []), ("x" * (MAX_CHARS + 1), ["dot"])):
        out = compare(*bad, "greedy", 5, 3, 1.0, 0, False)         # an answer, not an exception
        assert out["message"]["visible"] is True and "⚠️" in out["message"]["value"]
        assert out["results-area"]["visible"] is False and out["State"] is None and not out["results"]
        assert out["zip-file"]["visible"] is False


def _map_sizes(html: str) -> list[tuple[int, int, int, int]]:
    """(CSS width, CSS height, PNG width, PNG height) of every map in a results block."""
    out = []
    for uri, w, h in re.findall(r'<img class="(?:heatmap|head|nbest-map)" src="data:image/png;base64,([^"]+)" '
                                r'width="(\d+)" height="(\d+)"', html):
        with Image.open(io.BytesIO(base64.b64decode(uri))) as im:
            out.append((int(w), int(h), *im.size))
    return out


@pytest.mark.parametrize("ratio, drawn", [(1, 1), (3, 3), (1.5, 2), (None, plots.PIXEL_RATIO), ("junk", 2)])
def test_maps_are_drawn_at_the_screens_pixel_ratio(demo, ratio, drawn):
    """The compare event draws every map (variants and multihead heads) at its CSS size times the
    pixel ratio the page sends; a missing or bad one gets the default."""
    out = event(demo, "on_compare")(SENTENCE, list(VARIANTS), "greedy", 5, 3, 1.0, 0, False, "de-en", ratio)
    sizes = _map_sizes(out["results"])
    assert len(sizes) >= len(ATTENTION)
    for w, h, pw, ph in sizes:             # CSS size: the drawn size ÷ the ratio, rounded up
        assert (w - 1) * drawn < pw <= w * drawn and (h - 1) * drawn < ph <= h * drawn, (w, h, pw, ph)


def test_words_toggle_rerenders_everything(demo, result):
    toggle = event(demo, "on_words")
    out = toggle(result, True)
    assert f"attention-{views.slug(SENTENCE)}-dot-words.png" in out["results"] and "source word" in out["results"]
    assert toggle(None, True) == {"results": {"__type__": "update"}, "zip-file": {"__type__": "update"},
                                  "figure-files": {"__type__": "update"}}


def test_zip_event(demo, result):
    out = event(demo, "on_zip")(result, False)
    assert out["zip-file"]["visible"] is True and out["zip-file"]["value"].endswith("-pieces.zip")


# ---- fuzz: the handlers answer or raise the app's own error -------------------------------------

ANYTHING = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**500, max_value=10**500),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                     st.lists(st.sampled_from(list(VARIANTS) + ["x", ""]), max_size=3),
                     st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))


@settings(deadline=None, max_examples=200, derandomize=True)
@given(ANYTHING, ANYTHING, st.one_of(ANYTHING, st.sampled_from(["greedy", "beam", "sample"])), ANYTHING, ANYTHING)
def test_handlers_fuzz(demo, text, variants, method, number, words):
    compare = event(demo, "on_compare")
    out = compare(text, variants, method, number, number, number, number, words)      # never raises
    assert out["results-area"]["visible"] is (out["State"] is not None)
    try:
        state.translate_api(demo.translator, text, variants, method, number, number, number)
    except gr.Error as exc:
        assert exc.message and "Traceback" not in exc.message


def test_api_describes_every_parameter(demo):
    info = demo.get_api_info()["named_endpoints"]["/translate"]
    described = {p["parameter_name"]: p["python_type"]["description"] or "" for p in info["parameters"]}
    assert set(described) == {"text", "variant", "method", "beam", "temperature", "seed", "direction"}
    assert all(len(d) > 15 for d in described.values()), described


def test_link_event_runs_the_comparison_and_refuses_bad_values(demo):
    on_link = event(demo, "on_link")

    class Request:
        def __init__(self, **q):
            self.query_params = q

    ok = on_link(Request(text=SENTENCE, variants="dot,general", method="sample", temperature="0.5", seed="3",
                         unit="pieces"))
    assert ok["results-area"]["visible"] is True and ok["State"]["settings"] == {
        "method": "sample", "temperature": 0.5, "seed": 3}
    assert ok["source-text"] == SENTENCE and ok["variants"] == ["dot", "general"] and ok["words"] is False
    assert ok["temperature"] == 0.5
    for bad in ({"text": SENTENCE, "beam": "abc", "method": "beam"}, {"text": SENTENCE, "variants": "bogus"},
                {"text": "x" * 100_000}, {"text": SENTENCE, "unit": "<b>"}, {"text": SENTENCE, "seed": "-5",
                                                                          "method": "sample"},
                {"text": SENTENCE, "temperature": "nan", "method": "sample"}, {"text": ""}):
        out = on_link(Request(**bad))            # the normal refusal: one message, nothing stale
        assert out["message"]["visible"] is True and "⚠️" in out["message"]["value"], bad
        assert out["results-area"]["visible"] is False and out["State"] is None
        assert len(out["source-text"]) <= MAX_CHARS
    assert all(v == {"__type__": "update"} for v in on_link(Request()).values())     # no link: nothing happens


# ---- both directions ------------------------------------------------------------------------

def test_the_direction_switch_appears_only_where_the_models_translate_both_ways(demo, two_way_assets):
    one_way = [c for c in demo.blocks.values() if getattr(c, "elem_id", None) == "direction"]
    assert len(one_way) == 1 and one_way[0].visible is False
    two_way = ui.build_demo(two_way_assets)
    switch = next(c for c in two_way.blocks.values() if getattr(c, "elem_id", None) == "direction")
    assert switch.visible and [value for _, value in switch.choices] == ["de-en", "en-de"]
    assert [label for label, _ in switch.choices] == ["Deutsch → English", "English → Deutsch"]
    compare = event(two_way, "on_compare")
    out = compare("the house is red", ["dot"], "greedy", 5, 1, 1.0, 0, False, "en-de")
    assert out["results-area"]["visible"] and "&lt;2de&gt;" in out["results"]          # the tag, escaped
    # English typed into German → English: the page says so and offers the switch in one click.
    wrong = compare("I have forgotten my key.", ["dot"], "greedy", 5, 1, 1.0, 0, False, "de-en")
    assert wrong["switch-direction"]["visible"] and "English → Deutsch" in wrong["switch-direction"]["value"]
    assert "looks like English" in wrong["results"]
    right = compare("Ich habe meinen Schlüssel vergessen.", ["dot"], "greedy", 5, 1, 1.0, 0, False, "de-en")
    assert right["switch-direction"]["visible"] is False
    retitled = event(two_way, "on_direction")("en-de")
    assert retitled["source-text"]["label"] == "English sentence"
    assert event(two_way, "on_direction")("fr-en") == {"source-text": gr.update()}


def test_a_links_tool_sets_the_question_tab_up(demo, tr):
    """tool=knock-out or attribution: the question tab scores the link's sentence on its first variant's
    own translation and opens and runs that section at step t; any other tool leaves the tab alone."""
    from demo import question as q

    fn = next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "on_tool")

    class Request:
        def __init__(self, **query):
            self.query_params = query

    def on_tool(**query):
        return {getattr(c, "elem_id", None): v for c, v in fn(Request(**query)).items() if getattr(c, "elem_id", None)}

    out = on_tool(text=SENTENCE, variants="additive,dot", t="2", unit="words", tool="knock-out")
    target = tr.translate(SENTENCE, "additive").texts[0]
    assert out["q-source"] == SENTENCE and out["q-target"] == target
    forced = q.analyse(tr, SENTENCE, target, ["additive", "dot"])
    row = analysis.target_groups(forced["target_pieces"])[1][0]            # word 2's first piece
    most = int(np.asarray(forced["forced"]["additive"]["attention"])[row].argmax())
    assert out["q-knock"]["value"] == [most] and out["q-force-t"] == row + 1
    assert out["q-knock-table"]["data"] == q.knock_out_view(tr, forced, [most])[1]
    assert out["q-knock-section"]["open"] is True and out["tool-open"]["visible"] is True
    assert "knock-out" in out["tool-open"]["value"] and "word = 2" in out["tool-open"]["value"]

    out = on_tool(text=SENTENCE, variants="general", t="3", unit="pieces", tool="attribution")
    assert out["q-attr-section"]["open"] is True and out["q-contrast-t"] == 3
    assert out["q-attr"].count("<img") == 2 and out["tool-open"]["visible"] is True    # α beside attribution

    for query in ({"text": SENTENCE, "tool": "maps"}, {"text": SENTENCE, "tool": "lines"},
                  {"text": SENTENCE, "tool": "<b>"}, {"tool": "knock-out"}, {"text": "", "tool": "knock-out"},
                  {"text": SENTENCE, "variants": "bogus", "tool": "attribution"}):
        out = on_tool(**query)                  # nothing set up; a refused one is the Translate tab's to say
        assert out["tool-open"]["visible"] is False and out["q-source"] == {"__type__": "update"}, query
