"""Every reliability scenario against ``python app.py`` started on 127.0.0.1, each with a fresh
server, bounded in count and time, printing its figures (docs/reliability.md):

    python -m benchmarks.reliability                           # fuzz, flood, sessions, heavy
    python -m benchmarks.reliability --only fuzz,flood --quick
    python -m benchmarks.reliability --root /tmp/before        # the same against another checkout's app.py
    python -m benchmarks.reliability --only xss,huge,load,burst,soak,persession,threads

Scenarios: fuzz, flood, sessions, heavy (issue 29's), and xss, huge, load, burst, soak,
persession, threads (the earlier ones; each module's docstring says what it measures).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):               # python benchmarks/reliability/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
    __package__ = "benchmarks.reliability"

from importlib import import_module  # noqa: E402

from .client import ROOT  # noqa: E402

SCENARIOS = {"fuzz": ("fuzz", "run"), "flood": ("flood", "run"), "sessions": ("sessions", "run"),
             "heavy": ("heavy", "run"), "xss": ("xss", "run"), "huge": ("huge", "run"), "load": ("load", "run"),
             "burst": ("burst", "run"), "soak": ("soak", "run"), "persession": ("soak", "run_per_session"),
             "threads": ("threads", "run")}
DEFAULT = "fuzz,flood,sessions,heavy"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=DEFAULT, help=f"comma-separated, of: {', '.join(SCENARIOS)}")
    ap.add_argument("--quick", action="store_true", help="fewer calls and shorter loops")
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose app.py is served")
    ap.add_argument("--before", action="store_true", help="soak, persession: the page as launched before serving.py")
    ap.add_argument("--fuzz-calls", type=int, default=1000)
    ap.add_argument("--handlers", action="store_true", help="fuzz: also as many in-process handler calls")
    ap.add_argument("--flood-sessions", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=60.0, help="flood: how long the second client compares")
    ap.add_argument("--sessions-n", type=int, default=1000)
    ap.add_argument("--ttl", type=float, default=60.0, help="sessions: the server's session time-to-live")
    ap.add_argument("--soak", default="new,one")
    ap.add_argument("--data", type=Path, default=ROOT / "data", help="folder with test.tsv (sentences)")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    print(f"serving {args.root / 'app.py'}; {os.cpu_count()} CPUs; load average "
          + ", ".join(f"{x:.1f}" for x in os.getloadavg()), flush=True)
    for name in names:
        module, fn = SCENARIOS[name]
        t0 = time.monotonic()
        getattr(import_module(f".{module}", __package__), fn)(args)
        print(f"({name}: {time.monotonic() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
