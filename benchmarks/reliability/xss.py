"""xss: script payloads typed into the page in Chromium (greedy, and beam with words), counting
any that executes; with a control that must execute."""
from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from .client import (CHROMIUM, CHROMIUM_ARGS, HANG_S, LONG, Outcome, Server, call_event, call_translate,
                     compare_data, load_average, new_session, percentile)


def xss_payloads() -> list[str]:
    hook = "window.__xss.push(1)"
    base = [
        f"<script>{hook}</script>", f"<img src=x onerror={hook}>", f"<svg onload={hook}>",
        f"<svg><script>{hook}</script></svg>", f"<iframe srcdoc='<script>parent.__xss.push(1)</script>'>",
        f"<body onload={hook}>", f"<details open ontoggle={hook}>", f"<input autofocus onfocus={hook}>",
        f"<video><source onerror={hook}>", f"<audio src=x onerror={hook}>", f"<marquee onstart={hook}>",
        f"<a href=javascript:{hook}>x</a>", f"[click](javascript:{hook})", f"![x](x\" onerror=\"{hook})",
        f"<math><mtext><img src=x onerror={hook}>", f"\"><img src=x onerror={hook}>", f"'><svg onload={hook}>",
        f"</textarea><script>{hook}</script>", f"</title><script>{hook}</script>", f"<style>@import 'x';</style>",
        f"<object data=javascript:{hook}>", f"<embed src=javascript:{hook}>", f"<form action=javascript:{hook}><button>",
        f"<isindex action=javascript:{hook} type=image>", f"<img src=\"x` `<script>{hook}</script>\"` `>",
        f"<scr<script>ipt>{hook}</scr</script>ipt>", f"&lt;script&gt;{hook}&lt;/script&gt;",
        f"<img src=x oNeRrOr={hook}>", f"<IMG SRC=x ONERROR={hook}>", f"<img/src=x/onerror={hook}>",
        f"<svg/onload={hook}>", f"<img src=x onerror=\"&#119;indow.__xss.push(1)\">", f"<div style=\"x:expression({hook})\">",
        f"$\\href{{javascript:{hook}}}{{x}}$", f"$$\\url{{javascript:{hook}}}$$", f"`<img src=x onerror={hook}>`",
        f"<!--<img src=\"--><img src=x onerror={hook}//\">", f"<a href=\"jav&#x09;ascript:{hook}\">x</a>",
        f"<base href=javascript:{hook}//>", f"<link rel=import href=javascript:{hook}>",
        f"<meta http-equiv=refresh content=\"0;url=javascript:{hook}\">", f"<template><img src=x onerror={hook}></template>",
        f"<select autofocus onfocus={hook}>", f"<keygen autofocus onfocus={hook}>", f"<textarea autofocus onfocus={hook}>",
        f"<svg><animate onbegin={hook} attributeName=x dur=1s>", f"<svg><a xlink:href=javascript:{hook}><text>x</text></a></svg>",
        f"<img src=1 onerror={hook}> Ich wurde gebissen.", f"Der Hund <img src=x onerror={hook}> bellt.",
        f"<b onmouseover={hook}>Hallo</b>", f"<p style=\"background:url(javascript:{hook})\">",
        f"\u003cimg src=x onerror={hook}\u003e", f"＜img src=x onerror={hook}＞", f"<img src=x onerror={hook}//",
        f"{{{{constructor.constructor('{hook}')()}}}}", f"${{{hook}}}", f"<x onclick={hook}>click",
        f"<img src=x:alert(1) onerror=eval(src) alt={hook}>", f"<svg><set onbegin={hook} attributename=x to=y>",
    ]
    return base


SHOWN = ("() => (document.querySelector('#results')?.innerHTML ?? '') + '|' + "
         "(document.querySelector('#message')?.innerText ?? '')")   # what a run changes: the results or the message


def run_xss(server: Server, modes: list[str], limit: int | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    payloads = xss_payloads()[:limit]
    executed, runs, dialogs = 0, 0, []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script("window.__xss = []; window.alert = window.confirm = window.prompt = "
                                 "() => window.__xss.push('dialog');")
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(server.url, timeout=120_000)
            page.locator("#source-text textarea").wait_for(timeout=120_000)
            for mode in modes:
                if mode == "beam+words":
                    page.get_by_label("beam", exact=True).check()
                    page.locator("#words input").check()
                for i, payload in enumerate(payloads):
                    before = page.evaluate(SHOWN)
                    toasts = page.locator(".toast-body").count()
                    page.locator("#source-text textarea").fill(f"{i} {payload}"[:500])
                    page.locator("#run").click()
                    try:
                        page.wait_for_function(
                            f"([b, t]) => ({SHOWN})() !== b || "
                            "document.querySelectorAll('.toast-body').length > t", arg=[before, toasts], timeout=30_000)
                        page.wait_for_timeout(300)       # the step view (page.js) follows
                        tokens = page.locator("#cell-dot .tokens.out .tok, #cell-additive .tokens.out .tok").first
                        if tokens.count():
                            tokens.click(timeout=2_000)  # a clicked output token moves the step view
                            page.wait_for_timeout(200)
                    except Exception:                    # noqa: BLE001 - a slow run counts, not stops
                        pass
                    runs += 1
            page.wait_for_timeout(3000)          # anything late still counts: the counter is never reset
            executed = page.evaluate("window.__xss.length")
            # the control: the same markup inserted unescaped does run, and the counter sees it
            page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=window.__xss.push(1)>')")
            try:
                page.wait_for_function(f"window.__xss.length > {executed}", timeout=15_000)
            except Exception:                    # noqa: BLE001 - reported as a failed control
                pass
            control = page.evaluate("window.__xss.length") - executed
        finally:
            browser.close()
    return {"payloads": len(payloads), "runs": runs, "executed": executed + len(dialogs),
            "control_executed": control}


def run_busy_page(server: Server, hold: threading.Event) -> str | None:
    """While ``hold`` is set (the queue full), click the page's button: the text Gradio shows."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(server.url, timeout=120_000)
            page.locator("#source-text textarea").fill("Es sieht nach Regen aus.")
            hold.wait(60)
            page.locator("#run").click()
            toast = page.locator(".toast-body").first
            toast.wait_for(timeout=15_000)
            return " ".join(toast.inner_text().split())
        except Exception as exc:         # noqa: BLE001
            return f"(no message seen: {type(exc).__name__})"
        finally:
            browser.close()


def run(args) -> None:
    server = Server(root=args.root)
    try:
        modes = ["greedy"] if args.quick else ["greedy", "beam+words"]
        t0 = time.monotonic()
        print(f"xss ({', '.join(modes)}):", run_xss(server, modes), f"in {time.monotonic() - t0:.0f} s; "
              f"{load_average()}", flush=True)
    finally:
        server.stop()
