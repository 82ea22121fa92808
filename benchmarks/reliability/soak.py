"""soak: mixed requests (long and short, beam 10, words, exports, refusals), each from a new
session and all in one session, with the server's RSS along the way; and the RSS added per new
session by kind of request (``persession``)."""
from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from .client import (CHROMIUM, CHROMIUM_ARGS, HANG_S, LONG, Outcome, Server, call_event, call_translate,
                     compare_data, load_average, new_session, percentile)


def soak_request(client: httpx.Client, server: Server, rng: random.Random, session: str, texts: list[str]) -> str:
    """One mixed request: API calls and compare events, short and long, beam 10 with n-best 10,
    words, an export, and refusals."""
    r = rng.random()
    text = rng.choice(texts)
    if r < 0.25:
        body = {"data": [text, rng.choice(["dot", "additive", "general", "multihead", "none"]), "greedy", 5, 1.0, 0]}
        return call_translate(client, json.dumps(body).encode()).kind
    if r < 0.32:
        return call_translate(client, json.dumps({"data": [LONG, "additive", "beam", 10, 1.0, 0]}).encode()).kind
    if r < 0.40:                                            # refusals, over the API and the page
        bad = rng.choice([{"data": ["x" * 600, "dot", "greedy", 5, 1.0, 0]},
                          {"data": ["Hallo", "dot", "beam", 11, 1.0, 0]}, {"data": ["", "dot", "greedy", 5, 1.0, 0]},
                          {"data": ["Hallo", "bogus", "greedy", 5, 1.0, 0]}, {"data": ["Hallo"]}])
        call_translate(client, json.dumps(bad).encode())
        return call_event(client, server.compare_index, compare_data("ä " * 200), session).kind
    if r < 0.45:
        out = call_event(client, server.compare_index, compare_data(LONG, "beam", 10, 10), session)
    elif r < 0.60:
        out = call_event(client, server.compare_index, compare_data(text, words=True), session)
    else:
        out = call_event(client, server.compare_index, compare_data(text), session)
    if out.kind == "ok":
        call_event(client, server.words_index, [None, r < 0.75], session)
        if r >= 0.9:
            call_event(client, server.export_index, [None, r >= 0.95], session)
    return out.kind


def soak(server: Server, n: int, warmup: int, every: int, one_session: bool, texts: list[str], seed: int) -> dict:
    """RSS at rest every ``every`` requests (after a pause long enough for the server to hand
    freed memory back: what the requests left behind), and the peak over the measured requests
    (what they used while they ran)."""
    rng = random.Random(seed)
    session = new_session(rng)
    samples, kinds = [], {}
    with httpx.Client(base_url=server.url, timeout=120) as client:
        for i in range(warmup):
            soak_request(client, server, rng, session if one_session else new_session(rng), texts)
        samples.append((0, server.rss_at_rest()))
        server.reset_peak()
        for i in range(1, n + 1):
            kind = soak_request(client, server, rng, session if one_session else new_session(rng), texts)
            kinds[kind] = kinds.get(kind, 0) + 1
            if i % every == 0:
                samples.append((i, server.rss_at_rest()))
    return {"rss": samples, "growth": samples[-1][1] - samples[0][1], "max": max(m for _, m in samples),
            "peak": server.rss_mb("VmHWM"), "outcomes": kinds}


def per_session(server: Server, n: int, n_beam: int) -> list[tuple[str, int, float, float]]:
    """RSS added per new session, by kind of request: (kind, sessions, RSS before, RSS after)."""
    rng = random.Random(0)
    out = []
    with httpx.Client(base_url=server.url, timeout=300) as client:
        for _ in range(10):
            call_event(client, server.compare_index, compare_data("Es sieht nach Regen aus."), new_session(rng))
        api = json.dumps({"data": ["Es sieht nach Regen aus.", "dot", "greedy", 5, 1.0, 0]}).encode()
        for kind, count, request in [
            ("/translate", n, lambda: call_translate(client, api, timeout=300)),
            ("compare, greedy", n, lambda: call_event(client, server.compare_index,
                                                      compare_data("Es sieht nach Regen aus."), new_session(rng))),
            ("compare, beam 10, n-best 10, 28 words", n_beam,
             lambda: call_event(client, server.compare_index, compare_data(LONG, "beam", 10, 10), new_session(rng),
                                timeout=300))]:
            before = server.rss_mb()
            for _ in range(count):
                request()
            time.sleep(serving_sweep_s() + 1)         # the sweep hands free memory back
            out.append((kind, count, before, server.rss_mb()))
    return out


def serving_sweep_s() -> float:
    from demo import serving

    return serving.SWEEP_EVERY_S



def print_sessions(label: str, rows) -> None:
    for kind, count, before, after in rows:
        print(f"{label}{kind}: {count} new sessions, RSS {before:.0f} → {after:.0f} MB, "
              f"{(after - before) / count * 1024:+.0f} kB a session", flush=True)


def run(args) -> None:
    from .client import sentences

    texts = sentences(args.data)
    server = Server(before=args.before, root=args.root)
    try:
        n, warmup, every = (300, 100, 75) if args.quick else (2000, 300, 500)
        for one in [p == "one" for p in args.soak.split(",")]:
            r = soak(server, n, warmup, every, one, texts, args.seed)
            label = "all in one session" if one else "each from a new session"
            print(f"soak, {n} mixed requests {label} after {warmup} warm-up: RSS "
                  + ", ".join(f"{i}: {m:.0f}" for i, m in r["rss"])
                  + f" MB; growth {r['growth']:+.1f} MB, max {r['max']:.0f} MB at rest; peak while "
                  f"the requests ran {r['peak']:.0f} MB; {r['outcomes']}; {load_average()}", flush=True)
    finally:
        server.stop()


def run_per_session(args) -> None:
    server = Server(before=args.before, root=args.root)
    try:
        print_sessions("", per_session(server, *((50, 10) if args.quick else (100, 20))))
    finally:
        server.stop()
