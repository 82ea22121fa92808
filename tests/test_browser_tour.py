"""Browser test: the tour's links, and a step's t opening the maps at that step (shipped models)."""
from __future__ import annotations

import socket

import pytest
from playwright.sync_api import expect, sync_playwright

from demo import tour

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


@pytest.fixture(scope="module")
def shipped_url(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio_tmp")))
    mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    from demo.ui import build_demo

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = build_demo()
    try:
        _, url, _ = demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                                quiet=True, enable_monitoring=False, show_error=False)
        yield url.rstrip("/")
    finally:
        demo.close()
        mp.undo()


def test_tour_links_and_step_t(shipped_url):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(shipped_url)
            page.get_by_text("Tour: six steps").click()
            links = page.locator("#tour-steps a")
            expect(links).to_have_count(len(tour.STEPS))
            assert [links.nth(i).get_attribute("href") for i in range(len(tour.STEPS))] == \
                [s.permalink() for s in tour.STEPS]
            step = tour.STEPS[0]
            page.goto(shipped_url + "/" + step.permalink())
            expect(page.locator(".stepbar .tlabel")).to_contain_text(f"word = {step.t} /", timeout=60_000)
            page.goto(shipped_url + "/?text=Ja.&t=zz")                  # a bad t: the first step, as clamped
            expect(page.locator(".stepbar .tlabel")).to_contain_text("word = 1 /", timeout=60_000)
        finally:
            browser.close()
