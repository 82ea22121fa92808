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
  for its time-to-live (``session_ttl_s``: ``SESSION_TTL_S``, or ``SEQ2SEQ_SESSION_TTL_S``
  seconds where set), with the queue's message queue of that session (``sweep_sessions``).
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

Requests are checked before Gradio parses them (``RequestGuard``, one parse: ``read_event``):
a body over ``MAX_BODY_BYTES``, bytes that are not UTF-8, broken JSON, a body that is not an
object with a ``data`` list, the wrong number of values, a file reference, an event that runs
in the page only, or an event or endpoint that does not exist is refused at once with a 4xx
and a one-line message that never echoes the payload. The API's keyword form
(``/call/v2/translate``) is checked against the handler's parameters and goes on as the
positional form. Heavy events have caps of their own (``HEAVY``, ``Admission``): one over
its kind's cap, a second heavy job of one session, or (behind a Space's proxy) one over the
cap of its client address is refused at once with HTTP 429 and one line ("busy: ..."),
before it takes a place in the shared queue. Values that pass but that Gradio's own
preprocessing cannot read get one line naming the field (``refuse_unreadable_value``);
a handler that fails otherwise gets one line too (``refuse_failed_call``). Every refusal
writes one line to the log, never a traceback. Gradio's private names are reached through
``demo/gradio_private.py`` only, and only on the pinned Gradio.
"""
from __future__ import annotations

import asyncio
import ctypes
import datetime
import inspect
import json
import math
import os
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from . import gradio_private as gp

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
ADMITTED_PATHS = ("/gradio_api/queue/join", "/gradio_api/call/")   # the ways into the queue
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


def _fn_by_name(blocks, name: str):
    return next((fn for fn in gp.block_functions(blocks) if fn.api_name == name), None)


def _event_fn(blocks, path: str, body: dict):
    """The BlockFunction a request names (by fn_index or api_name), or None."""
    if path.startswith("/gradio_api/queue/join"):
        index = body.get("fn_index")
        if not isinstance(index, int) or isinstance(index, bool):
            return None
        return next((fn for fn in gp.block_functions(blocks) if fn._id == index), None)
    return _fn_by_name(blocks, path.rstrip("/").rsplit("/", 1)[-1])


def _parameters(fn) -> list[inspect.Parameter]:
    """The handler's parameters that the request fills (not Gradio's own, such as gr.Request)."""
    params = [p for p in inspect.signature(fn.fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return params[:len(fn.inputs)]


def _named_to_positional(body, fn, name: str) -> tuple[list | None, tuple[int, bytes] | None]:
    """The keyword form's values (``/call/v2/<name>``: one JSON object of parameter names) in
    the handler's order, its defaults filled in; or a refusal naming the parameter."""
    if not isinstance(body, dict):
        return None, _message(422, f'The keyword form of /{name} takes a JSON object of named values.')
    params = _parameters(fn)
    known = [p.name for p in params]
    unknown = [k for k in body if k not in known]
    if unknown:
        return None, _message(422, f"/{name} has no parameter {str(unknown[0])[:40]!r}; its parameters are "
                                   f"{', '.join(known)}.")
    missing = [p.name for p in params if p.name not in body and p.default is inspect.Parameter.empty]
    if missing:
        return None, _message(422, f"/{name} needs a value for {missing[0]!r}.")
    return [body[p.name] if p.name in body else p.default for p in params], None


@dataclass
class EventCall:
    """An event request as read once: the BlockFunction, its values, session, and the body to forward."""
    fn: object
    data: list
    session: str | None
    raw: bytes
    path: str


def read_event(raw: bytes, path: str, blocks=None) -> EventCall | tuple[int, bytes] | None:
    """One parse of an event request's body: a refusal (status, JSON message); None where it
    names no event of this page (Gradio answers that itself); else the ``EventCall``, its body
    rewritten where needed: the keyword form as the positional one (so both meet the same
    checks), and the trailing values an older client leaves out filled in for events that declare
    them (``BlockFunction.trailing_defaults``, set where the page is built)."""
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
    if _has_file(body):
        return _message(422, NO_FILES)
    if "/call/v2/" in path:
        name = path.rstrip("/").rsplit("/", 1)[-1]
        fn = _fn_by_name(blocks, name)
        if fn is None or fn.fn is None:
            return _message(404, f"This app has no API endpoint /{name[:40]}.")
        data, refusal = _named_to_positional(body, fn, name)
        if refusal is not None:
            return refusal
        body, path = {"data": data}, path.replace("/call/v2/", "/call/", 1)
        raw = b""                              # re-encoded below
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return _message(422, 'The request body must be a JSON object whose "data" is a list of values.')
    fn = _event_fn(blocks, path, body)
    if fn is None:
        if path.startswith(("/gradio_api/queue/join", "/gradio_api/call/")) and blocks is not None:
            return _message(404, "This app has no such event or API endpoint.")
        return None
    if fn.fn is None:
        return _message(422, "This event runs in the page only; the server has nothing to run for it.")
    data, tail = body["data"], getattr(fn, "trailing_defaults", None)
    if tail and len(fn.inputs) - len(tail) <= len(data) < len(fn.inputs):
        body["data"] = data = data + tail[len(data) - len(fn.inputs):]
        raw = b""
    if len(data) != len(fn.inputs):
        names = ""
        if fn.api_name and fn.api_visibility != "private":
            names = " (" + ", ".join(p.name for p in _parameters(fn)) + ")"
        return _message(422, f"This endpoint takes {len(fn.inputs)} values{names}; the request sent {len(data)}.")
    session = body.get("session_hash")
    return EventCall(fn, data, session if isinstance(session, str) else None,
                     raw or json.dumps(body).encode(), path)


def check_event_body(raw: bytes, path: str, blocks=None) -> tuple[int, bytes] | None:
    """None if an event request's body may go on to Gradio, else (status, JSON message)."""
    read = read_event(raw, path, blocks)
    return read if isinstance(read, tuple) else None


# ---- fair admission ----------------------------------------------------------------------------

@dataclass(frozen=True)
class HeavyKind:
    one: str            # "training"
    many: str           # "trainings"
    cap: int            # running and waiting together
    typical_s: float    # a first guess at its run time, until the queue has timed some


HEAVY = {               # by handler name: what the page calls them
    "on_train": HeavyKind("training", "trainings", 2, 35.0),
    "on_attribution": HeavyKind("attribution", "attributions", 2, 30.0),
    "on_tree": HeavyKind("beam tree", "beam trees", 3, 5.0),
    "on_score": HeavyKind("scoring", "scorings", 4, 3.0),
    "on_compare": HeavyKind("compare at the limit", "compares at the limit", 3, 10.0),
}
HEAVY_COMPARE_CHARS = 250    # a compare from this length, or a wide beam, is heavy
HEAVY_COMPARE_BEAM = 8
ADDRESS_CAP = 1              # per client address (behind a proxy), of each heavy kind


def _link_compare(query) -> list | None:
    """A permalink's compare (``on_link`` runs the query of the page's URL, which the page's
    queue call carries) as ``on_compare``'s first values, or None when it runs none."""
    query = query or {}
    if "text" not in query:
        return None
    try:
        beam = float(query.get("beam", 1))
    except (TypeError, ValueError):
        beam = None
    return [query.get("text"), None, query.get("method", "greedy"), beam]


def heavy_kind(fn, data: list | None, query=None) -> str | None:
    """The handler name of a heavy event (a key of ``HEAVY``), or None. A compare is heavy only
    at the limit: a long text, or beam search with a wide beam; a permalink that runs one
    (``on_link``, its values in ``query``, the queue call's URL query) counts as that compare."""
    name = getattr(fn, "name", None)
    if name == "on_link":
        name, data = "on_compare", _link_compare(query)
    elif name not in HEAVY:
        return None
    if name != "on_compare":
        return name
    if not data:
        return None
    text, method, beam = data[0], data[2] if len(data) > 2 else None, data[3] if len(data) > 3 else None
    long = isinstance(text, str) and len(text) >= HEAVY_COMPARE_CHARS
    wide = method == "beam" and isinstance(beam, (int, float)) and not beam < HEAVY_COMPARE_BEAM
    return name if long or wide else None


def space_behind_proxy() -> bool:
    """On a Hugging Face Space (its runtime sets ``SPACE_ID``) requests come through its proxy."""
    return bool(os.environ.get("SPACE_ID"))


def client_address(headers, fallback: str | None, behind_proxy: bool) -> str | None:
    """The client's address: behind a proxy the last hop of ``X-Forwarded-For`` (the one the
    proxy added, which a client cannot forge), else the peer's."""
    if behind_proxy:
        forwarded = headers.get("x-forwarded-for") if headers is not None else None
        if forwarded:
            return forwarded.split(",")[-1].strip() or fallback
    return fallback


class Admission:
    """Caps on the heavy events, counted from what the queue holds (waiting and running) plus
    requests admitted but not yet in it, so nothing is left to leak when a job ends or is
    cancelled. A refused request never joins the queue."""

    def __init__(self, per_address: bool):
        self.per_address = per_address
        self.enabled = gp.supported()
        self.joining: list[tuple[str, str | None, str | None]] = []    # (kind, session, address)

    def held(self, blocks) -> list[tuple[str, str | None, str | None]]:
        out = list(self.joining)
        for event in gp.queued_events(gp.queue_of(blocks)):
            fn, session, request, data = gp.event_parts(event)
            kind = heavy_kind(fn, data, getattr(request, "query_params", None))
            if kind is not None:
                peer = request.client.host if getattr(request, "client", None) else None
                out.append((kind, session, client_address(getattr(request, "headers", None), peer,
                                                          self.per_address)))
        return out

    def refusal(self, blocks, kind: str, session: str | None, address: str | None) -> str | None:
        held = self.held(blocks)
        if session is not None and any(s == session for _, s, _ in held):
            return ("busy: this page already has a heavy job running (only one at a time); "
                    "wait for it to finish or stop it.")
        spec = HEAVY[kind]
        same = [h for h in held if h[0] == kind]
        mine = [h for h in same if h[2] == address] if self.per_address and address else []
        if len(same) < spec.cap and len(mine) < ADDRESS_CAP:
            return None
        fns = [fn for fn in gp.block_functions(blocks) if fn.name == kind]
        wait = gp.mean_seconds(gp.queue_of(blocks), fns) or spec.typical_s
        n = len(mine) if len(same) < spec.cap else len(same)
        whose = " from your address" if len(same) < spec.cap else ""
        verb = "is" if n == 1 else "are"
        return (f"busy: {n} {spec.one if n == 1 else spec.many} {verb} running{whose}; "
                f"try again in about {max(1, math.ceil(wait))} s.")


class RequestGuard:
    """ASGI middleware in front of Gradio's routes (see the module docstring). ``per_address``:
    the heavy events' caps also per client address (``None``: on when on a Space)."""

    def __init__(self, app, per_address: bool | None = None):
        self.app = app
        self.admission = Admission(space_behind_proxy() if per_address is None else per_address)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if path.startswith(REFUSED_PATHS):
            return await self._refuse(send, path, *_message(404, "This app has no deep links."))
        if scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        if path.startswith(UPLOAD_PATHS):
            return await self._refuse(send, path, *_message(403, NO_FILES))
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return await self._refuse(send, path, *self._too_large(length))
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return await self._refuse(send, path, *self._too_large(b"more than %d" % MAX_BODY_BYTES))
            chunks.append(chunk)
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        held = None
        if path.startswith(EVENT_PATHS):
            blocks = getattr(scope.get("app"), "blocks", None)
            call = read_event(raw, path, blocks)
            if isinstance(call, tuple):
                return await self._refuse(send, path, *call)
            if call is not None:
                if call.raw != raw or call.path != path:       # rewritten: its length and path with it
                    raw = call.raw
                    headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-length"]
                    scope = {**scope, "path": call.path, "raw_path": call.path.encode(),
                             "headers": headers + [(b"content-length", b"%d" % len(raw))]}
                query = dict(parse_qsl((scope.get("query_string") or b"").decode("latin-1")))
                kind = heavy_kind(call.fn, call.data, query) if path.startswith(ADMITTED_PATHS) else None
                if kind is not None and self.admission.enabled:
                    peer = (scope.get("client") or (None,))[0]
                    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
                    address = client_address(headers, peer, self.admission.per_address)
                    busy = self.admission.refusal(blocks, kind, call.session, address)
                    if busy is not None:
                        return await self._refuse(send, path, *_message(429, busy))
                    held = (kind, call.session, address)
                    self.admission.joining.append(held)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        try:
            return await self.app(scope, replay, send)
        finally:                        # joined (now counted in the queue) or refused by Gradio
            if held is not None:
                self.admission.joining.remove(held)

    async def _refuse(self, send, path: str, status: int, body: bytes) -> None:
        """One line in the log per refusal, then the answer."""
        print(f"serving: refused {path[:60]} ({status}): {json.loads(body)['detail'][:160]}", flush=True)
        await self._reply(send, status, body)

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


# ---- values Gradio cannot read -----------------------------------------------------------------

def _kind_of(value) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else "an object"


def _choices(block) -> list:
    return [c[1] if isinstance(c, (tuple, list)) and len(c) == 2 else c for c in getattr(block, "choices", None) or []]


def field_name(block_fn, index: int, block) -> str:
    """How a message names an event's input: its label on the page, else the handler's parameter."""
    label = getattr(block, "label", None)
    if isinstance(label, str) and label.strip():
        return label.strip()
    try:
        return _parameters(block_fn)[index].name
    except (IndexError, TypeError, ValueError):
        return f"value {index + 1}"


def field_message(block_fn, index: int, block, value) -> str:
    """One line for a value of the wrong type or out of range, naming the field (never the value)."""
    from gradio import components as c

    name, got = field_name(block_fn, index, block), _kind_of(value)
    choices = _choices(block)
    if isinstance(block, (c.Radio, c.CheckboxGroup, c.Dropdown)):
        shown = ", ".join(map(str, choices[:8])) + (", ..." if len(choices) > 8 else "")
        allowed = f"choose from {shown}" if choices else "there is nothing to choose yet"
        return f"{name}: {allowed} (got {got})."
    if isinstance(block, (c.Slider, c.Number)):
        lo, hi = getattr(block, "minimum", None), getattr(block, "maximum", None)
        span = f" from {lo:g} to {hi:g}" if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) else ""
        return f"{name}: must be a finite number{span} (got {got})."
    if isinstance(block, c.Checkbox):
        return f"{name}: must be true or false (got {got})."
    if isinstance(block, c.Textbox):
        return f"{name}: must be text (got {got})."
    if isinstance(block, c.Dataset):
        return f"{name}: no such example (got {got})."
    return f"{name}: this value cannot be read (got {got})."


def refuse_unreadable_value(block_fn, inputs: list, state, exc: Exception) -> None:
    """The one place where Gradio's preprocessing errors become the app's: ``gr.Error`` with one
    line naming the first field that fails, and one line in the log, never a traceback."""
    from gradio import Error

    message = None
    for i, block in enumerate(block_fn.inputs):
        if getattr(block, "stateful", False) or i >= len(inputs):
            continue
        block = gp.session_block(state, block)
        try:
            gp.check_one_value(block, inputs[i], block_fn.preprocess)
        except Exception:  # noqa: BLE001 - the one that fails is the one to name
            message = field_message(block_fn, i, block, inputs[i])
            break
    if message is None:
        message = f"This request's values cannot be read ({type(exc).__name__})."
    print(f"serving: refused {getattr(block_fn, 'name', '?')}: {message}", flush=True)
    raise Error(message, print_exception=False) from None


def log_refusal(block_fn, exc) -> None:
    """One line in the log for a handler's own refusal (``gr.Error``, raised without a traceback)."""
    message = " ".join(str(getattr(exc, "message", exc)).split())
    print(f"serving: refused {getattr(block_fn, 'name', '?')}: {message[:160]}", flush=True)


def refuse_failed_call(block_fn, values, exc: Exception) -> None:
    """A handler that failed with anything but the app's own refusal: one line for the client,
    naming an example index out of range where that was the cause, and one in the log (the
    exception's type and where, never its text, which may hold the input)."""
    from gradio import Error
    from gradio.components import Dataset

    where = getattr(block_fn, "name", "?")
    message = f"This request could not be handled: its values do not fit this event ({where})."
    for i, (block, value) in enumerate(zip(getattr(block_fn, "inputs", []), values or [])):
        samples = getattr(block, "samples", None) or []
        if isinstance(block, Dataset) and not (isinstance(value, int) and 0 <= value < len(samples)):
            message = field_message(block_fn, i, block, value)
            break
    print(f"serving: failed {where}: {type(exc).__name__}; answered: {message}", flush=True)
    raise Error(message, print_exception=False) from None


# ---- what sessions and freed memory may hold ----------------------------------------------------

def session_store_class():
    """Gradio's StateHolder with a different eviction and lean sessions (``demo/gradio_private.py``,
    which holds the names it overrides): see the module docstring."""
    return gp.session_store_class(EVICT_LOOKAHEAD)


def install_session_store(app) -> None:
    """Replace the app's (still empty) state holder by a ``SessionStore`` of the same capacity."""
    old = gp.state_holder(app)
    if type(old).__name__ == "SessionStore":
        return
    store = session_store_class()()
    store.set_blocks(app.get_blocks())
    with old.lock:
        store.session_data.update(old.session_data)
        store.time_last_used.update(old.time_last_used)
        gp.set_state_holder(app, store)


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

def sweep_queue_records(queue, sessions: set[str] | None = None) -> int:
    """Drop the queue's empty per-session sets of pending event ids (Gradio leaves one behind
    for every session whose stream closed normally), and the idle message queues of ``sessions``;
    returns how many sets. Runs on the event loop, as the queue does, so it cannot fall between
    the queue creating a set and filling it."""
    return gp.drop_queue_records(queue, sessions)


def session_ttl_s() -> float:
    """How long an idle session keeps its state: ``SEQ2SEQ_SESSION_TTL_S`` seconds where set
    (a test or a benchmark sets it short), else ``SESSION_TTL_S``."""
    raw = os.environ.get("SEQ2SEQ_SESSION_TTL_S", "")
    try:
        value = float(raw) if raw else SESSION_TTL_S
    except ValueError:
        value = SESSION_TTL_S
    return value if math.isfinite(value) and value > 0 else SESSION_TTL_S


def sweep_every_s(ttl_s: float) -> float:
    """Sweep often enough that a session goes within half a time-to-live after it expired."""
    return max(0.5, min(SWEEP_EVERY_S, ttl_s / 2))


def sweep_sessions(state_holder, ttl_s: float = SESSION_TTL_S, now: float | None = None,
                   busy: set[str] | frozenset = frozenset()) -> set[str]:
    """Drop every session idle for ``ttl_s`` from Gradio's state holder, except the ``busy`` ones
    (an event of theirs is waiting or running); returns their hashes."""
    now_dt = datetime.datetime.fromtimestamp(now) if now is not None else datetime.datetime.now()
    with state_holder.lock:
        stale = {sid for sid, used in list(state_holder.time_last_used.items())
                 if (now_dt - used).total_seconds() > ttl_s and sid not in busy}
        for sid in stale:
            state_holder.session_data.pop(sid, None)
            state_holder.time_last_used.pop(sid, None)
    return stale


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
    if gp.supported():
        install_session_store(app)
    ttl_s = session_ttl_s()

    async def sweep():
        last_files = 0.0
        while True:
            await asyncio.sleep(sweep_every_s(ttl_s))
            try:
                queue = gp.queue_of(app.get_blocks())
                swept = sweep_sessions(gp.state_holder(app), ttl_s, busy=gp.busy_sessions(queue))
                if queue is not None:
                    sweep_queue_records(queue, swept)
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
    for fn in gp.block_functions(demo):
        if fn.fn is None:                                                  # runs in the browser only
            continue
        fn.queue = True
        if fn.concurrency_id == str(id(fn.fn)) and fn.name.isidentifier():  # named, not given its own queue
            fn.concurrency_id = f"handler:{fn.name}"
    demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=QUEUE_MAX_SIZE, api_open=False)
    if not gp.supported():
        print(gp.version_line(), flush=True)
        return demo
    gp.set_analytics_limit(gp.queue_of(demo), ANALYTICS_MAX_EVENTS)
    gp.wrap_preprocess(demo, refuse_unreadable_value)
    gp.wrap_call(demo, refuse_failed_call, log_refusal)
    return demo


def launch_kwargs(per_address: bool | None = None, **overrides) -> dict:
    """``demo.launch`` keyword arguments (a fresh dict each time: Gradio adds to ``app_kwargs``)."""
    from fastapi.exceptions import RequestValidationError
    from starlette.middleware import Middleware

    kwargs = dict(
        enable_monitoring=False,
        show_error=False,                 # messages of the app's own errors (gr.Error) still show
        max_file_size=MAX_FILE_SIZE,
        state_session_capacity=SESSION_CAPACITY,
        app_kwargs={"middleware": [Middleware(RequestGuard, per_address=per_address)],
                    "exception_handlers": {RequestValidationError: _validation_error},
                    "lifespan": _lifespan},
    )
    kwargs.update(overrides)
    return kwargs
