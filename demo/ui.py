"""The Gradio page: ``build_demo()`` lays out the components and wires their
events to the handlers in ``demo/handlers.py`` (translate, render, step, align,
export, API), which draw with ``demo/plots.py``. Nothing here holds model logic
or state between requests: a result lives in the page's ``gr.State``.

Start-up imports no matplotlib (about 0.3 s): ``demo/plots.py`` is first imported by the
page's load event, which draws the About tab's plot, or by the first request.
"""
from __future__ import annotations

import io
import sys
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np

from seq2seq import checkpoint as ckpt
from seq2seq.attention import VARIANTS
from seq2seq.translator import MAX_BEAM, MAX_CHARS, MAX_PIECES, METHODS

from .handlers import (DEFAULT_API_VARIANT, LIMITS_MD, NEVER_ATTENDED, NO_ATTENTION, OVER_ATTENDED, WORDS_RULE,
                       about_md, align, available, cards_table, compare, diagnostics_tables, export, length_panels,
                       load_cards, load_examples, load_translator, md_escape, quality_line, render, step_view,
                       translate_api)
from .history_panel import build_history_panel
from .toy_tab import build_toy_tab


RESULT_TTL_S = 3600      # a session's last result (kept for the slider, clicks, export) lives this long
                         # after its compare; then the slider and clicks do nothing and Export asks for one

# ---- the page ------------------------------------------------------------------------------

def is_figure(value) -> bool:
    """isinstance(value, matplotlib Figure), without importing matplotlib: a Figure can only
    exist once ``matplotlib.figure`` has been imported."""
    figure = sys.modules.get("matplotlib.figure")
    return figure is not None and isinstance(value, figure.Figure)


class PNGImage(gr.Image):
    """``gr.Image`` (same front end) that shows a matplotlib Figure (or numpy image) as PNG
    written with zlib level 1: flat-colour heatmaps stay small, and encoding takes about half
    the time of PIL's default, which matters with five heatmaps per request."""

    is_template = True          # the front end uses gr.Image's Svelte component

    def postprocess(self, value):
        if is_figure(value):
            from . import plots

            value = plots.take_pixels(value)
        if isinstance(value, np.ndarray):
            from gradio.data_classes import ImageData
            from gradio.processing_utils import save_bytes_to_cache
            from PIL import Image

            buf = io.BytesIO()
            Image.fromarray(value).save(buf, "png", compress_level=1)
            path = save_bytes_to_cache(buf.getvalue(), "attention.png", self.GRADIO_CACHE)
            return ImageData(path=path, orig_name="attention.png")
        return super().postprocess(value)


class FigureGallery(gr.Gallery):
    """``gr.Gallery`` (same front end) whose items may be matplotlib Figures."""

    is_template = True

    def postprocess(self, value):
        if value:
            from . import plots

            value = [(plots.take_pixels(item[0]), *item[1:]) if isinstance(item, tuple) and is_figure(item[0])
                     else plots.take_pixels(item) if is_figure(item) else item for item in value]
        return super().postprocess(value)


def configure_torch(threads: int | None = 1) -> None:
    """Process-wide torch settings for serving, one sentence at a time.

    * ``threads``: intra-op threads. Decoding is one small GRU step at a time, which
      extra threads do not speed up, and on a shared 2-core machine spinning worker
      threads slow everything down; ``None`` keeps torch's default.
    * oneDNN off: it compiles and caches a kernel for every tensor shape it meets (up
      to 1,024), and every sentence length brings new shapes, so that cache alone grew
      RSS by about 45 MB over the first few hundred requests; torch's own kernels
      decode as fast here (``benchmarks/bench_app.py``).
    """
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    torch.backends.mkldnn.enabled = False


def build_demo(assets: Path = ckpt.ASSETS, torch_threads: int | None = 1) -> gr.Blocks:
    """Load the models once and lay out the page. No network, no training.
    ``torch_threads``: see ``configure_torch``."""
    assets = Path(assets)
    configure_torch(torch_threads)
    tr, problems, fatal = load_translator(assets)
    installed = available(tr)
    cards = load_cards(assets)
    examples = load_examples()

    @lru_cache(maxsize=1)
    def length_plot():          # drawn by the first page load, then reused
        from . import plots

        return plots.to_array(plots.scores_by_length(length_panels(cards)))

    toy_tab, history_panel = build_toy_tab(), build_history_panel()
    with gr.Blocks(title="Attention in seq2seq: German → English", delete_cache=(3600, 3600)) as demo:
        state = gr.State(None, time_to_live=RESULT_TTL_S)
        gr.Markdown("# Attention in seq2seq: German → English\n"
                    "Five small GRU encoder–decoders that differ only in their attention score. Type a German "
                    "sentence, compare the translations and where each model looked (α_{t,i}: how much output "
                    "step t drew on source piece i).", latex_delimiters=[])
        if fatal:
            gr.Markdown(f"⚠️ **{md_escape(fatal)}**", latex_delimiters=[])
        elif not installed:
            gr.Markdown("⚠️ No models are installed yet: the page needs models/<variant>.safetensors in "
                        f"{md_escape(assets)} (written by python -m seq2seq train).", latex_delimiters=[])
        elif problems:
            gr.Markdown("⚠️ " + "  \n".join(md_escape(p) for p in problems.values()),
                        latex_delimiters=[])

        with gr.Tabs() as tabs:
            with gr.Tab("Translate and compare", id="translate"):
                with gr.Row():
                    gr.Markdown(quality_line(cards), latex_delimiters=[], elem_id="quality-line")
                    about_link = gr.Button("About the models →", size="sm", variant="secondary", scale=0,
                                           elem_id="about-link")
                with gr.Row():
                    with gr.Column(scale=3):
                        text = gr.Textbox(label="German sentence", lines=2, elem_id="source-text",
                                          placeholder="Ich wurde durch einen Hund gebissen.",
                                          info=f"Up to {MAX_CHARS} characters ({MAX_PIECES} sentencepiece pieces).")
                        example_box = None
                        if examples:
                            example_box = gr.Examples([[s] for s, _ in examples], inputs=[text], cache_examples=False,
                                                      label="Examples from the test split (click one to run it)",
                                                      examples_per_page=10)
                    with gr.Column(scale=2):
                        choices = [(v if v in installed else f"{v} (not installed)", v) for v in VARIANTS]
                        variants = gr.CheckboxGroup(choices, value=installed, label="Variants")
                        method = gr.Radio(list(METHODS), value="greedy", label="Decoding")
                        with gr.Row(visible=False) as beam_row:
                            beam = gr.Slider(1, MAX_BEAM, value=5, step=1, label="Beam width")
                            n_best = gr.Slider(1, MAX_BEAM, value=3, step=1, label="n-best shown")
                        with gr.Row(visible=False) as sample_row:
                            temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature")
                            seed = gr.Number(0, precision=0, minimum=0, label="Seed")
                        words = gr.Checkbox(False, label="Aggregate to words",
                                            info="source pieces summed, target pieces averaged; rows still sum to 1")
                        run = gr.Button("Translate and compare", variant="primary", elem_id="run")
                status = gr.Markdown(WORDS_RULE, latex_delimiters=[], elem_id="status")

                panel = {}
                with gr.Row(equal_height=False):
                    for v in VARIANTS:
                        with gr.Column(min_width=440, visible=v in installed, elem_id=f"panel-{v}") as col:
                            p = {"col": col}
                            p["header"] = gr.Markdown(f"### {v}", latex_delimiters=[])
                            p["translation"] = gr.Textbox(label=f"{v}: translation", interactive=False,
                                                          elem_id=f"translation-{v}")
                            p["heatmap"] = PNGImage(label=f"{v}: attention heatmap", show_label=False, format="png",
                                                    interactive=False, elem_id=f"heatmap-{v}",
                                                    alt_text=f"{v}: attention heatmap, target × source",
                                                    buttons=["download", "fullscreen"], visible=v != "none")
                            p["note"] = gr.Markdown(NO_ATTENTION if v == "none" else "", latex_delimiters=[],
                                                    visible=v == "none")
                            p["tokens"] = gr.HighlightedText(label=f"{v}: output tokens (click one to align)",
                                                             interactive=False, elem_id=f"tokens-{v}")
                            p["source"] = gr.HighlightedText(label=f"{v}: source, shaded by α of the clicked token",
                                                             interactive=False, elem_id=f"align-{v}")
                            p["nbest_rows"] = gr.Dataframe(headers=["#", "score", "log p", "translation"],
                                                           label=f"{v}: n-best hypotheses (beam search)",
                                                           visible=False, interactive=False, wrap=True,
                                                           elem_id=f"nbest-{v}", column_widths=["8%", "14%", "14%", "64%"])
                            p["nbest"] = FigureGallery(label=f"{v}: heatmap of each n-best hypothesis", visible=False,
                                                       columns=3, format="png", height=320, object_fit="contain",
                                                       preview=False)
                        panel[v] = p

                with gr.Accordion("Step through decoding", open=True):
                    step = gr.Slider(1, 2, value=1, step=1, label="Output step t", elem_id="step",
                                     info="α_t over the source, the token chosen at t and the top-5 candidates")
                    with gr.Row(equal_height=False):
                        for v in VARIANTS:
                            with gr.Column(min_width=440, visible=v in installed) as col:
                                panel[v]["step_col"] = col
                                panel[v]["step_md"] = gr.Markdown("", latex_delimiters=[], elem_id=f"step-md-{v}")
                                panel[v]["bars"] = PNGImage(label=f"{v}: α_t over the source", show_label=False,
                                                            format="png", interactive=False, elem_id=f"bars-{v}",
                                                            visible=v != "none", buttons=["download"])
                                panel[v]["cands"] = gr.Label(label=f"{v}: top-5 next-token candidates at t",
                                                             num_top_classes=5, show_heading=False,
                                                             elem_id=f"cands-{v}")

                with gr.Accordion("Diagnostics", open=False):
                    gr.Markdown(f"Entropy of α_t in bits (low: focused, high: spread); coverage Σ_t α_t,i per source "
                                f"word over all decoding steps, flagged ▼ below {NEVER_ATTENDED} (never attended) "
                                f"and ▲ above {OVER_ATTENDED} (over-attended); mean mass per step on the final source "
                                "token and on punctuation. Best hypothesis of each variant.", latex_delimiters=[])
                    diag_summary = gr.Dataframe(label="Summary", interactive=False, wrap=True)
                    diag_cov = gr.Dataframe(label="Coverage per source word", interactive=False, wrap=True)
                    diag_ent = gr.Dataframe(label="Entropy of α_t per step (bits), with the token chosen",
                                            interactive=False, wrap=True)

                with gr.Accordion("Export", open=False):
                    gr.Markdown("Attention of the current result as JSON (tokens, matrices, variants, decoding "
                                "settings) and PNG heatmaps, in the unit shown (pieces or words).")
                    export_btn = gr.Button("Export attention")
                    export_files = gr.File(label="Files", file_count="multiple", interactive=False)

                history_panel.render()

            with gr.Tab("Toy tasks", id="toy"):
                toy_tab.render()

            with gr.Tab("About", id="about"):
                gr.Markdown(about_md(cards), latex_delimiters=[])
                gr.Dataframe(cards_table(cards), interactive=False, wrap=True, label="Model cards (test split)",
                             column_widths=["7%", "7%", "7%", "11%", "6%", "6%", "6%", "7%", "7%", "7%", "7%", "22%"], max_height=900)
                length_img = gr.Image(label="BLEU by source sentence length (cf. Bahdanau et al. 2015, Fig. 2)",
                                      format="png", interactive=False, elem_id="bleu-by-length")
                gr.Markdown(WORDS_RULE + "\n\n" + LIMITS_MD + "\n\nAPI: endpoint `/translate`, see the README.",
                            latex_delimiters=[])

        # ---- wiring ----
        order = list(VARIANTS)
        main_outputs = [state, status, step]
        for v in order:
            p = panel[v]
            main_outputs += [p["col"], p["step_col"], p["header"], p["translation"], p["heatmap"],
                             p["note"], p["nbest_rows"], p["nbest"], p["tokens"], p["source"]]
        main_outputs += [diag_summary, diag_cov, diag_ent, export_files]

        def views_to_outputs(result, views, with_diag=True):
            unit = "Output word" if views.get("words") else "Output step t"
            out = [result, views["status"], gr.update(maximum=max(2, views["steps"]), value=1, label=unit)]
            for v in order:
                pv = views["panels"][v]
                vis = pv.get("visible", False)
                if not vis:
                    out += [gr.update(visible=False)] * 2 + [gr.update()] * 8
                    continue
                has_att = pv.get("heatmap") is not None
                out += [gr.update(visible=True), gr.update(visible=True), pv["header"], pv["translation"],
                        gr.update(value=pv["heatmap"], visible=has_att),
                        gr.update(value=pv["note"] or "", visible=not has_att),
                        gr.update(value=pv["nbest_rows"], visible=pv["nbest_rows"] is not None),
                        gr.update(value=pv["nbest"], visible=bool(pv["nbest"])),
                        pv["tokens"], pv.get("source")]
            if with_diag and result is not None:
                t = diagnostics_tables(result)
                out += [t["summary"], t["coverage"], t["entropy"], None]
            else:       # same result in another unit: the files exported in the old one go
                out += [gr.update()] * 3 + [None]
            return out

        def on_compare(text_, variants_, method_, beam_, n_best_, temperature_, seed_, words_):
            result, views = compare(tr, text_, variants_, method_, beam_, n_best_, temperature_, seed_, words_)
            return views_to_outputs(result, views)

        def on_words(result, words_):
            if not result:
                return [gr.update()] * len(main_outputs)
            return views_to_outputs(result, render(result, bool(words_)), with_diag=False)

        step_outputs = []
        for v in order:
            step_outputs += [panel[v]["step_md"], panel[v]["bars"], panel[v]["cands"]]

        def on_step(result, t, words_):
            views = step_view(result, t, bool(words_))
            out = []
            for v in order:
                sv = views.get(v)
                if sv is None:
                    out += [gr.update()] * 3
                else:
                    out += [sv["md"], gr.update(value=sv["bars"], visible=sv["bars"] is not None), sv["candidates"]]
            return out

        method.change(lambda m: (gr.update(visible=m == "beam"), gr.update(visible=m == "sample")), method,
                      [beam_row, sample_row], api_visibility="private", queue=False)

        inputs = [text, variants, method, beam, n_best, temperature, seed, words]
        triggers = [run.click, text.submit]
        if example_box is not None:  # an example fills the box, then runs with the current settings
            triggers.append(example_box.load_input_event.then)
        for trigger in triggers:
            trigger(on_compare, inputs, main_outputs, api_visibility="private", concurrency_limit=2) \
                .success(on_step, [state, step, words], step_outputs, api_visibility="private")
        words.change(on_words, [state, words], main_outputs, api_visibility="private") \
            .then(on_step, [state, step, words], step_outputs, api_visibility="private")
        step.input(on_step, [state, step, words], step_outputs, api_visibility="private",
                   trigger_mode="always_last")

        for v in order:
            def on_select(result, words_, evt: gr.SelectData, _v=v):
                return align(result, _v, evt.index, bool(words_))
            panel[v]["tokens"].select(on_select, [state, words], panel[v]["source"], api_visibility="private")

        demo.load(length_plot, None, length_img, api_visibility="private", queue=False)
        about_link.click(lambda: gr.Tabs(selected="about"), None, tabs, api_visibility="private", queue=False)
        export_btn.click(lambda r, w: export(r, bool(w)), [state, words], export_files, api_visibility="private")

        def translate(text: str, variant: str = DEFAULT_API_VARIANT, method: str = "greedy", beam: int = 5,
                      temperature: float = 1.0, seed: int = 0) -> dict:
            """Translate German text with one attention variant. Returns JSON with the translation,
            source_tokens, target_tokens (pieces, '</s>' last) and attention: a T×S list of rows
            (target step × source piece, each row sums to 1), null for the 'none' variant."""
            return translate_api(tr, text, variant, method, beam, temperature, seed)

        gr.api(translate, api_name="translate")

    demo.translator = tr          # for tests and the benchmark
    return demo
