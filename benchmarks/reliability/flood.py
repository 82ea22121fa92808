"""flood: one client keeps ``--sessions`` sessions (40: Gradio session hashes, as 40 browser tabs
would have) re-joining live toy trainings, while a second client sends a one-variant compare once
a second for ``--seconds`` (60): the share of those compares answered (within 30 s), their p50 and
p95, and how the trainings' joins were answered."""
from __future__ import annotations

import threading
import time

import httpx

from .client import Server, call_event, compare_data, load_average, percentile

ANSWER_S = 30.0


def trainer(server: Server, session: str, stop: threading.Event, tally: dict, lock: threading.Lock) -> None:
    index = server.index("on_train")
    with httpx.Client(base_url=server.url, timeout=120) as client:
        while not stop.is_set():
            out = call_event(client, index, ["copy", "additive", 0], session, timeout=120)
            with lock:
                tally[out.kind] = tally.get(out.kind, 0) + 1
            if out.kind != "ok":
                stop.wait(1.0)              # refused or busy: join again a second later


def flood(server: Server, sessions: int, seconds: float) -> dict:
    stop, lock, tally = threading.Event(), threading.Lock(), {}
    threads = [threading.Thread(target=trainer, args=(server, f"flood-{i}", stop, tally, lock), daemon=True)
               for i in range(sessions)]
    for t in threads:
        t.start()
    time.sleep(3)                           # the flood is on before the first compare
    answered, times, sent = [], [], []

    def compare(k: int) -> None:
        with httpx.Client(base_url=server.url, timeout=ANSWER_S) as client:
            out = call_event(client, server.compare_index, compare_data("Es sieht nach Regen aus.", variants=["dot"]),
                             f"visitor-{k}", timeout=ANSWER_S)
        with lock:
            times.append(out.seconds)
            if out.kind == "ok" and out.seconds <= ANSWER_S:
                answered.append(out.seconds)

    visitors = []
    started = time.monotonic()
    k = 0
    while time.monotonic() - started < seconds:
        t = threading.Thread(target=compare, args=(k,), daemon=True)
        t.start()
        visitors.append(t)
        sent.append(k)
        k += 1
        time.sleep(max(0.0, started + k - time.monotonic()))
    for t in visitors:
        t.join(ANSWER_S + 5)
    stop.set()
    return {"sent": len(sent), "answered": len(answered), "share": len(answered) / max(1, len(sent)),
            "p50": percentile(answered, 0.5), "p95": percentile(answered, 0.95), "trainings": dict(tally)}


def run(args) -> None:
    server = Server(root=args.root)
    try:
        r = flood(server, args.flood_sessions, args.seconds)
        print(f"flood, {args.flood_sessions} sessions re-joining trainings, one compare a second for "
              f"{args.seconds:.0f} s: {r['answered']} of {r['sent']} answered ({100 * r['share']:.0f} %), "
              f"p50 {r['p50']:.2f} s, p95 {r['p95']:.2f} s; the trainings' joins: {r['trainings']}; "
              f"{load_average()}", flush=True)
    finally:
        server.stop()
