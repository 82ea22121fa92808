"""threads: 8 threads translating the same 50 sentences at once vs one after another (in-process)."""
from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from .client import (CHROMIUM, CHROMIUM_ARGS, HANG_S, LONG, Outcome, Server, call_event, call_translate,
                     compare_data, load_average, new_session, percentile)


def thread_safety(texts: list[str], threads: int = 8) -> dict:
    import numpy as np

    from demo import state
    from seq2seq.attention import VARIANTS

    tr, _, _ = state.load_translator()

    def run(text):
        r = state.translate(tr, text, list(VARIANTS))
        return [(v, h["text"], h["attention"]) for v, e in r["variants"].items() for h in e.get("hypotheses", [])]

    alone = [run(t) for t in texts]
    with ThreadPoolExecutor(threads) as pool:
        together = [f.result() for f in [pool.submit(run, t) for t in texts for _ in range(threads)]]
    differ = 0
    for k, out in enumerate(together):
        ref = alone[k // threads]
        same = all(a[0] == b[0] and a[1] == b[1] and ((a[2] is None and b[2] is None) or np.array_equal(a[2], b[2]))
                   for a, b in zip(ref, out)) and len(ref) == len(out)
        differ += not same
    return {"sentences": len(texts), "threads": threads, "runs": len(together), "differ": differ}


def run(args) -> None:
    from .client import sentences

    print("threads:", thread_safety(sentences(args.data)[:50]), load_average(), flush=True)
