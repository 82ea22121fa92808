"""burst: 100 simultaneous compare requests, each served or refused in time; a request sent
during the burst; the page's busy message; service after it."""
from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from .client import (CHROMIUM, CHROMIUM_ARGS, HANG_S, LONG, Outcome, Server, call_event, call_translate,
                     compare_data, load_average, new_session, percentile)


from .xss import run_busy_page


def burst(server: Server, n: int, texts: list[str], with_browser: bool) -> dict:
    rng = random.Random(7)
    barrier = threading.Barrier(n + 1)
    results: list[Outcome] = [None] * n
    hold = threading.Event()

    def one(i: int):
        with httpx.Client(base_url=server.url, timeout=120) as client:
            barrier.wait()
            results[i] = call_event(client, server.compare_index, compare_data(rng.choice(texts)),
                                    f"burst-{i}-{rng.getrandbits(32)}", timeout=120)

    busy_text: list[str | None] = [None]
    browser = threading.Thread(target=lambda: busy_text.__setitem__(0, run_busy_page(server, hold))) \
        if with_browser else None
    if browser:
        browser.start()
        time.sleep(8)                       # the page loads before the burst
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    burst_started = time.monotonic()
    time.sleep(0.5)
    hold.set()
    with httpx.Client(base_url=server.url, timeout=120) as client:
        t0 = time.monotonic()
        client.get("/config")
        config_s = time.monotonic() - t0
        during = call_event(client, server.compare_index, compare_data("Guten Morgen!"), "burst-probe", timeout=120)
    for t in threads:
        t.join()
    burst_end = time.monotonic()
    with httpx.Client(base_url=server.url, timeout=120) as client:
        after = call_event(client, server.compare_index, compare_data("Es sieht nach Regen aus."), "after", timeout=120)
    if browser:
        browser.join(60)
    kinds: dict[str, int] = {}
    for r in results:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    served = [r.seconds for r in results if r.kind == "ok"]
    refused = [r.seconds for r in results if r.kind == "busy"]
    return {"outcomes": kinds, "served_p50": percentile(served, 0.5), "served_max": max(served, default=float("nan")),
            "refused_max": max(refused, default=float("nan")), "slowest": max(r.seconds for r in results),
            "during": f"{during.kind} in {during.seconds:.2f} s", "config_during_s": config_s,
            "after": f"{after.kind} in {after.seconds:.2f} s ({burst_end - burst_started:.1f} s after the burst began)",
            "page_message": busy_text[0]}


def run(args) -> None:
    from .client import sentences

    server = Server(root=args.root)
    try:
        r = burst(server, 100, sentences(args.data), with_browser=True)
        print("burst of 100 compare requests:", json.dumps(r, default=str), load_average(), flush=True)
    finally:
        server.stop()
