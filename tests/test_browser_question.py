"""The "Question the attention" tab in a real browser (Debian's chromium, driven by playwright):
a refused input is one line with nothing marked as an error; force one translation on every
variant and see every map whole; knock out a source piece and re-decode; draw the beam tree at its
own size; and the toy tab refuses the same way."""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from seq2seq.attention import VARIANTS
from test_browser import TIMEOUT_MS, marked_as_error

SENTENCE = "Der See bildet eine natürliche Grenze zwischen den Ländern."
TARGET = "The lake forms a natural border between the countries."
SCREENSHOT = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser-question.png"

# For each image under ``sel``: shown whole (no ancestor up to ``sel`` cuts it off), with its own
# aspect ratio, and how wide it is drawn against its own pixel width.
IMAGES = """(sel) => [...document.querySelectorAll(sel + ' img')].map((img) => {
    const r = img.getBoundingClientRect();
    let clipped = false;
    for (let el = img.parentElement; el && !el.matches(sel); el = el.parentElement) {
        const p = el.getBoundingClientRect(), style = getComputedStyle(el);
        if (style.overflow !== 'visible' && style.overflowX === 'hidden' &&
            (r.left < p.left - 1 || r.right > p.right + 1 || r.top < p.top - 1 || r.bottom > p.bottom + 1)) clipped = true;
        if (style.overflowY === 'hidden' && (r.top < p.top - 1 || r.bottom > p.bottom + 1)) clipped = true;
    }
    return {clipped, scale: r.width / img.naturalWidth,
            ratio: Math.abs(r.height / r.width - img.naturalHeight / img.naturalWidth)};
})"""


def test_question_tab_in_chromium(app_url, page):
    page.goto(app_url, timeout=TIMEOUT_MS)
    page.get_by_role("tab", name="Question the attention").click()

    # refused: one line, no results, nothing marked as an error
    page.locator("#q-source textarea").fill(SENTENCE)
    page.locator("#q-score").click()
    expect(page.locator("#q-message")).to_contain_text("Type the English translation", timeout=TIMEOUT_MS)
    expect(page.locator("#q-results")).to_be_hidden()
    page.wait_for_timeout(500)
    assert marked_as_error(page) == []

    # one translation for all: forced decoding, every map whole
    page.locator("#q-target textarea").fill(TARGET)
    page.locator("#q-score").click()
    summary = page.locator("#q-summary")
    expect(summary).to_contain_text("Scored", timeout=TIMEOUT_MS)
    expect(page.locator("#q-message")).to_be_hidden()
    for v in VARIANTS:
        expect(summary).to_contain_text(v)
    expect(page.locator("#q-logp")).to_contain_text("additive log p")
    expect(page.locator("#q-heatmaps img")).to_have_count(len(VARIANTS) - 1, timeout=TIMEOUT_MS)
    maps = page.evaluate(IMAGES, "#q-heatmaps")
    assert len(maps) == len(VARIANTS) - 1
    for m in maps:
        assert not m["clipped"] and m["ratio"] < 0.01 and m["scale"] <= 1.001   # whole, never blown up

    page.set_viewport_size({"width": 390, "height": 844})           # a phone: scaled down whole
    page.wait_for_timeout(300)
    for m in page.evaluate(IMAGES, "#q-heatmaps"):
        assert not m["clipped"] and m["ratio"] < 0.01 and m["scale"] <= 1.001
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.set_viewport_size({"width": 1440, "height": 900})

    # knock out the first source piece; then a refused knock-out hides the stale table
    page.get_by_text("Interventions: does the output follow attention?").click()
    knock = page.locator("#q-knock")
    knock.scroll_into_view_if_needed()
    knock.get_by_text("1: ▁Der").click()
    page.locator("#q-knock-run").click()
    table = page.locator("#q-knock-table")
    expect(table).to_contain_text("Σ Δ log p", timeout=TIMEOUT_MS)
    expect(table).to_contain_text("no attention to intervene on")   # the none variant's row
    expect(table).to_contain_text("multihead")
    knock.get_by_text("1: ▁Der").click()                             # none chosen now
    page.locator("#q-knock-run").click()
    expect(page.locator("#q-knock-message")).to_contain_text("at least one source piece", timeout=TIMEOUT_MS)
    expect(table).to_be_hidden()
    assert marked_as_error(page) == []

    # the beam tree at its own size: its 11 px labels are drawn at 11 px
    page.get_by_text("The beam tree", exact=True).click()
    page.locator("#q-tree-run").click()
    expect(page.locator("#q-tree img")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(page.locator("#q-tree-summary")).to_contain_text("Beam score")
    (tree,) = page.evaluate(IMAGES, "#q-tree")
    assert abs(tree["scale"] - 1) < 0.01 and not tree["clipped"]

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000

    # the toy tab refuses the same way: one line, the old panels hidden
    page.get_by_role("tab", name="Toy tasks").click()
    page.locator("#toy-seq textarea").fill("4 9 0")
    page.locator("#toy-run").click()
    expect(page.locator("#toy-panel-dot")).to_contain_text("dot", timeout=TIMEOUT_MS)
    page.locator("#toy-seq textarea").fill("12x")
    page.locator("#toy-run").click()
    expect(page.locator("#toy-message")).to_contain_text("Only the digits", timeout=TIMEOUT_MS)
    expect(page.locator("#toy-panel-dot")).to_be_hidden()
    page.wait_for_timeout(500)
    assert marked_as_error(page) == []
