"""One test per private Gradio name that demo/gradio_private.py reads or patches: on the pinned
version each is there with the shape the app relies on, so an upgrade that moves one fails here
first, by name."""
from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
from pathlib import Path

import gradio as gr
import pytest

from demo import gradio_private as gp


@pytest.fixture(scope="module")
def blocks():
    def echo(text):
        return text

    with gr.Blocks() as demo:
        box = gr.Textbox(label="Sentence")
        gr.Button("go").click(echo, box, box)
    demo.queue()
    return demo


def test_the_installed_gradio_is_the_pinned_one():
    pinned = gp.pinned_version()
    assert pinned and pinned[0].isdigit()
    assert gp.supported(), f"Gradio {gr.__version__} installed, {pinned} pinned in README.md"
    assert pinned in gp.version_line()


def test_block_functions(blocks):
    (fn,) = gp.block_functions(blocks)
    for name in ("fn", "inputs", "name", "api_name", "concurrency_id", "concurrency_limit", "queue", "_id",
                 "preprocess", "api_visibility"):
        assert hasattr(fn, name), name
    assert blocks.fns[fn._id] is fn and fn.name == "echo"


def test_queue_of_and_its_waiting_and_running_events(blocks):
    queue = gp.queue_of(blocks)
    assert isinstance(queue.max_size, (int, type(None)))
    assert isinstance(queue.event_queue_per_concurrency_id, dict)
    queue.active_jobs = [None]                       # as Queue.start sets it
    assert gp.queued_events(queue) == []
    assert "active_jobs" in inspect.getsource(type(queue).start)


def test_event_parts():
    from gradio.queueing import Event

    assert list(inspect.signature(Event).parameters) == ["session_hash", "fn", "request", "username"]
    event = Event("s", fn=type("F", (), {"concurrency_id": "c"})(), request=None, username=None)
    event.data = type("Body", (), {"data": ["x"]})()
    assert gp.event_parts(event)[1:] == ("s", None, ["x"])


def test_mean_seconds(blocks):
    from gradio.queueing import ProcessTime

    (fn,) = gp.block_functions(blocks)
    queue = gp.queue_of(blocks)
    assert isinstance(queue.process_time_per_fn, dict)
    times = ProcessTime()
    times.add(2.0), times.add(4.0)
    queue.process_time_per_fn[fn] = times
    try:
        assert gp.mean_seconds(queue, [fn]) == 3.0
    finally:
        queue.process_time_per_fn.pop(fn)
    assert gp.mean_seconds(queue, [fn]) is None


def test_set_analytics_limit(blocks):
    from gradio.queueing import Queue

    assert "self.ANALYTICS_MAX_EVENTS" in inspect.getsource(Queue.push)
    queue = gp.queue_of(blocks)
    gp.set_analytics_limit(queue, 7)
    assert queue.ANALYTICS_MAX_EVENTS == 7


def test_drop_queue_records(blocks):
    from gradio.utils import LRUCache

    queue = gp.queue_of(blocks)
    assert isinstance(queue.pending_messages_per_session, LRUCache)
    queue.pending_event_ids_session.update({"gone": set(), "busy": {"e1"}})
    queue.pending_messages_per_session["gone"] = asyncio.Queue()
    assert gp.drop_queue_records(queue, {"gone"}) == 1
    assert "gone" not in queue.pending_event_ids_session and "gone" not in queue.pending_messages_per_session
    assert gp.busy_sessions(queue) >= {"busy"} and "gone" not in gp.busy_sessions(queue)
    assert queue.pending_event_ids_session.pop("busy") == {"e1"}


def test_state_holder_classes(blocks):
    session_state, holder_class = gp.state_holder_classes()
    assert set(vars(session_state(blocks))) == gp.SESSION_STATE_ATTRIBUTES
    holder = holder_class()
    holder.set_blocks(blocks)
    for name in ("session_data", "time_last_used", "lock", "capacity", "blocks"):
        assert hasattr(holder, name), name
    for name in ("_update_config", "_update_value_in_config", "__setitem__"):
        assert callable(getattr(session_state, name)), name


def test_state_holder_of_the_app():
    from gradio.routes import App
    from gradio.state_holder import StateHolder

    app = App()
    assert isinstance(gp.state_holder(app), StateHolder)
    gp.set_state_holder(app, "replaced")
    assert app.state_holder == "replaced"


def test_wrap_preprocess(blocks):
    assert list(inspect.signature(type(blocks).preprocess_data).parameters) == [
        "self", "block_fn", "inputs", "state", "explicit_call"]
    seen = []

    def on_error(block_fn, inputs, state, exc):
        seen.append(type(exc).__name__)
        raise gr.Error("named")

    with gr.Blocks() as demo:
        number = gr.Number(label="Seed", minimum=0, maximum=9)
        gr.Button().click(lambda x: x, number, number)
    gp.wrap_preprocess(demo, on_error)
    gp.wrap_preprocess(demo, on_error)                      # once is enough
    (fn,) = gp.block_functions(demo)
    with pytest.raises(gr.Error, match="named"):
        asyncio.run(demo.preprocess_data(fn, ["abc"], None))
    assert len(seen) == 1


def test_wrap_call():
    assert list(inspect.signature(gr.Blocks.call_function).parameters)[:3] == ["self", "block_fn", "processed_input"]
    seen = []

    def broken(x):
        raise KeyError(x)

    with gr.Blocks() as demo:
        box = gr.Textbox()
        gr.Button().click(broken, box, box)

    def on_error(block_fn, values, exc):
        seen.append((block_fn.name, values, type(exc).__name__))
        raise gr.Error("answered")

    gp.wrap_call(demo, on_error)
    (fn,) = gp.block_functions(demo)
    with pytest.raises(gr.Error, match="answered"):
        asyncio.run(demo.call_function(fn, ["x"]))
    assert seen == [("broken", ["x"], "KeyError")]


def test_session_block_and_check_one_value():
    from gradio.state_holder import SessionState

    with gr.Blocks() as demo:
        radio = gr.Radio(["a", "b"], label="Pick")
    state = SessionState(demo)
    assert gp.session_block(state, radio) is radio
    state[radio._id] = gr.Radio(["c"], label="Pick")
    assert gp.session_block(state, radio).choices == [("c", "c")]
    gp.check_one_value(radio, "a", True)
    with pytest.raises(gr.Error):
        gp.check_one_value(radio, "z", True)
    assert radio.stateful is False


def test_docstring_args():
    def f(text: str):
        """Do it.

        Args:
            text: the sentence.
        """

    assert gp.docstring_args(f) == {"text": "the sentence."}


def test_describe_parameter():
    from gradio.components.api_component import Api

    def f(text: str) -> str:
        return text

    with gr.Blocks() as demo:
        gr.api(f, api_name="f")
    (fn,) = gp.block_functions(demo)
    (box,) = fn.inputs
    assert isinstance(box, Api) and "self._api_info" in inspect.getsource(Api.api_info)
    gp.describe_parameter(box, "text", "the sentence")
    assert box.api_info()["additional_description"] == "the sentence" and box.label == "text"


def test_session_store_class(blocks):
    from gradio.state_holder import SessionState

    assert hasattr(blocks, "default_config") and isinstance(blocks.default_config.blocks, dict)
    store = gp.session_store_class(evict_lookahead=4)()
    store.set_blocks(blocks)
    store.capacity = 2
    lean = store["a"]
    assert isinstance(lean, SessionState) and set(vars(lean)) == gp.SESSION_STATE_ATTRIBUTES
    assert lean.config_values == {}
    store["b"], store["c"]
    assert len(store.session_data) == 2 and "a" not in store.session_data


# ---- importing gradio without its stub writer (gradio.component_meta.create_or_modify_pyi) ----------

ROOT = Path(__file__).resolve().parent.parent

# A module that defines a Gradio component, as demo/ui.py does: gradio writes a .pyi
# stub beside such a module when the class is created, unless the stub writer is off.
COMPONENT = "import gradio as gr\n\nclass NoteBox(gr.Textbox):\n    pass\n"


def run_component(tmp_path: Path, first: str) -> subprocess.CompletedProcess:
    (tmp_path / "component.py").write_text(COMPONENT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    code = (f"{first}\nimport component\nimport gradio.component_meta as m\n"
            "print(m.create_or_modify_pyi.__module__, component.NoteBox().label)")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)


@pytest.mark.slow
def test_stubs_are_written_without_the_demo_package(tmp_path):
    # gradio's own behaviour, which the next test switches off
    out = run_component(tmp_path, "")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "gradio.component_meta"
    assert (tmp_path / "component.pyi").is_file()


@pytest.mark.slow
def test_importing_demo_first_skips_the_stubs_and_components_still_work(tmp_path):
    out = run_component(tmp_path, "import demo")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["demo.gradio_private", "None"]
    assert not (tmp_path / "component.pyi").exists()


def test_does_nothing_once_gradio_is_imported():
    import gradio

    assert gradio.__name__ in sys.modules
    before = list(sys.meta_path)
    gp.skip_stub_generation()
    assert sys.meta_path == before


def test_the_installed_version_is_read_without_importing_gradio_and_is_the_pinned_one():
    code = ("import sys; from demo import gradio_private as gp; "
            "print(gp.installed_version() == gp.pinned_version(), 'gradio' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]


def test_on_another_version_the_stub_writer_is_left_alone(monkeypatch):
    monkeypatch.setattr(gp, "installed_version", lambda: "0.0.1")
    monkeypatch.delitem(sys.modules, "gradio.component_meta")
    before = list(sys.meta_path)
    gp.skip_stub_generation()
    assert sys.meta_path == before
