"""The "attention over training" panel of the Translate tab: ``build_history_panel()``
lays it out in place (an accordion), called inside that tab.

For one of the page's example sentences, a "training step" slider shows every
variant's greedy output and α at that point of a from-scratch training run, beside
the run's dev chrF curve. The runs are recorded by ``python -m seq2seq train
--history`` (``seq2seq/history.py``) into ``assets/history/<variant>.json``.
Images travel as PNG data URIs inside ``gr.HTML``; text in that HTML is escaped.
"""
from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np

from seq2seq import checkpoint as ckpt
from seq2seq import history
from seq2seq.attention import VARIANTS
from seq2seq.tokenizer import DEFAULT_DIRECTION
from seq2seq.translator import check_number, direction_label

from .state import error, refused
from .toy_tab import side_by_side

HISTORY_DIR = ckpt.ASSETS / "history"
CURVE_SIZE = (330, 220)


def load_histories(folder: Path = HISTORY_DIR) -> tuple[dict[str, dict], list[str]]:
    """Every variant's checked history, and a message for each one missing or broken."""
    found, problems = {}, []
    for v in VARIANTS:
        path = Path(folder) / f"{v}.json"
        if not path.exists():
            problems.append(f"{v}: no history recorded ({path.name} is missing)")
            continue
        try:
            found[v] = history.load(path)
        except history.HistoryError as exc:
            problems.append(f"{v}: {exc}")
    return found, problems


def point_at(hist: dict, step: int) -> dict:
    """The last point recorded at or before ``step`` (the first one before the first)."""
    best = hist["points"][0]
    for p in hist["points"]:
        if p["step"] <= step:
            best = p
    return best


def curve_pixels(hist: dict, step: int) -> np.ndarray:
    steps = tuple(p["step"] for p in hist["points"])
    scores = tuple(p["dev_chrf"] for p in hist["points"])
    return _curve(hist["variant"], steps, scores, point_at(hist, step)["step"])


@lru_cache(maxsize=256)
def _curve(variant: str, steps: tuple, scores: tuple, at: int) -> np.ndarray:
    from . import plots

    fig = plots.new_figure(*CURVE_SIZE)
    ax = fig.add_axes((0.17, 0.2, 0.78, 0.68))
    ax.plot(steps, scores, marker=".", color="#1f4e9c")
    i = steps.index(at)
    ax.axvline(at, color="#d62728", lw=1)
    ax.plot([at], [scores[i]], "o", color="#d62728")
    ax.set_xlabel("training step")
    ax.set_ylabel("dev chrF")
    ax.set_title(f"{variant}: dev chrF (at step {at}: {scores[i]:.1f})", fontsize=9, parse_math=False)
    ax.grid(alpha=0.3)
    pixels = plots.figure_pixels(fig)
    pixels.setflags(write=False)
    return pixels


def _index(value, n: int, name: str) -> int:
    with refused():
        return check_number(value, f"The {name}", 0, n - 1, integer=True)


def history_view(histories: dict[str, dict], example, step) -> dict:
    """{"status": md, "panels": {variant: html}} for one example (its index in the probe) at a step."""
    if not histories:
        raise error("No training history is installed.")
    probe = next(iter(histories.values()))["probe"]
    i = _index(example, len(probe), "example")
    last = max(h["points"][-1]["step"] for h in histories.values())
    step = _index(step, last + 1, "training step")
    from . import plots

    panels = {}
    for v in VARIANTS:
        hist = histories.get(v)
        if hist is None:
            panels[v] = f"<p><b>{v}</b>: no history recorded.</p>"
            continue
        point = point_at(hist, step)
        out = point["outputs"][i]
        source = hist["probe"][i]["source_pieces"]
        pictures = []
        if out["attention"] is not None:
            pictures.append(plots.heatmap(np.array(out["attention"]), out["target_pieces"], source,
                                          f"{v}: α at step {point['step']}").pixels)
        pictures.append(curve_pixels(hist, step))
        note = "" if out["attention"] is not None else "<p>No attention: only the output changes.</p>"
        panels[v] = (f'<p class="history-out" data-variant="{v}"><b>{v}</b>, step {point["step"]}: '
                     f"{html.escape(out['text']) or '(nothing)'}</p>{note}"
                     + plots.img_html(side_by_side(*pictures), f"{v}: attention and dev chrF at step {point['step']}",
                                "history-plot"))
    ref = probe[i].get("reference", "")
    status = (f"Step {step}: each variant as recorded at its last point up to this step. Source: "
              f"{html.escape(probe[i]['source'])}" + (f" — reference: {html.escape(ref)}" if ref else ""))
    return {"status": status, "panels": panels}


def probe_direction(entry: dict) -> str:
    return entry.get("direction", DEFAULT_DIRECTION)       # histories recorded before directions: de-en


def directions_of(histories: dict[str, dict]) -> list[str]:
    """The directions the probe sentences were recorded in, in their order."""
    probe = next(iter(histories.values()))["probe"]
    return list(dict.fromkeys(probe_direction(p) for p in probe))


def example_choices(histories: dict[str, dict], direction: str) -> list[tuple[str, int]]:
    """(source, index in the probe) of the probe sentences recorded in ``direction``."""
    probe = next(iter(histories.values()))["probe"]
    return [(p["source"], k) for k, p in enumerate(probe) if probe_direction(p) == direction]


def caption(histories: dict[str, dict]) -> str:
    """What the figures show, from what the histories record."""
    first = next(iter(histories.values()))
    shipped = all(h["points"][-1].get("shipped") for h in histories.values())
    points = min(len(h["points"]) for h in histories.values())
    ways = " in both directions" if len(directions_of(histories)) > 1 else ""
    return ("Each variant's " + ("real training run, from its first step to the weights the page uses"
                                 if shipped else "training run from scratch, a short one (the page's models "
                                                 "trained far longer)")
            + f": at least {points} recorded points{ways}. Pick an example and move the slider: the heatmap is "
            "α of that model's greedy translation at that step (the current weights, not their moving average"
            + ("; the last point is the exported weights" if shipped else "") + "), beside its dev chrF on "
            + " and ".join(f"{n} {name}" for name, n in first["dev"]["pairs"].items()) + " dev pairs.")


def budget_md(histories: dict[str, dict]) -> str:
    rows = ["| variant | steps | training minutes | points | final dev chrF |", "|---|---|---|---|---|"]
    for v, h in histories.items():
        b = h["budget"]
        rows.append(f"| `{v}` | {b.get('steps', '?')} | {b.get('train_minutes', '?')} | {len(h['points'])} | "
                    f"{h['points'][-1]['dev_chrf']} |")
    return "\n".join(rows)


def build_history_panel(folder: Path = HISTORY_DIR) -> gr.Accordion:
    """Lay out the panel where it is called and wire its events (in place, not a ``gr.Blocks``:
    see ``build_toy_tab``)."""
    histories, problems = load_histories(folder)
    with gr.Accordion("Attention over training", open=False, elem_id="history") as accordion:
        if not histories:
            gr.Markdown("No training history is installed (assets/history/).", latex_delimiters=[])
            return accordion
        gr.Markdown(html.escape(caption(histories)) + "\n\n" + budget_md(histories), latex_delimiters=[])
        if problems:
            gr.Markdown("⚠️ " + html.escape("; ".join(problems)), latex_delimiters=[])
        directions = directions_of(histories)
        direction = gr.Radio([(direction_label(d), d) for d in directions], value=directions[0],
                             label="Direction", visible=len(directions) > 1, elem_id="history-direction")
        choices = example_choices(histories, directions[0])
        example = gr.Dropdown(choices, value=choices[0][1], label="Example sentence", elem_id="history-example")
        last = max(h["points"][-1]["step"] for h in histories.values())
        step = gr.Slider(0, last, value=0, step=1, label="Training step", elem_id="history-step")
        status = gr.Markdown("", latex_delimiters=[], elem_id="history-status")
        with gr.Row(equal_height=False):
            boxes = {v: gr.HTML("", elem_id=f"history-{v}", min_width=300) for v in VARIANTS}

        def on_change(example_, step_):
            view = history_view(histories, example_, step_)
            return {status: view["status"], **{boxes[v]: view["panels"][v] for v in VARIANTS}}

        def on_direction(direction_):
            if direction_ not in directions:
                raise error(f"Choose one of the recorded directions: {', '.join(directions)}.")
            options = example_choices(histories, direction_)
            return gr.Dropdown(choices=options, value=options[0][1])

        direction.change(on_direction, direction, example, api_visibility="private")
        example.change(on_change, [example, step], [status, *boxes.values()], api_visibility="private")
        step.input(on_change, [example, step], [status, *boxes.values()], api_visibility="private",
                   trigger_mode="always_last")
        # drawn when opened: the page's start-up imports no matplotlib
        accordion.expand(on_change, [example, step], [status, *boxes.values()], api_visibility="private")
    return accordion
