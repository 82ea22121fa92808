"""Browser test: the tour's links, and a step's t opening the maps at that step (shipped models)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from demo import tour


@pytest.fixture(scope="module")
def translator_kind() -> str:
    return "shipped"


@pytest.fixture(scope="module")
def shipped_url(serve_page):
    """The page on the shipped models (the tour's claims hold on them), served as app.py serves it."""
    from demo.ui import build_demo

    with serve_page(build_demo()) as url:
        yield url


def test_tour_links_and_step_t(shipped_url, page, tr):
    page.goto(shipped_url)
    steps = tour.served_steps(tr.directions)
    page.get_by_text(tour.tour_title(steps)).click()
    links = page.locator("#tour-steps a")
    expect(links).to_have_count(len(steps))
    assert [links.nth(i).get_attribute("href") for i in range(len(steps))] == [s.permalink() for s in steps]
    step = steps[0]
    page.goto(shipped_url + "/" + step.permalink())
    expect(page.locator(".stepbar .tlabel")).to_contain_text(f"word = {step.t} /", timeout=60_000)
    page.goto(shipped_url + "/?text=Ja.&t=zz")                  # a bad t: the first step, as clamped
    expect(page.locator(".stepbar .tlabel")).to_contain_text("word = 1 /", timeout=60_000)
