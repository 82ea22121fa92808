"""The page in a real browser (Debian's chromium, driven by playwright): type a
sentence, compare, see every variant's translation and heatmap, step through
decoding, click to align, and keep a screenshot."""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from demo.handlers import load_examples
from seq2seq.attention import VARIANTS

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000
SENTENCE = "Der See bildet eine natürliche Grenze zwischen den Ländern."
SCREENSHOT = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser-page.png"   # kept after the run


def test_compare_step_and_align_in_chromium(app_url):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(app_url, timeout=TIMEOUT_MS)
            page.locator("#source-text textarea").fill(SENTENCE)
            page.locator("#run").click()

            for v in VARIANTS:
                translation = page.locator(f"#translation-{v} textarea")
                expect(translation).not_to_have_value("", timeout=TIMEOUT_MS)
                if v == "none":
                    expect(page.locator("#panel-none")).to_contain_text("No attention")
                else:
                    img = page.locator(f"#heatmap-{v} img")
                    expect(img).to_have_count(1, timeout=TIMEOUT_MS)
                    img.scroll_into_view_if_needed()          # the images load lazily
                    expect(img).to_be_visible(timeout=TIMEOUT_MS)
                    page.wait_for_function("(el) => el.complete && el.naturalWidth > 100", arg=img.element_handle())
            expect(page.locator("#status")).to_contain_text("Reference")

            # step through decoding: move the slider (its range handle, by keyboard) to t = 3
            expect(page.locator("#step-md-additive")).to_contain_text("t = 1", timeout=TIMEOUT_MS)
            handle = page.locator("#step input[type=range]")
            handle.focus()
            handle.press("ArrowRight")
            handle.press("ArrowRight")
            expect(handle).to_have_value("3")
            for v in VARIANTS:
                expect(page.locator(f"#step-md-{v}")).to_contain_text("t = 3", timeout=TIMEOUT_MS)
            # and its number box, to t = 2
            number = page.locator("#step input[type=number]")
            number.fill("2")
            number.press("Enter")
            expect(page.locator("#step-md-dot")).to_contain_text("t = 2", timeout=TIMEOUT_MS)
            bars = page.locator("#bars-additive img")
            bars.scroll_into_view_if_needed()
            expect(bars).to_be_visible()
            expect(page.locator("#cands-additive")).to_be_visible()

            # click to align: an output token highlights the source
            page.locator("#tokens-additive .token").nth(1).click()
            expect(page.locator("#align-additive")).to_contain_text("%", timeout=TIMEOUT_MS)

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            assert SCREENSHOT.stat().st_size > 10_000

            # user text is shown as text, never run as HTML
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.locator("#source-text textarea").fill('Hallo <img src=x onerror="alert(1)"> Welt')
            page.locator("#run").click()
            expect(page.locator("#status")).to_contain_text("onerror", timeout=TIMEOUT_MS)
            assert page.locator("#status img").count() == 0
            assert dialogs == []

            # bad input: a clear message, no traceback
            page.locator("#source-text textarea").fill("   ")
            page.locator("#run").click()
            expect(page.get_by_text("The text is empty").first).to_be_visible(timeout=TIMEOUT_MS)
            assert "Traceback" not in page.content()

            # an example from the test split fills the box and runs the comparison at once
            example = load_examples()[0][0]
            page.get_by_text(example, exact=True).first.click()
            expect(page.locator("#source-text textarea")).to_have_value(example, timeout=TIMEOUT_MS)
            expect(page.locator("#status")).to_contain_text(example.split()[0], timeout=TIMEOUT_MS)
            expect(page.locator("#status")).to_contain_text("Reference", timeout=TIMEOUT_MS)
            expect(page.locator("#translation-additive textarea")).not_to_have_value("", timeout=TIMEOUT_MS)

            # the About tab: its BLEU-by-length plot is drawn by the page's load event
            page.get_by_role("tab", name="About").click()
            expect(page.get_by_text("Attention variants").first).to_be_visible(timeout=TIMEOUT_MS)
            plot = page.locator("#bleu-by-length img")
            expect(plot).to_have_count(1, timeout=TIMEOUT_MS)
            plot.scroll_into_view_if_needed()
            page.wait_for_function("(el) => el.complete && el.naturalWidth > 100", arg=plot.element_handle())
        finally:
            browser.close()
