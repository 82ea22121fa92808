"""huge: a 1,000,000-character call through the API and the compare event: refused, and how fast."""
from __future__ import annotations

import json
import time

import httpx

from .client import Server, compare_data, load_average


def run(args) -> None:
    server = Server(root=args.root)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for label, path, body in [
                    ("API", "/gradio_api/call/translate",
                     json.dumps({"data": ["x" * 1_000_000, "dot", "greedy", 5, 1.0, 0]})),
                    ("compare event", "/gradio_api/queue/join",
                     json.dumps({"data": compare_data("x" * 1_000_000), "fn_index": server.compare_index,
                                 "session_hash": "huge"}))]:
                times = []
                for _ in range(5):
                    t0 = time.monotonic()
                    r = client.post(path, content=body.encode(), headers={"Content-Type": "application/json"})
                    times.append(time.monotonic() - t0)
                print(f"1,000,000 characters through the {label}: HTTP {r.status_code} "
                      f"({r.json()['detail'][:60]}…) in {min(times):.3f}–{max(times):.3f} s over 5 calls; "
                      f"{load_average()}", flush=True)
    finally:
        server.stop()
