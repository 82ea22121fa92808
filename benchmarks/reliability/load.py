"""load: 10 users in a closed loop on the compare event and on /translate: throughput,
p50/p95/p99, outcomes."""
from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from .client import (CHROMIUM, CHROMIUM_ARGS, HANG_S, LONG, Outcome, Server, call_event, call_translate,
                     compare_data, load_average, new_session, percentile)


def closed_loop(server: Server, what: str, users: int, seconds: float, texts: list[str]) -> dict:
    stop_at = time.monotonic() + seconds
    lat: list[float] = []
    kinds: dict[str, int] = {}
    lock = threading.Lock()

    def user(u: int):
        rng = random.Random(u)
        session = new_session(rng)
        with httpx.Client(base_url=server.url, timeout=120) as client:
            while time.monotonic() < stop_at:
                text = rng.choice(texts)
                if what == "compare":
                    out = call_event(client, server.compare_index, compare_data(text), session, timeout=120)
                else:
                    out = call_translate(client, json.dumps({"data": [text, "additive", "greedy", 5, 1.0, 0]}).encode(),
                                         timeout=120)
                    out.kind = "ok" if out.kind == "hang" else out.kind     # a slow answer under load is not a hang
                with lock:
                    kinds[out.kind] = kinds.get(out.kind, 0) + 1
                    if out.kind == "ok":
                        lat.append(out.seconds)

    started = time.monotonic()
    with ThreadPoolExecutor(users) as pool:
        list(pool.map(user, range(users)))
    wall = time.monotonic() - started
    return {"requests": sum(kinds.values()), "per_s": len(lat) / wall, "p50": percentile(lat, 0.5),
            "p95": percentile(lat, 0.95), "p99": percentile(lat, 0.99), "outcomes": kinds}


def run(args) -> None:
    from .client import sentences

    texts = sentences(args.data)
    server = Server(root=args.root)
    try:
        seconds = 20 if args.quick else 120
        for what in ("compare", "translate"):
            r = closed_loop(server, what, 10, seconds, texts)
            print(f"closed loop, 10 users × {seconds} s, {what}: {r['requests']} requests, {r['per_s']:.2f}/s, "
                  f"p50 {r['p50']:.2f} s, p95 {r['p95']:.2f} s, p99 {r['p99']:.2f} s, outcomes {r['outcomes']}; "
                  f"{load_average()}", flush=True)
    finally:
        server.stop()
