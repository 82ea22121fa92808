"""heavy: the Question tab's attribution (gradient × input, five variants) on a paragraph and its
translation, with the server's RSS sampled at 20 Hz, while a second client sends short /translate
calls one after another: the attribution's time and peak above idle, and the second client's p95."""
from __future__ import annotations

import json
import threading
import time

import httpx

from .client import MemorySampler, Server, call_api, call_event, load_average, percentile

SOURCE = ("Wir wollten gerade ins Ausland fahren, als unser Sohn krank wurde. Der See bildet eine natürliche Grenze "
          "zwischen den Ländern. Sie drehte das Licht auf und musterte ihre Umgebung. Ich habe vor kurzem im "
          "Fernsehen eine Dokumentation über die Weltraumstation gesehen. Der Zug kommt um acht Uhr in Berlin an.")
TARGET = ("We were just about to go abroad when our son was taken ill. The lake forms a natural boundary between the "
          "countries. She switched on the light and examined her surroundings. I recently saw a documentary on TV "
          "about the space station. The train arrives in Berlin at eight o'clock.")
VARIANTS = ["none", "dot", "general", "additive", "multihead"]


def heavy(server: Server) -> dict:
    session = "heavy-1"
    with httpx.Client(base_url=server.url, timeout=900) as client:
        scored = call_event(client, server.index("on_score"), [SOURCE, TARGET, VARIANTS, "de-en", 1], session,
                            timeout=900)
        if scored.kind != "ok":
            return {"error": f"scoring: {scored.kind} {scored.detail}"}
        time.sleep(2)
        idle = server.rss_at_rest()
        stop, latencies = threading.Event(), []

        def light() -> None:
            body = json.dumps({"data": ["Es sieht nach Regen aus.", "dot", "greedy", 5, 1.0, 0]}).encode()
            with httpx.Client(base_url=server.url, timeout=60) as other:
                while not stop.is_set():
                    out = call_api(other, body, timeout=60)
                    latencies.append(out.seconds if out.kind == "ok" else float("inf"))

        other = threading.Thread(target=light, daemon=True)
        with MemorySampler(server, 0.05) as memory:
            other.start()
            t0 = time.monotonic()
            out = call_event(client, server.index("on_attribution"), [None], session, timeout=900)
            seconds = time.monotonic() - t0
        stop.set()
        other.join(60)
    return {"kind": out.kind, "seconds": seconds, "peak_above_idle": memory.peak - idle, "samples": len(memory.samples),
            "translate_calls": len(latencies), "translate_p95": percentile(latencies, 0.95)}


def run(args) -> None:
    server = Server(root=args.root)
    try:
        r = heavy(server)
        if "error" in r:
            print("heavy:", r["error"])
            return
        print(f"heavy, attribution of five variants on a {len(SOURCE)}-character paragraph: {r['kind']} in "
              f"{r['seconds']:.1f} s, peak {r['peak_above_idle']:.0f} MB above idle ({r['samples']} samples at 20 Hz); "
              f"meanwhile {r['translate_calls']} /translate calls, p95 {r['translate_p95']:.2f} s; {load_average()}",
              flush=True)
    finally:
        server.stop()
