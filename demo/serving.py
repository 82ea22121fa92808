"""How the page is served: every server setting in one place, so the limits on what
a client can make the server do or hold are read here, not spread over the UI.

``app.py`` does ``serve(build_demo()).launch(**launch_kwargs())``; tests and the
benchmark start the app the same way.

What each session leaves behind in Gradio 6.31, and what bounds it here (the
figures are in the README, "Reliability"):

* ``app.state_holder``: one ``SessionState`` per session hash (every page visit and
  every API client), holding a copy of every component's config and last value,
  the component updates its events made, and the ``gr.State`` result. Gradio keeps
  up to 10,000 and frees the ``gr.State`` value when its time-to-live ends, but
  never the ``SessionState`` itself. Here sessions keep no config copy (only deep
  links read it, and they are refused: ``LeanSessionState``); at most
  ``SESSION_CAPACITY`` are kept (``SessionStore``: when full, the least recently
  used session without a result goes first, so a flood of API calls does not push
  out the results of people using the page); and a sweep drops every session idle
  for ``SESSION_TTL_S`` (``sweep_sessions``).
* freed memory: a large request (beam 10, fifty heatmaps) allocates far more than
  its session keeps, and glibc's allocator keeps what Python frees, so RSS grew
  with every such request. Large blocks are mapped and returned at once
  (``M_MMAP_THRESHOLD``), threads share ``MALLOC_ARENAS`` arenas, and free memory
  is handed back (``malloc_trim``) at each sweep and, within ``TRIM_CHECK_S``, as soon
  as RSS has grown by ``TRIM_GROWTH_MB`` since the last hand-back (``trim_when_grown``).
* the queue's per-event analytics records (10,000 by default): ``ANALYTICS_MAX_EVENTS``;
  its per-session sets of pending event ids, left behind empty: ``sweep_queue_records``.
* files: heatmap PNGs and exports copied into Gradio's cache, deleted after
  ``CACHE_MAX_AGE_S`` (``delete_cache``); the export folders (``demo/export.py``'s
  ``export_folder``, every tab's: ``export_roots``), swept on the same schedule after
  ``demo/export.py``'s ``EXPORT_MAX_AGE_S``.
* uploads: the page takes no files, so ``/gradio_api/upload`` is refused and
  ``max_file_size`` is 1 kB besides; ``/gradio_api/deep_link``, which writes a
  session's values to a file, is refused too.

Requests are checked before Gradio parses them (``RequestGuard``): a body over
``MAX_BODY_BYTES``, bytes that are not UTF-8, broken JSON, a body that is not an
object with a ``data`` list, the wrong number of values, or a file reference is
refused at once with a 4xx and a one-line message that never echoes the payload.
"""
from __future__ import annotations

import asyncio
import copy
import ctypes
import datetime
import itertools
import json
import os
import time
from contextlib import asynccontextmanager
from pathlib import Path

# ---- the queue (measured on 2 cores: see README, "Reliability") -----------------------------

DEFAULT_CONCURRENCY = 2      # events of one kind running at once (compare, the API, words, zip ...)
QUEUE_MAX_SIZE = 16          # events waiting, all kinds together; one more is refused as "busy"
ANALYTICS_MAX_EVENTS = 500   # per-event records the queue keeps (Gradio: 10,000)

# ---- what a session may leave behind ---------------------------------------------------------

SESSION_CAPACITY = 64        # sessions kept: results the slider, clicks and export still use (Gradio: 10,000)
SESSION_TTL_S = 3600         # a session idle this long is dropped, with its result (as long as the page keeps one)
SWEEP_EVERY_S = 30           # sessions, then free memory handed back
EVICT_LOOKAHEAD = 64         # when full, how many of the oldest sessions are searched for one without a result
MMAP_THRESHOLD = 256 * 1024  # allocations from this size get their own mapping, returned when freed
MALLOC_ARENAS = 2
TRIM_CHECK_S = 1.0           # how often RSS is read (a read costs microseconds, a hand-back milliseconds)
TRIM_GROWTH_MB = 16          # growth since the last hand-back that triggers one
CACHE_MAX_AGE_S = 3600       # files in Gradio's cache (a page may still link to them)
CACHE_SWEEP_EVERY_S = 600

# ---- what a request may carry ----------------------------------------------------------------

MAX_BODY_BYTES = 64 * 1024   # a 500-character text is at most 6 kB as JSON, even as \\u escapes
MAX_FILE_SIZE = "1kb"        # no component takes files; uploads are refused before this applies
EVENT_PATHS = ("/gradio_api/queue/join", "/gradio_api/call/", "/gradio_api/run/", "/gradio_api/api/")
UPLOAD_PATHS = ("/gradio_api/upload",)
REFUSED_PATHS = ("/gradio_api/deep_link",)   # writes a session's values to disk on request; the page has none
NO_FILES = "This app takes no files: uploads and file references are refused."


def _message(status: int, detail: str) -> tuple[int, bytes]:
    return status, json.dumps({"detail": detail, "error": detail}).encode()


def _has_file(value, depth: int = 0) -> bool:
    """Whether a decoded JSON value holds a Gradio file reference (FileData or an upload path)."""
    if depth > 64:
        return False
    if isinstance(value, dict):
        meta = value.get("meta")
        if (isinstance(meta, dict) and meta.get("_type") == "gradio.FileData") or "path" in value:
            return True
        return any(_has_file(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(_has_file(v, depth + 1) for v in value)
    return False


def _event_fn(blocks, path: str, body: dict):
    """The BlockFunction a request names (by fn_index or api_name), or None."""
    fns = getattr(blocks, "fns", {}) if blocks is not None else {}
    if path.startswith("/gradio_api/queue/join"):
        index = body.get("fn_index")
        return fns.get(index) if isinstance(index, int) and not isinstance(index, bool) else None
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return next((fn for fn in fns.values() if fn.api_name == name), None)


def with_trailing_defaults(raw: bytes, path: str, blocks=None) -> bytes:
    """The body with the trailing values an older client leaves out filled in, for events that
    declare them (``BlockFunction.trailing_defaults``, set where the page is built); else as sent."""
    if "/call/v2/" in path:                   # named values: Gradio fills defaults from the signature
        return raw
    try:
        body = json.loads(raw.decode("utf-8"))      # strict, as check_event_body reads it
    except (ValueError, RecursionError):
        return raw
    fn = _event_fn(blocks, path, body) if isinstance(body, dict) else None
    tail = getattr(fn, "trailing_defaults", None) if fn is not None else None
    data = body.get("data") if isinstance(body, dict) else None
    if not tail or not isinstance(data, list) or not len(fn.inputs) - len(tail) <= len(data) < len(fn.inputs):
        return raw
    body["data"] = data + tail[len(data) - len(fn.inputs):]
    return json.dumps(body).encode()


def check_event_body(raw: bytes, path: str, blocks=None) -> tuple[int, bytes] | None:
    """None if an event request's body may go on to Gradio, else (status, JSON message)."""
    try:
        text = raw.decode("utf-8")            # strict: lone surrogates as raw bytes are not UTF-8
    except UnicodeDecodeError:
        return _message(400, "The request body is not valid UTF-8.")
    try:
        body = json.loads(text)
    except RecursionError:
        return _message(400, "The request body is nested too deeply.")
    except ValueError as exc:                 # JSONDecodeError, or an integer of over 4,300 digits
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "a number is too long"
        return _message(400, f"The request body is not valid JSON ({reason}).")
    if "/call/v2/" in path:                   # named values, checked by Gradio against the signature
        return _message(422, NO_FILES) if _has_file(body) else None
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return _message(422, 'The request body must be a JSON object whose "data" is a list of values.')
    if _has_file(body["data"]):
        return _message(422, NO_FILES)
    fn = _event_fn(blocks, path, body)
    if fn is not None and len(body["data"]) != len(fn.inputs):
        names = ""
        if fn.api_name and getattr(fn, "fn", None) is not None and fn.api_visibility != "private":
            import inspect

            names = " (" + ", ".join(inspect.signature(fn.fn).parameters) + ")"
        return _message(422, f"This endpoint takes {len(fn.inputs)} values{names}; the request sent "
                             f"{len(body['data'])}.")
    return None


class RequestGuard:
    """ASGI middleware in front of Gradio's routes (see the module docstring)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if path.startswith(REFUSED_PATHS):
            return await self._reply(send, *_message(404, "This app has no deep links."))
        if scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        if path.startswith(UPLOAD_PATHS):
            return await self._reply(send, *_message(403, NO_FILES))
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return await self._reply(send, *self._too_large(length))
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return await self._reply(send, *self._too_large(b"more than %d" % MAX_BODY_BYTES))
            chunks.append(chunk)
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        if path.startswith(EVENT_PATHS):
            blocks = getattr(scope.get("app"), "blocks", None)
            filled = with_trailing_defaults(raw, path, blocks)
            if filled is not raw:           # the body grew: its length header with it
                raw = filled
                scope = {**scope, "headers": [(k, v) for k, v in scope.get("headers") or [] if k != b"content-length"]
                         + [(b"content-length", b"%d" % len(raw))]}
            refusal = check_event_body(raw, path, blocks)
            if refusal is not None:
                return await self._reply(send, *refusal)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    @staticmethod
    def _too_large(length: bytes) -> tuple[int, bytes]:
        from seq2seq.translator import MAX_CHARS

        shown = length.decode("latin-1")[:24]
        return _message(413, f"The request body is {shown} bytes; this app accepts at most {MAX_BODY_BYTES:,} "
                             f"(its text limit is {MAX_CHARS} characters).")

    @staticmethod
    async def _reply(send, status: int, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})


async def _validation_error(request, exc):
    """FastAPI's 422 for a body its models refuse, without echoing the input back (the default
    handler does, and fails with an HTTP 500 on a lone surrogate)."""
    from fastapi.responses import JSONResponse

    where = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', 'invalid')}"
                      for e in exc.errors()[:3])
    return JSONResponse({"detail": f"Malformed request: {where}"[:500]}, status_code=422)


# ---- what sessions and freed memory may hold ----------------------------------------------------

def session_store_class():
    """Gradio's StateHolder with a different eviction and lean sessions: see the module docstring."""
    from gradio.state_holder import SessionState, StateHolder

    class LeanSessionState(SessionState):
        """A SessionState without Gradio's per-session copy of every component's config and
        last value (``config_values``: about 0.2 MB a session up front, and each event's
        inputs and outputs serialised again). Gradio reads it only to write a deep link
        (``/gradio_api/deep_link``), which this app refuses (``RequestGuard``); the
        session's components, their updates and the ``gr.State`` values are kept as Gradio
        keeps them."""

        def __init__(self, blocks):
            self.blocks_config = copy.copy(blocks.default_config)
            self.config_values = {}
            self.state_data = {}
            self._state_ttl = {}
            self.is_closed = False
            self.STATE_TTL_WHEN_CLOSED = 3600

        def __setitem__(self, key: int, value):       # SessionState.__setitem__ less the config copy
            from gradio.components import State

            block = self.blocks_config.blocks.get(key)
            if isinstance(block, State):
                self._state_ttl[key] = (block.time_to_live, datetime.datetime.now())
                self.state_data[key] = value
            else:
                self.blocks_config.blocks[key] = value

        def _update_config(self, key: int):
            pass

        def _update_value_in_config(self, key: int, value):
            pass

    class SessionStore(StateHolder):
        def __getitem__(self, session_id: str):
            if session_id not in self.session_data:
                self.session_data[session_id] = LeanSessionState(self.blocks)
            return super().__getitem__(session_id)

        def update(self, session_id: str):
            with self.lock:
                if session_id in self.session_data:
                    self.session_data.move_to_end(session_id)
                while len(self.session_data) > self.capacity:
                    oldest = list(itertools.islice(self.session_data.items(), EVICT_LOOKAHEAD))
                    victim = next((sid for sid, s in oldest if not s.state_data and sid != session_id),
                                  oldest[0][0])
                    self.session_data.pop(victim, None)
                    self.time_last_used.pop(victim, None)

    return SessionStore


def install_session_store(app) -> None:
    """Replace the app's (still empty) state holder by a ``SessionStore`` of the same capacity."""
    old = app.state_holder
    if type(old).__name__ == "SessionStore":
        return
    store = session_store_class()()
    store.set_blocks(app.get_blocks())
    with old.lock:
        store.session_data.update(old.session_data)
        store.time_last_used.update(old.time_last_used)
        app.state_holder = store


def _libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:                                       # not glibc: nothing to tune
        return None


def configure_malloc() -> bool:
    """glibc settings for a long-running server (see the module docstring); False elsewhere."""
    libc = _libc()
    if libc is None:
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
    libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    libc.mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD)
    libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    return True


def release_free_memory() -> None:
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def rss_mb() -> float | None:
    """This process's resident memory (Linux); None where /proc is not there."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def trim_when_grown(baseline_mb: float | None) -> float | None:
    """Hand free memory back if RSS grew by ``TRIM_GROWTH_MB`` since ``baseline_mb`` (RSS after
    the last hand-back, or lower since); returns the new baseline. A large request frees most
    of what it allocated when it ends, but glibc would keep that until the next sweep."""
    now = rss_mb()
    if now is None or baseline_mb is None or now < baseline_mb:
        return now
    if now - baseline_mb < TRIM_GROWTH_MB:
        return baseline_mb
    release_free_memory()
    return rss_mb()


# ---- scheduled cleanup -----------------------------------------------------------------------

def sweep_queue_records(queue) -> int:
    """Drop the queue's empty per-session sets of pending event ids (Gradio leaves one behind
    for every session whose stream closed normally); returns how many. Runs on the event loop,
    as the queue does, so it cannot fall between the queue creating a set and filling it."""
    empty = [sid for sid, ids in list(queue.pending_event_ids_session.items()) if not ids]
    for sid in empty:
        queue.pending_event_ids_session.pop(sid, None)
    return len(empty)


def sweep_sessions(state_holder, ttl_s: float = SESSION_TTL_S, now: float | None = None) -> int:
    """Drop every session idle for ``ttl_s`` from Gradio's state holder; returns how many."""
    now_dt = datetime.datetime.fromtimestamp(now) if now is not None else datetime.datetime.now()
    with state_holder.lock:
        stale = [sid for sid, used in list(state_holder.time_last_used.items())
                 if (now_dt - used).total_seconds() > ttl_s]
        for sid in stale:
            state_holder.session_data.pop(sid, None)
            state_holder.time_last_used.pop(sid, None)
    return len(stale)


def sweep_export_folders(root: Path) -> int:
    """``demo/export.py``'s sweep, imported when it first runs (it imports matplotlib)."""
    from .export import sweep_folders

    return sweep_folders(root)


def export_roots() -> tuple[Path, ...]:
    """The folders the app writes exports into: every tab's, under ``demo/export.py``'s one root."""
    from . import export

    return (export.EXPORT_ROOT,)


@asynccontextmanager
async def _lifespan(app):
    install_session_store(app)

    async def sweep():
        last_files = 0.0
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            try:
                sweep_sessions(app.state_holder)
                queue = getattr(app.get_blocks(), "_queue", None)
                if queue is not None:
                    sweep_queue_records(queue)
                await asyncio.to_thread(release_free_memory)
                if time.monotonic() - last_files > CACHE_SWEEP_EVERY_S:
                    last_files = time.monotonic()
                    for root in export_roots():
                        await asyncio.to_thread(sweep_export_folders, root)
            except Exception as exc:  # a failed sweep must not end the sweeping
                print(f"serving: cleanup failed: {exc!r}")

    async def trim():
        baseline = None
        while True:
            await asyncio.sleep(TRIM_CHECK_S)
            try:
                baseline = await asyncio.to_thread(trim_when_grown, baseline)
            except Exception as exc:  # as above
                print(f"serving: trim failed: {exc!r}")

    tasks = [asyncio.create_task(sweep()), asyncio.create_task(trim())]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()


# ---- applying it ---------------------------------------------------------------------------

def serve(demo):
    """Set the queue, the cache schedule and the allocator for a built page; returns it for ``.launch``."""
    configure_malloc()
    demo.delete_cache = (CACHE_SWEEP_EVERY_S, CACHE_MAX_AGE_S)
    # Every event that runs Python goes through the queue: with ``api_open=False`` the queue
    # is the only way in, so none of them can be run off it (``/gradio_api/run/...``), and the
    # queue's size bounds them all. One handler wired to several triggers (a button, Enter, an
    # example) is one kind of work: its events share one concurrency limit, the lowest any of
    # them set. An event with its own queue (the toy tab's live training) keeps it.
    for fn in demo.fns.values():
        if fn.fn is None:                                                  # runs in the browser only
            continue
        fn.queue = True
        if fn.concurrency_id == str(id(fn.fn)) and fn.name.isidentifier():  # named, not given its own queue
            fn.concurrency_id = f"handler:{fn.name}"
    demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=QUEUE_MAX_SIZE, api_open=False)
    demo._queue.ANALYTICS_MAX_EVENTS = ANALYTICS_MAX_EVENTS
    return demo


def launch_kwargs(**overrides) -> dict:
    """``demo.launch`` keyword arguments (a fresh dict each time: Gradio adds to ``app_kwargs``)."""
    from fastapi.exceptions import RequestValidationError
    from starlette.middleware import Middleware

    kwargs = dict(
        enable_monitoring=False,
        show_error=False,                 # messages of the app's own errors (gr.Error) still show
        max_file_size=MAX_FILE_SIZE,
        state_session_capacity=SESSION_CAPACITY,
        app_kwargs={"middleware": [Middleware(RequestGuard)],
                    "exception_handlers": {RequestValidationError: _validation_error},
                    "lifespan": _lifespan},
    )
    kwargs.update(overrides)
    return kwargs
