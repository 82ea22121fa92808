"""The line view and the crosshair in a real browser (Debian's chromium, driven by playwright):
per variant a line per (t, i) as opaque as α from the page's data; hovering or focusing a token
lights its lines in every variant; hovering or focusing a map marks the same cell in every map
and says each variant's α_{t,i}; the keyboard reaches both; axe-core finds nothing serious; and a
link's ``tool`` sets the page up for it."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import expect

from conftest import BROWSER_TIMEOUT_MS as TIMEOUT_MS
from seq2seq.attention import VARIANTS
from test_browser import axe_violations

SENTENCE = "Der See bildet eine natürliche Grenze zwischen den Ländern."
WITH_ALPHA = [v for v in VARIANTS if v != "none"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"     # kept after the run
LEAST = 0.005            # page.js draws no line below the maps' blank threshold

# Every line of every line view: [variant, t, i, stroke-opacity, lit].
LINES = """() => [...document.querySelectorAll('.cell .lines line')].map((l) => [
    l.closest('.cell').dataset.variant, Number(l.dataset.t), Number(l.dataset.i),
    Number(l.getAttribute('stroke-opacity')), l.classList.contains('hi')])"""


def page_data(page) -> dict:
    return page.evaluate("() => JSON.parse(document.querySelector('.results').dataset.steps)")


def expected_lines(data: dict, step: int | None) -> dict:
    """(variant, t, i) → α for every line the data calls for: step t's, or every step's."""
    out = {}
    for v in WITH_ALPHA:
        for k, row in enumerate(data["variants"][v]["alpha"]):
            if step is None or k + 1 == step:
                out.update({(v, k + 1, i): a for i, a in enumerate(row) if a >= LEAST})
    return out


def drawn_lines(page) -> dict:
    return {(v, t, i): a for v, t, i, a, _ in page.evaluate(LINES)}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-6 for k in a)


def test_line_view_and_crosshair_in_chromium(app_url, page):
    page.goto(app_url, timeout=TIMEOUT_MS)
    box = page.locator("#source-text textarea")
    box.fill(SENTENCE)
    box.press("Enter")
    expect(page.locator("#summary tbody tr")).to_have_count(len(VARIANTS), timeout=TIMEOUT_MS)
    data = page_data(page)

    # one line view per variant with α (none has no α); step 1's lines, as opaque as α
    expect(page.locator(".cell .lines svg")).to_have_count(len(WITH_ALPHA))
    assert page.locator("#cell-none .lines").count() == 0
    assert same(drawn_lines(page), expected_lines(data, 1))
    page.locator("#stepbar .next").click()
    assert same(drawn_lines(page), expected_lines(data, 2))
    for v in WITH_ALPHA:
        expect(page.locator(f"#cell-{v} .lines .ltok.tgt.on")).to_have_attribute("data-t", "2")
    # every step at once
    page.locator("#all-steps").check()
    assert same(drawn_lines(page), expected_lines(data, None))

    # hovering a source token lights its lines, and only those, in every variant
    page.locator("#cell-dot .lines .ltok.src").nth(1).hover()
    lines = page.evaluate(LINES)
    assert {(v, t, i) for v, t, i, _, on in lines if on} == {k for k in expected_lines(data, None) if k[2] == 1}
    assert page.locator(".lines .edges.lit").count() == len(WITH_ALPHA)
    assert page.locator(".lines .ltok.src.hi").count() == len(WITH_ALPHA)
    # an output token: its step's lines in every variant that got that far
    page.locator("#cell-general .lines .ltok.tgt").nth(0).hover()
    lit = {(v, t, i) for v, t, i, _, on in page.evaluate(LINES) if on}
    assert lit == {k for k in expected_lines(data, None) if k[1] == 1}
    page.mouse.move(1, 1)
    page.locator("#all-steps").uncheck()

    # the keyboard: Tab from the map's download link reaches the line view; ↓ moves, focus lights
    page.locator("#cell-general a.download").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.matches('#cell-general .lines .ltok.src')")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.dataset.i") == "1"
    lit = {(v, t, i) for v, t, i, _, on in page.evaluate(LINES) if on}
    assert lit == {k for k in expected_lines(data, 2) if k[2] == 1}
    expect(page.locator("#crossline")).to_contain_text("source")
    page.keyboard.press("Tab")                    # one tab stop per column: on to the output tokens
    assert page.evaluate("() => document.activeElement.matches('#cell-general .lines .ltok.tgt')")
    if len(data["variants"]["general"]["rows"]) >= 3:     # Enter on an output token goes to its step
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        expect(page.locator("#stepbar .tlabel")).to_contain_text("word = 3 /")
        assert same(drawn_lines(page), expected_lines(data, 3))

    # the crosshair: a cell hovered in one map is marked in every map, with each α_{t,i} in one line
    frame = page.locator("#cell-dot .scroll .frame")
    frame.scroll_into_view_if_needed()
    geo = data["variants"]["dot"]["map"]
    fb = page.locator("#cell-dot img.heatmap").bounding_box()
    t, i = 2, 1
    page.mouse.move(fb["x"] + (geo["left"] + (i + 0.5) * geo["cw"]) * fb["width"],
                    fb["y"] + (geo["top"] + (t - 0.5) * geo["ch"]) * fb["height"])
    readout = page.locator("#crossline")
    for v in WITH_ALPHA:
        alpha = data["variants"][v]["alpha"]
        cross = page.locator(f"#cell-{v} .scroll .cross")
        if t <= len(alpha):
            expect(cross).to_have_attribute("data-cell", f"{t},{i}")
            g = data["variants"][v]["map"]
            mb, ib = cross.bounding_box(), page.locator(f"#cell-{v} img.heatmap").bounding_box()
            assert abs(mb["x"] - (ib["x"] + (g["left"] + i * g["cw"]) * ib["width"])) < 1.5, v
            assert abs(mb["y"] - (ib["y"] + (g["top"] + (t - 1) * g["ch"]) * ib["height"])) < 1.5, v
            expect(readout).to_contain_text(f"{v} {100 * alpha[t - 1][i]:.1f} %")
    assert page.locator("#crossline").get_attribute("aria-live") == "polite"
    page.mouse.move(1, 1)
    expect(page.locator("#cell-dot .scroll .cross")).to_be_hidden()
    expect(readout).to_have_text("")

    # the keyboard: a focused map shows the cell of step t, the arrows move it in every map
    page.locator("#cell-additive .scroll .frame").focus()
    step = int(page.locator("#stepbar .t").input_value())
    expect(page.locator("#cell-additive .scroll .cross")).to_have_attribute("data-cell", f"{step},0")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    rows = len(data["variants"]["additive"]["alpha"])
    want = f"{min(step + 1, rows)},1"
    expect(page.locator("#cell-additive .scroll .cross")).to_have_attribute("data-cell", want)
    expect(page.locator("#cell-dot .scroll .cross")).to_have_attribute(
        "data-cell", want if min(step + 1, rows) <= len(data["variants"]["dot"]["alpha"]) else "")
    assert int(page.locator("#stepbar .t").input_value()) == step       # the arrows moved the cell, not t

    assert axe_violations(page) == []

    # a link's tool: "lines" opens the line view on every step
    page.goto(app_url + f"?text={quote(SENTENCE)}&tool=lines", timeout=TIMEOUT_MS)
    expect(page.locator("#summary tbody tr")).to_have_count(len(VARIANTS), timeout=TIMEOUT_MS)
    expect(page.locator("#all-steps")).to_be_checked()
    assert same(drawn_lines(page), expected_lines(page_data(page), None))
    page.screenshot(path=str(ARTIFACTS / "browser-lines.png"))
    # "knock-out": the question tab is set up for the link's sentence and step, one button away
    page.goto(app_url + f"?text={quote(SENTENCE)}&variants=additive&t=2&tool=knock-out", timeout=TIMEOUT_MS)
    button = page.locator("#tool-open")
    expect(button).to_contain_text("knock-out is set up at word = 2", timeout=TIMEOUT_MS)
    button.click()
    expect(page.locator("#q-source textarea")).to_have_value(SENTENCE)
    expect(page.locator("#q-target textarea")).not_to_have_value("")
    expect(page.locator("#q-knock input:checked")).to_have_count(1)
    expect(page.locator("#q-knock-table")).to_contain_text("additive")        # knocked out and re-decoded
    expect(page.locator("#q-knock-table")).to_be_visible()
    assert axe_violations(page) == []
