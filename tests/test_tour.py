"""Every tour step's claim, checked on the shipped models, and its permalink read back."""
from urllib.parse import parse_qs

import pytest

from demo import tour
from demo.ui import read_link
from seq2seq.attention import VARIANTS


@pytest.fixture(scope="module")
def translator_kind() -> str:
    return "shipped"


@pytest.mark.parametrize("step", tour.STEPS, ids=lambda s: s.key)
def test_step_claim_holds_on_shipped_models(tr, step):
    step.check(tr)


def test_steps_cover_the_page():
    assert 5 <= len(tour.STEPS) <= 7
    assert len({s.key for s in tour.STEPS}) == len(tour.STEPS)
    for s in tour.STEPS:
        assert set(s.variants) <= set(VARIANTS) and s.tool in tour.TOOLS and s.unit in ("words", "pieces")
        assert 2 <= s.says.count(". ") + s.says.count(".” ") + 1 <= 4, s.says


@pytest.mark.parametrize("step", tour.STEPS, ids=lambda s: s.key)
def test_permalink_reads_back(step):
    query = {k: v[0] for k, v in parse_qs(step.permalink()[1:]).items()}
    link = read_link(query)
    assert link["text"] == step.text and link["variants"] == list(step.variants)
    assert link["method"] == step.method and link["unit"] == step.unit
    assert query["t"] == str(step.t) and query["tool"] == step.tool


@pytest.mark.parametrize("step", [s for s in tour.STEPS if s.tool in tour.QUESTION_TOOLS], ids=lambda s: s.key)
def test_a_question_steps_link_sets_up_what_it_claims(tr, step):
    """The link's tool opens and runs the question tab's section on the step's sentence and step t."""
    import gradio as gr

    from demo.question_tab import build_question_tab

    with gr.Blocks(), gr.Tabs():
        set_up, _ = build_question_tab(tr)["set_up"]
    out = {getattr(c, "elem_id", None): v for c, v in
           set_up(step.tool, step.text, list(step.variants), step.direction, step.t, step.unit == "words").items()}
    if step.tool == "knock-out":                 # what attention pointed at, knocked out: the word goes missing
        assert out["q-knock"]["value"] == [tr.prepare(step.text).pieces.index("▁Buch")]
        assert "I read the yesterday." in str(out["q-knock-table"]["data"]), out["q-knock-table"]
        assert out["q-knock-section"]["open"] is True
    else:                                        # α beside gradient × input, at step t
        assert out["q-attr-section"]["open"] is True and out["q-attr"].count("<img") == 2
        assert out["q-contrast-t"] == step.t
