"""The "Question the attention" tab in a real browser (Debian's chromium, driven by playwright):
force one translation on every variant, then knock out a source piece and re-decode."""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from seq2seq.attention import VARIANTS

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000
SENTENCE = "Der See bildet eine natürliche Grenze zwischen den Ländern."
TARGET = "The lake forms a natural border between the countries."
SCREENSHOT = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser-question.png"


def test_forced_translation_and_knock_out_in_chromium(app_url):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(app_url, timeout=TIMEOUT_MS)
            page.get_by_role("tab", name="Question the attention").click()

            # one translation for all: forced decoding
            page.locator("#q-source textarea").fill(SENTENCE)
            page.locator("#q-target textarea").fill(TARGET)
            page.locator("#q-score").click()
            summary = page.locator("#q-summary")
            expect(summary).to_contain_text("Scored", timeout=TIMEOUT_MS)
            for v in VARIANTS:
                expect(summary).to_contain_text(v)
            expect(page.locator("#q-logp")).to_contain_text("additive log p")
            expect(page.locator("#q-heatmaps img")).to_have_count(len(VARIANTS) - 1, timeout=TIMEOUT_MS)

            # knock out the first source piece
            page.get_by_text("Interventions: does the output follow attention?").click()
            knock = page.locator("#q-knock")
            knock.scroll_into_view_if_needed()
            knock.get_by_text("1: ▁Der").click()
            page.locator("#q-knock-run").click()
            table = page.locator("#q-knock-table")
            expect(table).to_contain_text("Σ Δ log p", timeout=TIMEOUT_MS)
            expect(table).to_contain_text("no attention to intervene on")   # the none variant's row
            expect(table).to_contain_text("multihead")

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            assert SCREENSHOT.stat().st_size > 10_000
        finally:
            browser.close()
