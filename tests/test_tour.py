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
