"""The Toy tasks tab and the history panel in a real browser (Debian's chromium via
playwright): run every shipped toy model on a sequence, train one live for a few
seconds and see its heatmap update, stop it; move the training-step slider."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import BROWSER_TIMEOUT_MS as TIMEOUT_MS
from seq2seq import toy
from seq2seq.attention import VARIANTS

SCREENSHOT = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser-toy.png"   # kept after the run


@pytest.fixture(scope="module")
def toy_url(serve_page):
    """The Toy tasks tab and the history panel, as build_demo renders them, served as app.py serves
    them; the live cap is long, so that on a busy machine the test decides when to stop."""
    import gradio as gr

    from demo.history_panel import build_history_panel
    from demo.toy_tab import build_toy_tab

    with gr.Blocks() as demo:
        with gr.Tabs():
            with gr.Tab("Translate and compare"):
                build_history_panel()
            build_toy_tab(trainer=toy.LiveTrainer(time_cap=300))
    with serve_page(demo) as url:
        yield url


def _src(page, selector: str) -> str:
    return page.locator(selector).first.get_attribute("src") or ""


def test_toy_tab_runs_trains_live_and_stops(toy_url, new_page):
    page = new_page(viewport={"width": 1400, "height": 1000})
    page.goto(toy_url, timeout=TIMEOUT_MS)
    page.get_by_role("tab", name="Toy tasks").click()

    # the shipped models on a long sequence: every variant answers, none without a heatmap
    page.locator("#toy-seq textarea").fill("4 9 0 2 7 1 8 3 6 5 4 9 2")
    page.locator("#toy-run").click()
    for v in VARIANTS:
        expect(page.locator(f"#toy-panel-{v}")).to_contain_text(v, timeout=TIMEOUT_MS)
        expect(page.locator(f"#toy-panel-{v} img")).to_have_count(0 if v == "none" else 1)
    expect(page.locator("#toy-status")).to_contain_text("long")

    # train live: the heatmap on the probe is redrawn while it trains
    page.locator("#live-start").click()
    plot = "#live-plot img"
    expect(page.locator(plot)).to_have_count(1, timeout=TIMEOUT_MS)
    seen = {_src(page, plot)}
    deadline = time.monotonic() + 20
    while len(seen) < 3 and time.monotonic() < deadline:
        page.wait_for_timeout(250)
        seen.add(_src(page, plot))
    assert len(seen) >= 3, "the live heatmap did not update"
    expect(page.locator("#live-progress progress")).to_have_count(1)
    expect(page.locator("#live-status")).to_contain_text("step")

    # a second visitor waits, and is told where in the line
    other = new_page(viewport={"width": 1400, "height": 1000})
    other.goto(toy_url, timeout=TIMEOUT_MS)
    other.get_by_role("tab", name="Toy tasks").click()
    other.locator("#live-start").click()
    expect(other.get_by_text(re.compile(r"queue: 1/\d")).first).to_be_visible(timeout=TIMEOUT_MS)
    other.locator("#live-stop").click()                   # not theirs to stop
    expect(other.locator("#live-status")).to_contain_text("No training of yours")

    page.locator("#live-stop").click()
    expect(page.locator("#live-status")).to_contain_text("Stopped by you", timeout=TIMEOUT_MS)
    expect(other.locator("#live-plot img")).to_have_count(1, timeout=TIMEOUT_MS)   # its turn now
    other.locator("#live-stop").click()
    expect(other.locator("#live-status")).to_contain_text("Stopped by you", timeout=TIMEOUT_MS)
    expect(page.locator("#live-status")).to_contain_text("--stop-after")
    page.locator("#live-plot img").scroll_into_view_if_needed()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # the history panel on the Translate tab: the slider changes what is shown
    page.get_by_role("tab", name="Translate and compare").click()
    page.get_by_text("Attention over training").click()
    expect(page.locator("#history-additive img")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(page.locator("#history-additive")).to_contain_text("step 0")
    before = _src(page, "#history-additive img")
    handle = page.locator("#history-step input[type=range]")
    handle.focus()
    for _ in range(8):
        handle.press("ArrowRight")
    expect(page.locator("#history-additive")).to_contain_text("step 8", timeout=TIMEOUT_MS)
    assert _src(page, "#history-additive img") != before
