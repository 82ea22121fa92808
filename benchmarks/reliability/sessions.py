"""sessions: ``--sessions-n`` (1,000) sessions that each score a sentence on the Question tab
(one variant) and leave, against a server whose session time-to-live is ``--ttl`` seconds
(``SEQ2SEQ_SESSION_TTL_S``): the server's RSS at rest before, after the sessions, and once the
time-to-live and a sweep have passed."""
from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from .client import Server, call_event, load_average, new_session

PAIRS = [("Es sieht nach Regen aus.", "It looks like rain."), ("Guten Morgen!", "Good morning!"),
         ("Der Zug kommt um acht Uhr an.", "The train arrives at eight o'clock."),
         ("Ich habe meinen Schlüssel vergessen.", "I forgot my key.")]


def leaving_sessions(server: Server, n: int, ttl_s: float, seed: int) -> dict:
    rng = random.Random(seed)
    index = server.index("on_score")

    def score(k: int) -> str:
        text, target = PAIRS[k % len(PAIRS)]
        with httpx.Client(base_url=server.url, timeout=120) as client:
            return call_event(client, index, [text, target, ["dot"], "de-en", 1], new_session(rng), timeout=120).kind

    for k in range(10):                     # warm-up: the first requests import and allocate for good
        score(k)
    time.sleep(2)
    start = server.rss_at_rest()
    kinds: dict[str, int] = {}
    t0 = time.monotonic()
    with ThreadPoolExecutor(2) as pool:     # two visitors at a time
        for kind in pool.map(score, range(n)):
            kinds[kind] = kinds.get(kind, 0) + 1
    seconds = time.monotonic() - t0
    after = server.rss_at_rest()
    time.sleep(ttl_s + min(30.0, ttl_s / 2) + 2)      # the time-to-live, then the next sweep
    expired = server.rss_at_rest()
    return {"n": n, "seconds": seconds, "start": start, "after": after, "expired": expired, "outcomes": kinds,
            "peak": server.rss_mb("VmHWM")}


def run(args) -> None:
    n = 200 if args.quick else args.sessions_n
    server = Server(root=args.root, env={"SEQ2SEQ_SESSION_TTL_S": str(args.ttl)})
    try:
        r = leaving_sessions(server, n, args.ttl, args.seed)
        print(f"sessions, {n} that each score a sentence and leave (in {r['seconds']:.0f} s; time-to-live "
              f"{args.ttl:g} s): RSS at rest {r['start']:.0f} MB before, {r['after']:.0f} MB after "
              f"({r['after'] - r['start']:+.0f} MB), {r['expired']:.0f} MB once expired "
              f"({r['expired'] - r['start']:+.0f} MB); outcomes {r['outcomes']}; {load_average()}", flush=True)
    finally:
        server.stop()
