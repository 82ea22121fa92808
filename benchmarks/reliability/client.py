"""The small client every reliability scenario shares: start ``python app.py`` (of this
checkout, or of another with ``root``) on 127.0.0.1, and speak Gradio's queue protocol over raw
HTTP: an event joins the queue, then its session's stream is read until it completes; the
public API in its positional (``/call/translate``) and keyword (``/call/v2/translate``) forms.
Every outcome is one of ok, refused (a 4xx or an error event with a message), busy, null (an
error event whose message is ``null``), server_error (HTTP 5xx or no message), hang, reset."""
from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

HANG_S = 5.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
BEFORE = ("import sys; sys.path.insert(0, '.'); from demo.ui import build_demo; "
          "build_demo().launch(enable_monitoring=False)")       # how app.py served the page before serving.py


def percentile(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def sentences(data: Path, n: int = 200, min_words: int = 4, max_words: int = 15, seed: int = 0) -> list[str]:
    from demo.state import load_examples

    out = [s for s, _ in load_examples()]
    test = data / "test.tsv"
    if test.exists():
        pool = [line.split("\t")[0] for line in test.read_text(encoding="utf-8").splitlines() if "\t" in line]
        pool = [s for s in pool if min_words <= len(s.split()) <= max_words and s not in out]
        random.Random(seed).shuffle(pool)
        out += pool
    return out[:n]


LONG = ("Ich wurde gestern Abend von einem großen schwarzen Hund gebissen, als ich mit meiner Schwester "
        "durch den Park nach Hause ging, und danach mussten wir sofort zum Arzt fahren.")



# ---- the server ------------------------------------------------------------------------------

class Server:
    """``python app.py`` of ``root`` (or, with ``before``, the page launched as it was before
    serving.py), with ``env`` added to its environment."""

    def __init__(self, before: bool = False, root: Path = ROOT, env: dict | None = None):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-reliability-")
        env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(self.port),
               "GRADIO_TEMP_DIR": self.tmp.name, "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
        cmd = [sys.executable, "-c", BEFORE] if before else [sys.executable, "app.py"]
        self.log = open(Path(self.tmp.name) / "server.log", "w+")
        self.proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server stopped: {self.log_text()[-2000:]}")
            try:
                self.config = httpx.get(self.url + "/config", timeout=5).json()
                break
            except (httpx.HTTPError, ValueError):
                time.sleep(0.5)
        else:
            raise RuntimeError("the server did not answer within 300 s")
        self.compare_index = self.index("on_compare")
        self.words_index = self.index("on_words")
        self.export_index = self.index("on_zip")

    def index(self, api_name: str) -> int:
        return next(d["id"] for d in self.config["dependencies"] if d.get("api_name") == api_name)

    def rss_mb(self, field: str = "VmRSS") -> float:
        """Resident memory now, or its peak so far with ``field="VmHWM"``."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def rss_at_rest(self) -> float:
        """RSS after a pause in which the server's trim loop can hand freed memory back."""
        from demo import serving

        time.sleep(serving.TRIM_CHECK_S + 1.0)
        return self.rss_mb()

    def reset_peak(self) -> None:
        """Start VmHWM again from the current RSS (Linux: clear_refs 5)."""
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass

    def log_text(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        self.tmp.cleanup()



    def tracebacks(self) -> int:
        return sum("Traceback" in line for line in self.log_text().splitlines())


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


class MemorySampler:
    """The server's RSS every ``every_s`` seconds in a thread: ``peak`` and ``samples``."""

    def __init__(self, server: Server, every_s: float = 0.05):
        self.server, self.every_s, self.samples = server, every_s, []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop_event.is_set():
            self.samples.append(self.server.rss_mb())
            time.sleep(self.every_s)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join()

    @property
    def peak(self) -> float:
        return max(self.samples, default=float("nan"))


@dataclass
class Outcome:
    kind: str            # ok | refused | busy | null | server_error | hang | reset
    seconds: float
    detail: str = ""


def _classify_http(status: int, text: str, seconds: float) -> Outcome:
    if status in (429, 503):
        return Outcome("busy", seconds, text[:200])
    try:
        detail = json.loads(text).get("detail")
    except (ValueError, AttributeError):
        detail = None
    if 400 <= status < 500 and isinstance(detail, str) and detail and "Traceback" not in text:
        return Outcome("refused", seconds, detail[:200])
    return Outcome("server_error", seconds, f"HTTP {status}: {text[:200]}")




def _classify_stream(stream: str, seconds: float) -> Outcome:
    if "event: complete" in stream:
        return Outcome("ok" if seconds <= HANG_S else "hang", seconds)
    if "event: error" in stream:
        data = stream.split("data:", 1)[-1].strip()
        try:
            message = json.loads(data).get("error") if data.startswith("{") else None
        except ValueError:
            message = None
        if data.startswith("{") and message is None:
            return Outcome("null", seconds, data[:200])
        if isinstance(message, str) and message and "Traceback" not in stream:
            return Outcome("refused" if seconds <= HANG_S else "hang", seconds, message[:200])
    return Outcome("server_error", seconds, stream[:200])


def call_api(client: httpx.Client, body: bytes, keyword: bool = False, timeout: float = 60) -> Outcome:
    """A raw call to /gradio_api/call/translate (or its keyword form, /call/v2/translate) and its stream."""
    path = "/gradio_api/call/v2/translate" if keyword else "/gradio_api/call/translate"
    started = time.monotonic()
    try:
        r = client.post(path, content=body, timeout=timeout, headers={"Content-Type": "application/json"})
        if r.status_code != 200:
            return _classify_http(r.status_code, r.text, time.monotonic() - started)
        stream = client.get(f"{path}/{r.json()['event_id']}", timeout=timeout).text
    except httpx.TimeoutException:
        return Outcome("hang", time.monotonic() - started)
    except httpx.TransportError as exc:
        return Outcome("reset", time.monotonic() - started, repr(exc))
    return _classify_stream(stream, time.monotonic() - started)


def call_translate(client: httpx.Client, body: bytes, session: str | None = None, timeout: float = 60) -> Outcome:
    return call_api(client, body, False, timeout)


def call_event(client: httpx.Client, fn_index: int, data: list, session: str, timeout: float = 60,
               raw: bytes | None = None, headers: dict | None = None) -> Outcome:
    """A page event: join the queue, then read the session's stream until the event completes."""
    started = time.monotonic()
    body = raw if raw is not None else json.dumps({"data": data, "fn_index": fn_index, "session_hash": session,
                                                   "event_data": None, "trigger_id": None},
                                                  allow_nan=True).encode("utf-8", "surrogatepass")
    try:
        r = client.post("/gradio_api/queue/join", content=body, timeout=timeout,
                        headers={"Content-Type": "application/json", **(headers or {})})
        if r.status_code != 200:
            return _classify_http(r.status_code, r.text, time.monotonic() - started)
        event_id = r.json()["event_id"]
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}, timeout=timeout) as s:
            for line in s.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "unexpected_error":
                    return Outcome("server_error", time.monotonic() - started, str(msg.get("message"))[:200])
                if msg.get("msg") == "process_completed" and msg.get("event_id") == event_id:
                    seconds = time.monotonic() - started
                    if msg.get("success"):
                        return Outcome("ok", seconds)
                    output = msg.get("output") or {}
                    error = output.get("error")
                    if "error" in output and error is None:
                        return Outcome("null", seconds, json.dumps(msg)[:200])
                    if isinstance(error, str) and error:
                        return Outcome("refused", seconds, error[:200])
                    return Outcome("server_error", seconds, json.dumps(msg)[:200])
    except httpx.TimeoutException:
        return Outcome("hang", time.monotonic() - started)
    except httpx.TransportError as exc:
        return Outcome("reset", time.monotonic() - started, repr(exc))
    return Outcome("server_error", time.monotonic() - started, "stream ended without the result")


def compare_data(text: str, method: str = "greedy", beam: int = 5, n_best: int = 1, words: bool = False,
                 variants=None) -> list:
    from seq2seq.attention import VARIANTS

    return [text, list(variants or VARIANTS), method, beam, n_best, 1.0, 0, words]


def new_session(rng: random.Random) -> str:
    return "bench-%016x" % rng.getrandbits(64)


