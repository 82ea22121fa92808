"""Every name of Gradio's that is not its public API, in one place, for the pinned version only.

The server (``demo/serving.py``) reads and patches a few of Gradio's internals: the queue's
waiting and running events, the per-session state holder, the input preprocessing step and
an API parameter's description. They can change in any release, so each is reached through a
function here, ``tests/test_gradio_private.py`` has one test per name, and ``supported()``
says whether the installed Gradio is the one pinned in the README's front matter
(``sdk_version``, the one source of that pin). On another version ``demo/serving.py`` leaves
Gradio's own behaviour in place and says so in one line at start-up.

The names, each with the function that uses it:

* ``Blocks.fns`` → ``{id: BlockFunction}``; ``BlockFunction.fn / inputs / name / api_name /
  concurrency_id / concurrency_limit / queue / _id``: ``block_functions``
* ``Blocks._queue`` and on it ``max_size``, ``ANALYTICS_MAX_EVENTS``, ``active_jobs``,
  ``event_queue_per_concurrency_id[...].queue``, ``pending_event_ids_session``,
  ``pending_messages_per_session``, ``process_time_per_fn``; ``Event.fn / session_hash /
  request / data``: ``queue_of``, ``queued_events``, ``mean_seconds``, ``drop_queue_records``,
  ``busy_sessions``
* ``App.state_holder``, ``gradio.state_holder.StateHolder`` and ``SessionState`` (subclassed,
  with their attributes ``session_data``, ``time_last_used``, ``lock``, ``capacity``,
  ``blocks_config``, ``config_values``, ``state_data``, ``_state_ttl``, ``is_closed``,
  ``STATE_TTL_WHEN_CLOSED``, ``Blocks.default_config``, ``BlocksConfig.blocks``):
  ``state_holder_classes``, ``session_store_class``, ``SESSION_STATE_ATTRIBUTES``
* ``Blocks.preprocess_data`` and ``Blocks.call_function`` (wrapped on the instance):
  ``wrap_preprocess``, ``wrap_call``
* ``Component._api_info`` and ``gradio.utils.get_function_description``: ``describe_parameter``,
  ``docstring_args``
* ``gradio.component_meta.create_or_modify_pyi`` (swapped for a no-op as gradio is first
  imported): ``skip_stub_generation``
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.metadata
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
SESSION_STATE_ATTRIBUTES = {"blocks_config", "config_values", "state_data", "_state_ttl", "is_closed",
                            "STATE_TTL_WHEN_CLOSED"}


def pinned_version(readme: Path = README) -> str | None:
    """``sdk_version`` from the README's front matter (what a Space installs)."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^sdk_version:\s*([\w.]+)\s*$", text.split("\n---", 1)[0], re.M)
    return match.group(1) if match else None


def installed_version() -> str | None:
    """The installed gradio's version, read from its metadata without importing it."""
    try:
        return importlib.metadata.version("gradio")
    except importlib.metadata.PackageNotFoundError:
        return None


def supported() -> bool:
    import gradio

    return gradio.__version__ == pinned_version()


def version_line() -> str:
    import gradio

    return (f"serving: Gradio {gradio.__version__} is not the pinned {pinned_version()}: the queue's admission "
            "caps, the lean session store and the field messages are off; Gradio's defaults apply.")


# ---- importing gradio ----------------------------------------------------------------------------

_STUB_MODULE = "gradio.component_meta"
_STUB_FUNCTION = "create_or_modify_pyi"


def _no_stub(*args, **kwargs) -> None:
    return None


class _StublessLoader(importlib.abc.Loader):
    """Runs the module as its own loader would, then swaps the stub writer for a no-op."""

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def __getattr__(self, name):          # get_source etc., for tracebacks
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        if callable(getattr(module, _STUB_FUNCTION, None)):
            setattr(module, _STUB_FUNCTION, _no_stub)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != _STUB_MODULE:
            return None
        sys.meta_path.remove(self)          # once is enough; also keeps the lookup below off this finder
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _StublessLoader(spec.loader)
        return spec


def skip_stub_generation() -> None:
    """Import gradio without regenerating its type stubs: on every import, gradio's ``ComponentMeta``
    rewrites the ``.pyi`` stub of each component class it defines (``create_or_modify_pyi`` in
    ``gradio/component_meta.py``), re-reading and parsing each component's source: about half of
    ``import gradio`` (docs/benchmarks.md), for editors only, and it would write ``demo/ui.pyi``
    too. Must run before gradio is first imported; after that, on a gradio without that function,
    or on a version other than the pinned one (read without importing gradio), it changes nothing."""
    if installed_version() != pinned_version():
        return
    if _STUB_MODULE in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())


# ---- the page's events ----------------------------------------------------------------------------

def block_functions(blocks) -> list:
    return list(getattr(blocks, "fns", {}).values()) if blocks is not None else []


# ---- the queue -------------------------------------------------------------------------------------

def queue_of(blocks):
    return getattr(blocks, "_queue", None)


def queued_events(queue) -> list:
    """Every event the queue holds, waiting or running (``Event`` objects)."""
    if queue is None:
        return []
    running = [event for job in list(getattr(queue, "active_jobs", None) or []) if job for event in job]
    waiting = [event for q in list(queue.event_queue_per_concurrency_id.values()) for event in list(q.queue)]
    return running + waiting


def event_parts(event) -> tuple[object, str, object, list | None]:
    """(BlockFunction, session hash, fastapi Request, the values sent) of a queued event."""
    data = getattr(getattr(event, "data", None), "data", None)
    return event.fn, event.session_hash, event.request, data if isinstance(data, list) else None


def mean_seconds(queue, fns) -> float | None:
    """The mean run time the queue has recorded for these BlockFunctions, or None."""
    times = getattr(queue, "process_time_per_fn", {}) if queue is not None else {}
    seen = [times[fn] for fn in fns if fn in times and times[fn].count]
    if not seen:
        return None
    return sum(t.process_time for t in seen) / sum(t.count for t in seen)


def busy_sessions(queue) -> set[str]:
    """The sessions with an event waiting or running."""
    if queue is None:
        return set()
    return {sid for sid, ids in list(queue.pending_event_ids_session.items()) if ids}


def set_analytics_limit(queue, n: int) -> None:
    queue.ANALYTICS_MAX_EVENTS = n


def drop_queue_records(queue, sessions: set[str] | None = None) -> int:
    """Drop the queue's empty per-session sets of pending event ids (Gradio leaves one behind for
    every session whose stream closed), and for ``sessions`` (ones swept from the state holder)
    with nothing pending, their message queues too; returns how many sets went."""
    empty = [sid for sid, ids in list(queue.pending_event_ids_session.items()) if not ids]
    for sid in empty:
        queue.pending_event_ids_session.pop(sid, None)
    for sid in sessions or ():
        messages = queue.pending_messages_per_session.get(sid) if sid in queue.pending_messages_per_session else None
        if messages is not None and messages.empty() and not queue.pending_event_ids_session.get(sid):
            queue.pending_messages_per_session.pop(sid, None)
    return len(empty)


# ---- sessions ----------------------------------------------------------------------------------------

def state_holder_classes():
    from gradio.state_holder import SessionState, StateHolder

    return SessionState, StateHolder


def session_store_class(evict_lookahead: int):
    """Gradio's StateHolder whose sessions keep no config copy (``LeanSessionState``) and which,
    when full, drops the oldest session without a result among the ``evict_lookahead`` oldest
    (``demo/serving.py``'s module docstring says why)."""
    import copy
    import datetime
    import itertools

    SessionState, StateHolder = state_holder_classes()

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
                    oldest = list(itertools.islice(self.session_data.items(), evict_lookahead))
                    victim = next((sid for sid, s in oldest if not s.state_data and sid != session_id),
                                  oldest[0][0])
                    self.session_data.pop(victim, None)
                    self.time_last_used.pop(victim, None)

    return SessionStore


def state_holder(app):
    return app.state_holder


def set_state_holder(app, holder) -> None:
    app.state_holder = holder


# ---- preprocessing -----------------------------------------------------------------------------------

def wrap_preprocess(blocks, on_error) -> None:
    """Run ``on_error(block_fn, inputs, state, exc)`` (it raises the app's message) when Gradio's
    preprocessing of an event's values fails; the app's handlers are not touched."""
    original = blocks.preprocess_data
    if getattr(original, "wrapped_by_app", False):
        return

    async def preprocess_data(block_fn, inputs, state, explicit_call=False):
        try:
            return await original(block_fn, inputs, state, explicit_call)
        except Exception as exc:  # noqa: BLE001 - every failure gets a line naming its field
            on_error(block_fn, inputs, state, exc)
            raise

    preprocess_data.wrapped_by_app = True
    blocks.preprocess_data = preprocess_data


def wrap_call(blocks, on_error, on_refusal=None) -> None:
    """Run ``on_error(block_fn, processed_values, exc)`` (it raises the app's message) when an
    event's handler fails with anything but ``gr.Error``: Gradio would answer ``{"error": null}``
    and log a traceback. ``on_refusal(block_fn, exc)`` sees each ``gr.Error`` the handler raised."""
    from gradio.exceptions import Error

    original = blocks.call_function
    if getattr(original, "wrapped_by_app", False):
        return

    async def call_function(block_fn, *args, **kwargs):
        try:
            return await original(block_fn, *args, **kwargs)
        except Error as exc:
            if on_refusal is not None:
                on_refusal(block_fn if not isinstance(block_fn, int) else blocks.fns[block_fn], exc)
            raise
        except (StopAsyncIteration, StopIteration):
            raise
        except Exception as exc:  # noqa: BLE001 - one line for every failure, never a traceback
            fn = block_fn if not isinstance(block_fn, int) else blocks.fns[block_fn]
            on_error(fn, args[0] if args else kwargs.get("processed_input"), exc)
            raise

    call_function.wrapped_by_app = True
    blocks.call_function = call_function


def session_block(state, block):
    """The session's copy of a component (its choices as the session's events updated them)."""
    try:
        return state[block._id] if state is not None and block._id in state else block
    except (KeyError, TypeError):
        return block


def check_one_value(block, value, preprocess: bool) -> None:
    """What Gradio's preprocessing does with one value (validation, then ``preprocess``): raises as it does."""
    if getattr(block, "data_model", None) is not None and value is not None:
        value = block.data_model.model_validate(value, context={"validate_meta": True})
    if preprocess:
        block.preprocess(value)


# ---- API documentation -------------------------------------------------------------------------------

def docstring_args(fn) -> dict[str, str]:
    from gradio.utils import get_function_description

    return get_function_description(fn)[1]


def describe_parameter(component, name: str, description: str) -> None:
    component._api_info = {**component.api_info(), "additional_description": description}
    component.label = name
