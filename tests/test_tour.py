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
    if step not in tour.served_steps(tr.directions):
        pytest.skip(f"the shipped models do not translate {step.direction}, so the page does not show this step")
    step.check(tr)


def test_the_page_shows_the_steps_its_models_can():
    one_way, two_way = tour.served_steps(("de-en",)), tour.served_steps(("de-en", "en-de"))
    assert two_way == tour.STEPS and one_way == tuple(s for s in tour.STEPS if s.direction == "de-en")
    assert [s.key for s in two_way if s not in one_way] == ["reordering-en-de"]
    assert tour.tour_title(one_way).startswith("Tour: six steps") and tour.tour_title(two_way).startswith("Tour: seven")
    assert "reordering-en-de" not in tour.tour_markdown(one_way) and "direction=en-de" in tour.tour_markdown(two_way)


@pytest.mark.parametrize("directions", [("de-en",), ("de-en", "en-de")])
def test_steps_cover_the_page(directions):
    steps = tour.served_steps(directions)
    assert 5 <= len(steps) <= 7
    assert len({s.key for s in steps}) == len(steps)
    for s in steps:
        assert set(s.variants) <= set(VARIANTS) and s.tool in tour.TOOLS and s.unit in ("words", "pieces")
        assert 2 <= s.says.count(". ") + s.says.count(".” ") + 1 <= 4, s.says


@pytest.mark.parametrize("step", tour.STEPS, ids=lambda s: s.key)
def test_permalink_reads_back(step):
    query = {k: v[0] for k, v in parse_qs(step.permalink()[1:]).items()}
    link = read_link(query)
    assert link["text"] == step.text and link["variants"] == list(step.variants)
    assert link["method"] == step.method and link["unit"] == step.unit and link["direction"] == step.direction
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
