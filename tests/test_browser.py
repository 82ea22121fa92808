"""The page in a real browser (Debian's chromium, driven by playwright) at 1440×900: type a
sentence, compare, read the summary, see the five variants at a readable size, step through
decoding by mouse and keyboard, click a token, enlarge a map, refuse bad input cleanly, share
a permalink, download the zip, run axe-core on every tab, and keep screenshots."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from conftest import BROWSER_TIMEOUT_MS as TIMEOUT_MS
from demo import views
from demo.state import load_examples
from seq2seq.attention import VARIANTS
from seq2seq.translator import MAX_CHARS

SENTENCE = "Der See bildet eine natürliche Grenze zwischen den Ländern."
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"     # kept after the run
SCREENSHOT = ARTIFACTS / "browser-page.png"
# axe-core from npm (``npm install --no-save axe-core`` at the repository root), or AXE_JS
AXE_JS = Path(os.environ.get("AXE_JS", Path(__file__).resolve().parent.parent / "node_modules/axe-core/axe.min.js"))
MIN_TEXT_PX = 10


def axe_violations(page) -> list[str]:
    """Critical and serious axe-core violations of the page as it is now."""
    if not AXE_JS.is_file():
        pytest.skip(f"axe-core is not installed ({AXE_JS}); npm install --no-save axe-core")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    found = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .filter((v) => v.impact === 'critical' || v.impact === 'serious')
        .map((v) => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | '))""")
    return found


def smallest_map_scale(page) -> float:
    """The smallest shown ÷ drawn CSS size over every map on the page: text drawn at ≥ 10 px
    (tests/test_plots.py) is shown at ≥ 10 px × this."""
    return page.evaluate("""() => Math.min(...[...document.querySelectorAll('#multiples .frame img')]
        .filter((im) => im.offsetParent !== null)
        .map((im) => Math.min(im.getBoundingClientRect().width / Number(im.getAttribute('width')),
                              im.naturalWidth / Number(im.getAttribute('width')))))""")


def step_map(page, variant: str) -> dict:
    return page.evaluate("(v) => JSON.parse(document.querySelector('.results').dataset.steps).variants[v].map", variant)


def in_viewport(page, selector: str) -> bool:
    return page.evaluate("""(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }""", selector)


def marked_as_error(page) -> list[str]:
    """Visible elements that Gradio (or anything) marks as an error: error badges, error status, toasts."""
    return page.evaluate("""() => [...document.querySelectorAll('[class*="error"], .toast-body, [data-testid*="toast"]')]
        .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().height > 0)
        .map((el) => el.className + ': ' + el.textContent.slice(0, 60))""")


def test_compare_step_and_export_in_chromium(app_url, page, new_page, tmp_path):
    page.goto(app_url, timeout=TIMEOUT_MS)
    box = page.locator("#source-text textarea")
    expect(box).to_be_visible()
    # before the first run: no results area, and everything needed is above the fold
    expect(page.locator("#results-area")).to_be_hidden()
    for sel in ("#source-text", "#variants", "#run"):
        assert in_viewport(page, sel), sel
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-before.png"))
    # settings changed before any run answer without an error (shown once the results are)
    expect(page.locator("#words input")).to_be_checked()              # words by default
    page.locator("#words input").uncheck()
    page.locator("#words input").check()
    page.wait_for_timeout(500)

    # Enter runs the comparison, in words by default
    box.fill(SENTENCE)
    box.press("Enter")
    expect(page.locator("#summary")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#summary tbody tr")).to_have_count(len(VARIANTS))
    page.wait_for_timeout(300)                                   # the scroll to the input row
    assert in_viewport(page, "#source-text")                     # the next sentence needs no scroll
    assert marked_as_error(page) == []
    expect(page.locator("#notation")).to_contain_text("Words, not pieces")

    # five variants, every map at the size it was drawn for: no text under 10 px
    cells = page.locator("#multiples .cell")
    expect(cells).to_have_count(len(VARIANTS))
    images = page.locator("#multiples img.heatmap")
    expect(images).to_have_count(len(VARIANTS) - 1)               # none has no α
    page.wait_for_function("() => [...document.querySelectorAll('#multiples img.heatmap')]"
                           ".every((im) => im.complete && im.naturalWidth > 50)")
    assert smallest_map_scale(page) >= 0.999
    page.locator("#cell-multihead details.heads summary").click()
    page.wait_for_function("() => [...document.querySelectorAll('img.head')].every((im) => im.complete)")
    assert page.locator("img.head").count() == 4 and smallest_map_scale(page) >= 0.999
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # a step change marks row t in every heatmap and the t-th output token
    page.locator("#stepbar .next").click()
    page.locator("#stepbar .next").click()
    expect(page.locator("#stepbar .tlabel")).to_have_text(f"word = 3 / {page.locator('#stepbar .t').get_attribute('max')}")
    for v in VARIANTS:
        cell = page.locator(f"#cell-{v}")
        expect(cell.locator(".tokens.out .tok.on")).to_have_attribute("data-t", "3")
        if v != "none":
            mark = cell.locator(".scroll .mark")
            expect(mark).to_have_attribute("data-row", "3")
            frame = cell.locator(".scroll .frame")
            geo = step_map(page, v)
            fb, mb = frame.bounding_box(), mark.bounding_box()
            expected = fb["y"] + (geo["top"] + 2 * geo["ch"]) * fb["height"]
            assert abs(mb["y"] - expected) < 1.5, (v, mb, expected)
    expect(page.locator("#stepview .choices .choice")).to_have_count(len(VARIANTS))
    # the step control stays in view while the heatmaps are
    page.evaluate("window.scrollBy(0, 600)")
    page.wait_for_timeout(200)
    assert in_viewport(page, "#stepbar") and page.locator("#stepbar").bounding_box()["y"] < 2
    page.locator("#stepbar .prev").click()
    expect(page.locator("#cell-dot .scroll .mark")).to_have_attribute("data-row", "2")
    # a clicked token is the step too
    page.locator("#cell-additive .tokens.out .tok").nth(3).click()
    expect(page.locator("#cell-additive .tok.clicked")).to_have_attribute("data-t", "4")
    expect(page.locator("#cell-dot .scroll .mark")).to_have_attribute("data-row", "4")
    # the keyboard: → steps from a focused token, Enter on a map enlarges it at full size
    page.locator("#cell-additive .tokens.out .tok").nth(3).focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#cell-dot .scroll .mark")).to_have_attribute("data-row", "5")
    assert page.evaluate("() => document.activeElement.dataset.t") == "5"
    page.locator("#cell-dot .scroll .frame").focus()
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), outline                   # a visible focus
    page.keyboard.press("Enter")
    lightbox = page.locator(".attention-lightbox")
    expect(lightbox).to_contain_text("dot · words · step word 5")
    big, small = lightbox.locator("img").bounding_box(), page.locator("#cell-dot img.heatmap").bounding_box()
    assert big["width"] >= small["width"] - 0.5
    expect(lightbox.locator(".mark")).to_have_attribute("data-row", "5")
    page.keyboard.press("Escape")
    expect(page.locator(".attention-lightbox")).to_have_count(0)
    # a click enlarges a heatmap too
    page.locator("#cell-dot img.heatmap").click()
    expect(page.locator(".attention-lightbox img")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator(".attention-lightbox")).to_have_count(0)

    # the permalink: the URL carries the sentence and settings, and opening it runs them
    page.locator("#copy-link").click()
    expect(page.locator("#stepbar .copied")).not_to_be_empty()
    link = page.url
    assert "text=" in link and "unit=words" in link
    assert axe_violations(page) == []
    other = new_page(viewport={"width": 1920, "height": 1080})
    other.goto(link, timeout=TIMEOUT_MS)
    expect(other.locator("#summary tbody tr")).to_have_count(len(VARIANTS), timeout=TIMEOUT_MS)
    expect(other.locator("#source-text textarea")).to_have_value(SENTENCE)
    expect(other.locator("#status")).to_contain_text("showing words")
    other.wait_for_timeout(300)
    assert in_viewport(other, "#source-text") and marked_as_error(other) == []
    # bad or oversized values in a link: the normal refusal, never a crash
    for query in (f"?text={quote('x' * (MAX_CHARS + 50))}", f"?text={quote(SENTENCE)}&method=beam&beam=abc",
                  f"?text={quote(SENTENCE)}&variants=bogus", f"?text={quote(SENTENCE)}&unit=%3Cb%3E"):
        other.goto(app_url + query, timeout=TIMEOUT_MS)
        expect(other.locator("#message")).to_contain_text("⚠️", timeout=TIMEOUT_MS)
        expect(other.locator("#results-area")).to_be_hidden()
        other.wait_for_timeout(300)
        assert marked_as_error(other) == [] and "Traceback" not in other.content(), query
    other.close()

    # the zip downloads
    page.locator("#zip-button").click()
    link = page.locator("#zip-file a").first
    expect(link).to_be_visible(timeout=TIMEOUT_MS)
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        link.click()
    assert info.value.suggested_filename == f"attention-{views.slug(SENTENCE)}-words.zip"
    saved = tmp_path / "all.zip"
    info.value.save_as(saved)
    assert saved.stat().st_size > 1000

    # user text is shown as text, never run as HTML
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    box.fill('Hallo <img src=x onerror="alert(1)"> ${alert(2)} Welt')
    page.locator("#run").click()
    expect(page.locator("#status")).to_contain_text("onerror", timeout=TIMEOUT_MS)
    assert page.locator("#status img").count() == 0 and dialogs == []

    # refused input: one message, no result left standing, nothing marked as an error
    box.fill("   ")
    page.locator("#run").click()
    expect(page.locator("#message")).to_contain_text("The text is empty", timeout=TIMEOUT_MS)
    expect(page.locator("#results-area")).to_be_hidden()
    page.wait_for_timeout(500)
    assert in_viewport(page, "#message")                          # where the user looks
    assert marked_as_error(page) == []
    page.screenshot(path=str(ARTIFACTS / "browser-refused.png"))
    assert "Traceback" not in page.content()

    # an example from the test split fills the box and runs the comparison at once
    example = load_examples()[0][0]
    page.get_by_text(example, exact=True).first.click()
    expect(box).to_have_value(example, timeout=TIMEOUT_MS)
    expect(page.locator("#status")).to_contain_text(example.split()[0], timeout=TIMEOUT_MS)
    expect(page.locator(".reference")).to_contain_text("Reference", timeout=TIMEOUT_MS)
    expect(page.locator("#message")).to_be_hidden()

    # axe-core on every tab: no critical or serious violation
    for tab in page.get_by_role("tab").all():
        name = tab.inner_text()
        tab.click()
        page.wait_for_timeout(500)
        assert axe_violations(page) == [], name
    page.get_by_role("tab").first.click()

    # the About tab: typeset formulas, and the BLEU-by-length plot drawn by the page's load event
    page.get_by_role("tab", name="About").click()
    expect(page.get_by_text("Attention variants").first).to_be_visible(timeout=TIMEOUT_MS)
    assert page.locator(".katex").count() >= len(VARIANTS)
    plot = page.locator("#bleu-by-length img")
    expect(plot).to_have_count(1, timeout=TIMEOUT_MS)
    plot.scroll_into_view_if_needed()
    page.wait_for_function("(el) => el.complete && el.naturalWidth > 100", arg=plot.element_handle())

    # a phone: the button is on the first screen
    phone = new_page(viewport={"width": 390, "height": 844})
    phone.goto(app_url, timeout=TIMEOUT_MS)
    expect(phone.locator("#run")).to_be_visible()
    phone.screenshot(path=str(ARTIFACTS / "browser-phone.png"))
    assert in_viewport(phone, "#run")
    phone.screenshot(path=str(ARTIFACTS / "browser-phone.png"))
    # every tab is labelled: none hides behind an overflow menu
    labels = [t.inner_text().strip() for t in phone.get_by_role("tab").all() if t.is_visible()]
    assert len(labels) == page.get_by_role("tab").count() and all(labels), labels
    phone.screenshot(path=str(ARTIFACTS / "browser-phone.png"))
    phone.locator("#source-text textarea").fill(SENTENCE)
    phone.locator("#run").click()
    expect(phone.locator("#summary")).to_be_visible(timeout=TIMEOUT_MS)
    phone.evaluate("document.getElementById('multiples').scrollIntoView()")
    phone.wait_for_timeout(300)
    covered = phone.evaluate("""() => [...document.querySelectorAll('#multiples figcaption, #summary th')]
        .filter((el) => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })
        .filter((el) => { const r = el.getBoundingClientRect();
                          const hit = document.elementFromPoint(r.left + 4, (r.top + r.bottom) / 2);
                          return hit && hit.closest('#stepbar'); })
        .map((el) => el.textContent)""")
    assert phone.locator("#stepbar.floating").count() == 1 and covered == []      # the bar covers no title
    phone.screenshot(path=str(ARTIFACTS / "browser-phone-results.png"))


def drawn_ratios(page) -> list[float]:
    """Device pixels per CSS pixel of every map in the results block (its PNG ÷ its CSS width)."""
    return page.evaluate("""() => [...document.querySelectorAll('.results .frame img')]
        .map((im) => im.naturalWidth / Number(im.getAttribute('width')))""")


@pytest.mark.parametrize("dpr", [1, 2])
def test_maps_are_drawn_at_the_screens_pixel_ratio(app_url, new_page, dpr):
    """The page sends window.devicePixelRatio with the comparison, the words toggle and a
    permalink: each map's PNG is its CSS size times that ratio."""
    page = new_page(device_scale_factor=dpr)
    page.goto(app_url, timeout=TIMEOUT_MS)
    page.locator("#source-text textarea").fill(SENTENCE)
    page.locator("#run").click()
    page.wait_for_selector("#stepbar")
    ratios = drawn_ratios(page)
    assert len(ratios) >= 4 and all(dpr - 0.05 < r <= dpr for r in ratios), ratios
    before = page.evaluate("() => document.querySelector('.results').dataset.steps")
    page.locator("#words input").click()          # drawn again, in the other unit, at the same ratio
    page.wait_for_function("(s) => document.querySelector('.results')?.dataset.steps !== s", arg=before)
    assert all(dpr - 0.05 < r <= dpr for r in drawn_ratios(page))
    page.goto(f"{app_url}?text={quote(SENTENCE)}&variants=dot,additive", timeout=TIMEOUT_MS)
    page.wait_for_selector("#stepbar")
    ratios = drawn_ratios(page)
    assert len(ratios) >= 2 and all(dpr - 0.05 < r <= dpr for r in ratios), ratios
