"""The page in a real browser (Debian's chromium, driven by playwright) at 1440×900: type a
sentence, compare, read the summary, see the five variants side by side, step through
decoding, click a token, refuse bad input cleanly, download the zip, and keep a screenshot."""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from demo.state import load_examples
from seq2seq.attention import VARIANTS

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000
SENTENCE = "Der See bildet eine natürliche Grenze zwischen den Ländern."
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"     # kept after the run
SCREENSHOT = ARTIFACTS / "browser-page.png"


def in_viewport(page, selector: str) -> bool:
    return page.evaluate("""(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }""", selector)


def marked_as_error(page) -> list[str]:
    """Visible elements that Gradio (or anything) marks as an error: error badges, error status, toasts."""
    return page.evaluate("""() => [...document.querySelectorAll('[class*="error"], .toast-body, [data-testid*="toast"]')]
        .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().height > 0)
        .map((el) => el.className + ': ' + el.textContent.slice(0, 60))""")


def test_compare_step_and_export_in_chromium(app_url, tmp_path):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, accept_downloads=True)
            page.set_default_timeout(TIMEOUT_MS)
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
            page.locator("#words input").check()
            page.locator("#words input").uncheck()
            page.wait_for_timeout(500)

            # Enter runs the comparison
            box.fill(SENTENCE)
            box.press("Enter")
            expect(page.locator("#summary")).to_be_visible(timeout=TIMEOUT_MS)
            expect(page.locator("#summary tbody tr")).to_have_count(len(VARIANTS))
            page.wait_for_timeout(300)                                   # the scroll to the results
            assert in_viewport(page, "#summary")                         # the whole table, without scrolling
            assert marked_as_error(page) == []

            # five variants side by side: one row, the same top
            cells = page.locator("#multiples .cell")
            expect(cells).to_have_count(len(VARIANTS))
            tops = {round(cells.nth(i).bounding_box()["y"]) for i in range(len(VARIANTS))}
            assert len(tops) == 1, tops
            images = page.locator("#multiples img.heatmap")
            expect(images).to_have_count(len(VARIANTS) - 1)               # none has no α
            page.wait_for_function("() => [...document.querySelectorAll('#multiples img.heatmap')]"
                                   ".every((im) => im.complete && im.naturalWidth > 50)")
            assert len({round(images.nth(i).bounding_box()["y"]) for i in range(images.count())}) == 1
            page.screenshot(path=str(SCREENSHOT))

            # a step change marks row t in every heatmap and the t-th output token
            page.locator("#stepbar .next").click()
            page.locator("#stepbar .next").click()
            expect(page.locator("#stepbar .tlabel")).to_have_text(f"t = 3 / {page.locator('#stepbar .t').get_attribute('max')}")
            for v in VARIANTS:
                cell = page.locator(f"#cell-{v}")
                expect(cell.locator(".tokens.out .tok.on")).to_have_attribute("data-t", "3")
                if v != "none":
                    mark = cell.locator(".mark")
                    expect(mark).to_have_attribute("data-row", "3")
                    frame = cell.locator(".frame")
                    geo = {k: float(frame.get_attribute(f"data-{k}")) for k in ("top", "cell", "h")}
                    fb, mb = frame.bounding_box(), mark.bounding_box()
                    expected = fb["y"] + (geo["top"] + 2 * geo["cell"]) / geo["h"] * fb["height"]
                    assert abs(mb["y"] - expected) < 1.5, (v, mb, expected)
            expect(page.locator("#stepview .choices .choice")).to_have_count(len(VARIANTS))
            # the step control stays in view while the heatmaps are
            page.evaluate("window.scrollBy(0, 600)")
            page.wait_for_timeout(200)
            assert in_viewport(page, "#stepbar") and page.locator("#stepbar").bounding_box()["y"] < 2
            page.locator("#stepbar .prev").click()
            expect(page.locator("#cell-dot .mark")).to_have_attribute("data-row", "2")
            # a clicked token is the step too
            page.locator("#cell-additive .tokens.out .tok").nth(3).click()
            expect(page.locator("#cell-additive .tok.clicked")).to_have_attribute("data-t", "4")
            expect(page.locator("#cell-dot .mark")).to_have_attribute("data-row", "4")
            # a click enlarges a heatmap
            page.locator("#cell-dot img.heatmap").click()
            expect(page.locator(".attention-lightbox img")).to_be_visible()
            page.keyboard.press("Escape")
            expect(page.locator(".attention-lightbox")).to_have_count(0)

            # the zip downloads
            page.locator("#zip-button").click()
            link = page.locator("#zip-file a").first
            expect(link).to_be_visible(timeout=TIMEOUT_MS)
            with page.expect_download(timeout=TIMEOUT_MS) as info:
                link.click()
            assert info.value.suggested_filename == "attention-pieces.zip"
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

            # the About tab: typeset formulas, and the BLEU-by-length plot drawn by the page's load event
            page.get_by_role("tab", name="About").click()
            expect(page.get_by_text("Attention variants").first).to_be_visible(timeout=TIMEOUT_MS)
            assert page.locator(".katex").count() >= len(VARIANTS)
            plot = page.locator("#bleu-by-length img")
            expect(plot).to_have_count(1, timeout=TIMEOUT_MS)
            plot.scroll_into_view_if_needed()
            page.wait_for_function("(el) => el.complete && el.naturalWidth > 100", arg=plot.element_handle())

            # a phone: the button is on the first screen
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(app_url, timeout=TIMEOUT_MS)
            expect(phone.locator("#run")).to_be_visible()
            assert in_viewport(phone, "#run")
            phone.screenshot(path=str(ARTIFACTS / "browser-phone.png"))
        finally:
            browser.close()
