"""The "Toy tasks" tab: ``build_toy_tab()``, called inside the page's ``gr.Tabs``.

Copy, reverse or sort a digit sequence with the shipped tiny models (``assets/toy``,
``seq2seq/toy.py``), one per attention variant, and see each one's output and α;
or train one from scratch in the browser and watch α sharpen from uniform to the
alignment. The handlers are plain functions of plain data (tested with pytest);
the figures are matplotlib ``Figure``s and pixels, never pyplot.

Images travel inside ``gr.HTML`` as PNG data URIs, so a live training writes no
file: nothing is left on disk per visitor. The only text in that HTML is digits
and numbers this module writes.
"""
from __future__ import annotations

import html
import random
from pathlib import Path

import gradio as gr
import numpy as np

from seq2seq import toy
from seq2seq.attention import VARIANTS

from .state import error, refused, shows_refusal

LIVE_QUEUE = "toy-live-training"     # its own queue: one live training at a time
LOSS_SIZE = (360, 230)               # loss curve, pixels

INTRO = (f"Tiny GRU encoder–decoders (the same code as the translation models, with about 15,000 parameters) "
         f"copy, reverse or sort up to {toy.MAX_LEN} digits. Where the right alignment is known, attention "
         "should find it: the **diagonal** for copy, the **anti-diagonal** for reverse, and for sort the "
         "source digit being written. `none` has no attention: it must carry the whole sequence in the final "
         f"encoder states, and fails on long sequences ({toy.LONG} digits or more).")
LIVE_INTRO = (f"Train a tiny model from scratch on this server: at most {toy.LIVE_CAP_S:.0f} s, with the loss "
              f"and α on the fixed probe `{' '.join(toy.PROBE)}` (teacher-forced on its correct output) every "
              f"{toy.REPORT_EVERY_S:.0f} s. One training runs at a time: if another visitor's is running, yours "
              "waits, and the panel shows your place in the line. The same task, variant, seed and number of "
              "steps give the same model as `python scripts/train_toy.py`.")


# ---- pictures -------------------------------------------------------------------------------

def img_html(pixels: np.ndarray | None, alt: str, elem_class: str = "") -> str:
    from .plots import img_html        # imports matplotlib: on the first request, not at start-up

    return img_html(pixels, alt, elem_class)


def alpha_pixels(alpha: np.ndarray, rows: list[str], cols: list[str], title: str) -> np.ndarray:
    from . import plots

    return plots.heatmap(alpha, rows, cols, title).pixels


def loss_pixels(losses: list[tuple[int, float]], steps: int) -> np.ndarray:
    """Training loss against steps, a plain Figure drawn with Agg."""
    from . import plots

    fig = plots.new_figure(*LOSS_SIZE)
    ax = fig.add_axes((0.18, 0.2, 0.77, 0.68))
    if losses:
        ax.plot([s for s, _ in losses], [v for _, v in losses], marker=".", color="#1f4e9c")
    ax.set_xlim(0, steps)
    ax.set_ylim(0, max([2.5] + [v for _, v in losses]))    # ln 10 ≈ 2.3: a uniform guess over the digits
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("loss (cross-entropy per digit)", fontsize=9)
    ax.grid(alpha=0.3)
    return plots.figure_pixels(fig)


def side_by_side(*images: np.ndarray) -> np.ndarray:
    height = max(im.shape[0] for im in images)
    padded = [np.pad(im, ((0, height - im.shape[0]), (0, 12), (0, 0)), constant_values=255) for im in images]
    return np.concatenate(padded, axis=1)


def progress_html(step: int, steps: int, seconds: float, cap: float) -> str:
    return (f'<div class="toy-progress"><progress value="{int(step)}" max="{int(steps)}" style="width:100%"></progress>'
            f"<div>step {int(step)} of {int(steps)} · {seconds:.1f} s of at most {cap:.0f} s</div></div>")


# ---- the shipped models ---------------------------------------------------------------------

def random_digits(rng: random.Random | None = None) -> str:
    """A random sequence for the text box, long ones as likely as short ones."""
    rng = rng or random.Random()
    return " ".join(toy.random_sequence(rng, toy.MIN_LEN, toy.MAX_LEN))


def run_toy(models: dict, text, task) -> dict:
    """Every shipped variant on one sequence → {"status": md, "panels": {variant: html}}."""
    with refused():
        seq = toy.parse_sequence(text)
        toy.check_task(task)
    expected = toy.target(task, seq)
    panels = {}
    for variant in VARIANTS:
        model = models.get((task, variant))
        if model is None:
            panels[variant] = f"<p><b>{variant}</b>: no shipped model for {html.escape(task)}.</p>"
            continue
        out, alpha = toy.predict(model, [seq])[0]
        ok = out == expected
        verdict = "✓ right" if ok else f"✗ wrong (expected {' '.join(expected)})"
        head = (f'<p class="toy-out" data-variant="{variant}"><b>{variant}</b>: '
                f'<code>{" ".join(out) or "(nothing)"}</code> {html.escape(verdict)}</p>')
        if alpha is None:
            panels[variant] = head + "<p>No attention: nothing to show but the output.</p>"
            continue
        rows = list(out) + ["</s>"] if alpha.shape[0] > len(out) else list(out)
        picture = alpha_pixels(alpha[: len(rows)], rows, list(seq), f"{variant}: α (output × input)")
        panels[variant] = head + img_html(picture, f"{variant}: attention heatmap", "toy-heatmap")
    status = (f"**{task}** of `{' '.join(seq)}` ({len(seq)} digits) should give `{' '.join(expected)}`."
              + (f" That is long: watch `none`." if len(seq) >= toy.LONG else ""))
    return {"status": status, "panels": panels}


# ---- live training --------------------------------------------------------------------------

def live_config(task, variant, seed) -> toy.ToyConfig:
    with refused():
        return toy.ToyConfig(task=task, variant=variant, seed=toy.check_seed(seed))


def live_view(p: toy.Progress, cfg: toy.ToyConfig, cap: float) -> dict:
    """One Progress → {"progress": html, "plot": html, "status": md}."""
    pictures = []
    if p.alpha is not None:
        rows = list(toy.target(cfg.task, toy.PROBE))
        pictures.append(alpha_pixels(p.alpha, rows, list(toy.PROBE), f"step {p.step}: α on the probe"))
    pictures.append(loss_pixels(p.losses, cfg.steps))
    plot = img_html(side_by_side(*pictures), f"step {p.step}: attention and loss", "toy-live-plot")
    loss = "–" if p.loss is None else f"{p.loss:.3f}"
    said = " ".join(p.output) or "(nothing)"
    status = f"**{cfg.task}**, `{cfg.variant}`, seed {cfg.seed}: step {p.step}, loss {loss}; on the probe it says `{said}`"
    if p.done:
        ends = {"finished": "Finished all steps", "time cap": f"Stopped by the {cap:.0f} s cap",
                "stopped": "Stopped by you"}
        right = p.output == toy.target(cfg.task, toy.PROBE)
        status += (f". **{ends[p.reason]}** at step {p.step} ({p.seconds:.1f} s); the probe is "
                   f"{'right' if right else 'not right yet'}. `python scripts/train_toy.py --task {cfg.task} "
                   f"--variant {cfg.variant} --seed {cfg.seed}"
                   + ("" if p.reason == "finished" else f" --stop-after {p.step}")
                   + " --assets /tmp/toy` trains these same weights.")
    return {"progress": progress_html(p.step, cfg.steps, p.seconds, cap), "plot": plot, "status": status}


def live_train(trainer: toy.LiveTrainer, task, variant, seed, owner=None):
    """Generator of live views; gr.Error if the choices are invalid or a training is running."""
    cfg = live_config(task, variant, seed)
    runs = trainer.run(cfg, owner)
    try:
        for p in runs:
            yield live_view(p, cfg, trainer.time_cap)
    except toy.TrainerBusy as exc:
        raise error(str(exc)) from None
    finally:
        runs.close()


def stop_live(trainer: toy.LiveTrainer, owner=None) -> str:
    if trainer.stop(owner):
        return "Stopping…"
    return "No training of yours is running (one that waits in line starts when the running one ends)."


# ---- the tab --------------------------------------------------------------------------------

def build_toy_tab(assets: Path = toy.TOY_ASSETS, trainer: toy.LiveTrainer | None = None) -> gr.Tab:
    """Lay out the tab (call inside ``gr.Tabs``) and wire its events. It is built in place rather
    than as a ``gr.Blocks`` to ``.render()``: every ``gr.Blocks`` builds its own web app twice,
    which start-up would pay for nothing."""
    models, problems = toy.load_all(Path(assets))
    trainer = trainer or toy.LiveTrainer()
    with gr.Tab("Toy tasks", id="toy") as tab:
        gr.Markdown(INTRO, latex_delimiters=[])
        if problems or not models:
            gr.Markdown("⚠️ " + ("  \n".join(html.escape(p) for p in problems) if problems else
                                 f"No toy models in {html.escape(str(assets))}: run python scripts/train_toy.py."),
                        latex_delimiters=[])
        with gr.Row():
            seq = gr.Textbox(label="Digits", value=" ".join(toy.PROBE), elem_id="toy-seq", scale=3,
                             info=f"1 to {toy.MAX_LEN} digits; spaces and commas are ignored.")
            shipped = [t for t in toy.TASKS if any(key[0] == t for key in models)] or list(toy.SHIPPED_TASKS)
            task = gr.Radio(shipped, value=shipped[0], label="Task", elem_id="toy-task", scale=2)
        with gr.Row():
            pick = gr.Button("Random sequence", elem_id="toy-random")
            run = gr.Button("Run every variant", variant="primary", elem_id="toy-run")
        message = gr.Markdown("", visible=False, elem_id="toy-message", latex_delimiters=[])
        status = gr.Markdown("", latex_delimiters=[], elem_id="toy-status")
        panels = {}
        with gr.Row(equal_height=False) as panel_row:
            for v in VARIANTS:
                panels[v] = gr.HTML("", elem_id=f"toy-panel-{v}", min_width=220)

        gr.Markdown("### Train it live\n" + LIVE_INTRO, latex_delimiters=[])
        with gr.Row():
            live_task = gr.Radio(list(toy.TASKS), value="copy", label="Task", elem_id="live-task")
            live_variant = gr.Dropdown(list(VARIANTS), value="additive", label="Variant", elem_id="live-variant")
            live_seed = gr.Number(0, precision=0, label="Seed", elem_id="live-seed",   # checked by toy.check_seed
                                  info=f"A whole number from 0 to {toy.MAX_SEED}.")
        with gr.Row():
            start = gr.Button("Train from scratch", variant="primary", elem_id="live-start")
            stop = gr.Button("Stop", variant="stop", elem_id="live-stop")
        live_message = gr.Markdown("", visible=False, elem_id="live-message", latex_delimiters=[])
        live_progress = gr.HTML("", elem_id="live-progress")
        live_status = gr.Markdown("", latex_delimiters=[], elem_id="live-status")
        live_plot = gr.HTML("", elem_id="live-plot")

        def on_run(text, task_):
            view = run_toy(models, text, task_)
            return {status: view["status"], **{panels[v]: view["panels"][v] for v in VARIANTS}}

        run_shown = shows_refusal(on_run, message, hide=[panel_row], clear=[status])
        run_outputs = [message, panel_row, status, *panels.values()]
        for trigger in (run.click, seq.submit):
            trigger(run_shown, [seq, task], run_outputs, api_visibility="private", concurrency_limit=2)
        pick.click(lambda: random_digits(), None, seq, api_visibility="private", queue=False) \
            .then(run_shown, [seq, task], run_outputs, api_visibility="private")

        def on_train(task_, variant_, seed_, request: gr.Request):
            for view in live_train(trainer, task_, variant_, seed_, owner=request.session_hash):
                yield {live_progress: view["progress"], live_plot: view["plot"], live_status: view["status"]}

        live_outputs = [live_progress, live_plot, live_status]
        start.click(shows_refusal(on_train, live_message, clear=live_outputs), [live_task, live_variant, live_seed],
                    [live_message, *live_outputs], api_visibility="private", concurrency_limit=1,
                    concurrency_id=LIVE_QUEUE, show_progress="full")

        def on_stop(request: gr.Request):
            return stop_live(trainer, request.session_hash)

        stop.click(on_stop, None, live_status, api_visibility="private", queue=False)
    tab.toy_trainer = trainer      # for tests and the benchmark
    return tab
