"""The "Question the attention" tab: ``build_question_tab(tr, assets)`` lays it out inside the page's
``gr.Tabs`` and wires its events to the handlers in ``demo/question.py``. Its result lives in its own
``gr.State``; events return dicts keyed by component. A refused input is one line beside its button,
and the results it would have replaced are hidden (``state.shows_refusal``), as on the Translate tab.
Pictures are ``gr.HTML`` images at their own size (``question.pictures_html``): never cropped."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np

from seq2seq import analysis, checkpoint as ckpt
from seq2seq.translator import MAX_BEAM, MAX_CHARS, MAX_OUTPUT, Translator

from . import model_folder
from . import question as q
from .state import RESULT_TTL_S, available, shows_refusal
from .tour import QUESTION_TOOLS


INTRO = (
    "Is attention an alignment? Does the output follow it? Type a German sentence and an English "
    "translation (or pick an example to use its reference): every selected variant is **scored on that same "
    "translation** by forcing it token by token, so the heatmaps below share both axes. Then continue from a "
    "prefix, intervene on attention, set it beside gradient attribution and eflomal's links, or read the "
    "beam search's tree.")


def _table(headers_rows) -> dict:
    headers, rows = headers_rows
    return {"headers": headers, "data": rows}


def _message(elem_id: str) -> gr.Markdown:
    """Where a refused input of the button beside it is shown: one line, hidden until then."""
    return gr.Markdown("", visible=False, elem_id=elem_id, latex_delimiters=[])


def _answer(name: str, headers, label: str) -> tuple[gr.Markdown, gr.Dataframe]:
    """A section's refusal line (``q-<name>-message``) and its result table (``q-<name>-table``)."""
    return _message(f"q-{name}-message"), gr.Dataframe(headers=list(headers), interactive=False, wrap=True,
                                                       label=label, elem_id=f"q-{name}-table")


def build_question_tab(tr: Translator | None, assets: Path = ckpt.ASSETS) -> dict:
    """Lay out the tab (call inside ``gr.Tabs``) and wire its events. Returns the tab and
    ``set_up``: (a handler that sets the tab up for a link's tool, its outputs)."""
    installed = available(tr)
    examples = model_folder.page_text(assets).examples
    with gr.Tab("Question the attention", id="question") as tab:
        state = gr.State(None, time_to_live=RESULT_TTL_S)
        tree_state = gr.State(None, time_to_live=RESULT_TTL_S)
        gr.Markdown(INTRO, latex_delimiters=[])
        direction = gr.Radio(q.direction_choices(tr), value=q.direction_choices(tr)[0][1], label="Direction",
                             visible=len(q.direction_choices(tr)) > 1, elem_id="q-direction")
        with gr.Row():
            text = gr.Textbox(label="German sentence", lines=2, elem_id="q-source",
                              info=f"Up to {MAX_CHARS} characters.")
            target = gr.Textbox(label="English translation to force", lines=2, elem_id="q-target",
                                info=f"Checked like the source; up to {MAX_OUTPUT - 1} pieces.")
        if examples:
            with gr.Column() as examples_de_en:
                gr.Examples([[s, r] for s, r in examples],
                            inputs=[text, target], cache_examples=False,
                            label="Examples from the test split, with their reference translation",
                            examples_per_page=10)
        with gr.Column(visible=False) as examples_en_de:
            gr.Examples(q.everyday_examples("en-de"), inputs=[text, target], cache_examples=False,
                        label="Everyday sentences written for this project, with their translation",
                        examples_per_page=10)
        with gr.Row():
            variants = gr.CheckboxGroup(installed, value=installed, label="Variants", scale=3)
            fill_from = gr.Dropdown(installed, value=installed[0] if installed else None, scale=1,
                                    label="…or force this variant's own greedy translation")
            fill = gr.Button("Use its translation", scale=0, elem_id="q-fill")
        score = gr.Button("Score this translation", variant="primary", elem_id="q-score")
        message = _message("q-message")
        with gr.Column(visible=False, elem_id="q-results") as results:
            summary = gr.Markdown("", latex_delimiters=[], elem_id="q-summary")
            logp_table = gr.Dataframe(headers=["t", "token"], interactive=False, wrap=True, elem_id="q-logp",
                                      label="Per-token log p(y_t | y_<t, x) of the forced translation")
            logp_plot = gr.HTML("", elem_id="q-logp-plot")
            gr.Markdown("**α of each variant on the forced translation** (identical axes, one 0–1 scale)",
                        latex_delimiters=[])
            heatmaps = gr.HTML("", elem_id="q-heatmaps")

            with gr.Accordion("Difference of two variants: α_A − α_B", open=False):
                with gr.Row():
                    diff_a = gr.Dropdown(installed, value=installed[1] if len(installed) > 1 else None, label="A")
                    diff_b = gr.Dropdown(installed, value=installed[-1] if installed else None, label="B")
                    diff_btn = gr.Button("Show α_A − α_B", scale=0, elem_id="q-diff-run")
                diff_msg = _message("q-diff-message")
                gr.Markdown("Red: A attends more; blue: B does; scale −1…1.", latex_delimiters=[])
                diff_img = gr.HTML("", elem_id="q-diff")

            with gr.Accordion("Continue from here", open=False):
                gr.Markdown("Force the first k pieces of the translation, then let each variant decode the rest "
                            "greedily.", latex_delimiters=[])
                with gr.Row():
                    k = gr.Slider(0, 20, value=2, step=1, label="k (forced pieces)")
                    cont_btn = gr.Button("Continue", scale=0, elem_id="q-continue")
                cont_msg, cont_table = _answer("continue", q.CONTINUE_HEADERS, "Continuations")

            with gr.Accordion("Interventions: does the output follow attention?", open=False,
                              elem_id="q-knock-section") as knock_section:
                gr.Markdown(q.DELTA_NOTE, latex_delimiters=[])
                gr.Markdown(q.KNOCK_OUT_MEANS, latex_delimiters=[])
                with gr.Row():
                    knock = gr.CheckboxGroup([], label="Source pieces to knock out", elem_id="q-knock")
                    knock_btn = gr.Button("Knock out and re-decode", scale=0, elem_id="q-knock-run")
                knock_msg, knock_table = _answer("knock", q.INTERVENTION_HEADERS, "Knock-out")
                gr.Markdown(q.FORCE_MEANS, latex_delimiters=[])
                with gr.Row():
                    force_t = gr.Number(1, precision=0, label="Step t", elem_id="q-force-t")
                    force_j = gr.Dropdown([], label="Source piece")
                    force_btn = gr.Button("Force α_t and continue", scale=0, elem_id="q-force-run")
                force_msg, force_table = _answer("force", q.INTERVENTION_HEADERS, "Forced α_t")
                gr.Markdown(q.DELETE_MEANS, latex_delimiters=[])
                with gr.Row():
                    word = gr.Dropdown([], label="Source word to delete")
                    delete_btn = gr.Button("Delete and re-translate", scale=0, elem_id="q-delete-run")
                delete_msg, delete_table = _answer("delete", q.INTERVENTION_HEADERS, "Word deleted")

            with gr.Accordion("Attribution beside attention", open=False, elem_id="q-attr-section") as attr_section:
                gr.Markdown(q.ATTRIBUTION_MEANS, latex_delimiters=[])
                attr_btn = gr.Button("Compute gradient × input", elem_id="q-attr-run")
                attr_msg = _message("q-attr-message")
                attr_table = gr.Dataframe(headers=list(q.AGREEMENT_HEADERS), interactive=False, wrap=True,
                                          label="Agreement of α and attribution, this sentence")
                gr.Markdown("α (left) and gradient × input (right), per variant; none: attribution only.",
                            latex_delimiters=[])
                attr_gallery = gr.HTML("", elem_id="q-attr")

            with gr.Accordion("Contrastive questions: why this token and not another?", open=False):
                gr.Markdown(q.CONTRAST_MEANS, latex_delimiters=[])
                with gr.Row():
                    contrast_t = gr.Number(1, precision=0, label="Step t", elem_id="q-contrast-t")
                    contrast_alt = gr.Dropdown([], label="Alternative token", elem_id="q-contrast-alt",
                                               allow_custom_value=True,
                                               info="One of step t's top-5, or type one (e.g. card)")
                    contrast_btn = gr.Button("Contrast", scale=0, elem_id="q-contrast-run")
                contrast_msg, contrast_table = _answer("contrast", q.CONTRAST_HEADERS, "log p, chosen vs alternative")
                contrast_img = gr.HTML("", elem_id="q-contrast")
                gr.Examples([["Kann ich mit Karte bezahlen?", "Can I pay with map?", 5, "card"]],
                            inputs=[text, target, contrast_t, contrast_alt], cache_examples=False,
                            label="The additive model writes map: contrast it with card (score it first)")

            with gr.Accordion("Agreement with eflomal", open=False):
                gr.Markdown(q.ALIGNER_MEANS, latex_delimiters=[])
                overlay_note = gr.Markdown("", latex_delimiters=[])
                overlay = gr.HTML("", elem_id="q-overlay")
                gr.Markdown(q.agreement_md(assets), latex_delimiters=[])

            with gr.Accordion("Export", open=False):
                gr.Markdown("α per variant as CSV, attribution matrices (once computed), Pharaoh `i-j` word "
                            f"alignments (argmax and thresholded at α ≥ {q.THRESHOLD}), everything also in one "
                            "JSON.", latex_delimiters=[])
                export_btn = gr.Button("Export", elem_id="q-export")
                export_msg = _message("q-export-message")
                export_files = gr.File(label="Files", file_count="multiple", interactive=False)

        with gr.Accordion("The beam tree", open=False):
            with gr.Row():
                tree_variant = gr.Dropdown(installed, value=installed[-1] if installed else None, label="Variant")
                tree_beam = gr.Slider(1, MAX_BEAM, value=5, step=1, label="Beam width")
                tree_nbest = gr.Slider(1, MAX_BEAM, value=3, step=1, label="n-best")
                tree_btn = gr.Button("Draw the beam tree", scale=0, elem_id="q-tree-run")
            tree_msg = _message("q-tree-message")
            with gr.Column(visible=False) as tree_box:
                tree_md = gr.Markdown("", latex_delimiters=[], elem_id="q-tree-summary")
                tree_img = gr.HTML("", elem_id="q-tree")
                tree_table = gr.Dataframe(elem_id="q-tree-table", headers=list(q.TREE_HEADERS), interactive=False,
                                          wrap=True, max_height=400,
                                          label="Every extension ranked (click a row: its α_t and top-5)")
                node_msg = _message("q-node-message")
                with gr.Row():
                    node_md = gr.Markdown("", latex_delimiters=[])
                    node_bars = gr.HTML("", elem_id="q-node-bars")
                    node_top = gr.Label(label="top-5 at that step", num_top_classes=5)

        # ---- wiring: every handler's refusal is one line beside its button ----
        sub_messages = [contrast_msg, diff_msg, cont_msg, knock_msg, force_msg, delete_msg, attr_msg, export_msg]
        sub_results = [contrast_table, contrast_img,
                       attr_table, attr_gallery, knock_table, force_table, delete_table, cont_table, diff_img,
                       export_files]

        def on_direction(direction_):
            src, tgt = q.languages(direction_)
            return {text: gr.update(label=f"{src} sentence"), target: gr.update(label=f"{tgt} translation to force"),
                    examples_en_de: gr.update(visible=direction_ == "en-de"),
                    **({examples_de_en: gr.update(visible=direction_ == "de-en")} if examples else {})}

        direction.change(on_direction, direction,
                         [text, target, examples_en_de, *([examples_de_en] if examples else [])],
                         api_visibility="private")

        def on_score(text_, target_, variants_, direction_, step_=1):
            result = q.analyse(tr, text_, target_, variants_, direction_)
            n = len(result["target_pieces"]) - 1
            pieces, words = q.piece_choices(result), q.word_choices(result)
            return {state: result, summary: q.forced_summary(result), logp_table: _table(q.logprob_rows(result)),
                    logp_plot: q.wide_picture_html(q.logprob_plot(result), "log p per step", "q-logp-img"),
                    heatmaps: q.pictures_html(q.heatmaps(result)),
                    k: gr.update(maximum=max(1, n), value=min(2, n)),
                    knock: gr.update(choices=pieces, value=[]), force_j: gr.update(choices=pieces, value=0),
                    word: gr.update(choices=words, value=0),
                    contrast_alt: gr.update(choices=q.contrast_choices(result, step_)),
                    overlay: q.pictures_html(q.overlay_view(assets, result)),
                    overlay_note: "" if q.aligner_links(assets, result["text"], result["target"]) else
                    "eflomal's links are stored for the page's examples (with their reference) only.",
                    **{c: None for c in sub_results}, **{m: gr.update(visible=False) for m in sub_messages}}

        score_outputs = [message, results, state, summary, logp_table, logp_plot, heatmaps, k, knock, force_j,
                         word, contrast_alt, overlay, overlay_note, *sub_results, *sub_messages]
        for trigger in (score.click, target.submit):
            trigger(shows_refusal(on_score, message, hide=[results], clear=[state]), [text, target, variants, direction,
                                                                                   contrast_t],
                    score_outputs, api_visibility="private", concurrency_limit=2, show_progress_on=[score])

        fill.click(shows_refusal(lambda t, v, d: {target: q.greedy_text(tr, t, v, d)}, message),
                   [text, fill_from, direction], [message, target], api_visibility="private")

        def section(button, handler, inputs, msg, shown, **kw):
            """One button of a section: its result in ``shown``, hidden when its input is refused."""
            button.click(shows_refusal(lambda *a: {shown: handler(*a)}, msg, hide=[shown]), inputs,
                         [msg, shown], api_visibility="private", show_progress_on=[button], **kw)

        section(diff_btn, lambda r, a, b: q.pictures_html([(q.difference(r, a, b), f"α[{a}] − α[{b}]")]),
                [state, diff_a, diff_b], diff_msg, diff_img)
        section(cont_btn, lambda r, k_: _table(q.continue_view(tr, r, k_)), [state, k], cont_msg, cont_table)
        section(knock_btn, lambda r, p: _table(q.knock_out_view(tr, r, p)), [state, knock], knock_msg, knock_table)
        section(force_btn, lambda r, t, j: _table(q.force_alpha_view(tr, r, t, j)), [state, force_t, force_j],
                force_msg, force_table)
        section(delete_btn, lambda r, w: _table(q.delete_word_view(tr, r, w)), [state, word], delete_msg,
                delete_table)
        def on_contrast(result, step, alternative):
            headers, rows, pictures = q.contrast_view(tr, result, step, alternative)
            return {contrast_table: {"headers": headers, "data": rows}, contrast_img: q.pictures_html(pictures)}

        contrast_btn.click(shows_refusal(on_contrast, contrast_msg, hide=[contrast_table, contrast_img]),
                           [state, contrast_t, contrast_alt], [contrast_msg, contrast_table, contrast_img],
                           api_visibility="private", concurrency_limit=2, show_progress_on=[contrast_btn])
        contrast_t.change(lambda r, t: gr.update(choices=q.contrast_choices(r, t) if r else []),
                          [state, contrast_t], contrast_alt, api_visibility="private")
        section(export_btn, q.export_question, state, export_msg, export_files)

        def on_attribution(result):
            for line, out in q.attribution_steps(tr, result):
                if out is None:             # which variants are being computed, the old result hidden
                    yield {attr_msg: gr.update(value=line, visible=True), attr_table: gr.update(visible=False),
                           attr_gallery: gr.update(visible=False)}
                    continue
                result, headers, rows = out
                yield {state: result, attr_table: {"headers": headers, "data": rows},
                       attr_gallery: q.pictures_html(q.attribution_pairs(result))}

        attr_btn.click(shows_refusal(on_attribution, attr_msg, hide=[attr_table, attr_gallery]), state,
                       [attr_msg, attr_table, attr_gallery, state], api_visibility="private",
                       concurrency_limit=2, show_progress_on=[attr_btn])

        def on_tree(text_, variant_, beam_, n_best_, direction_):
            view = q.beam_tree_view(tr, text_, variant_, beam_, n_best_, direction_)
            return {tree_state: view["tree"], tree_md: view["summary"],
                    tree_img: q.wide_picture_html(view["figure"], "the beam search's tree", "q-tree-img"),
                    tree_table: {"headers": view["headers"], "data": view["rows"]},
                    node_md: "", node_bars: "", node_top: None, node_msg: gr.update(visible=False)}

        tree_btn.click(shows_refusal(on_tree, tree_msg, hide=[tree_box], clear=[tree_state]),
                       [text, tree_variant, tree_beam, tree_nbest, direction],
                       [tree_msg, tree_box, tree_state, tree_md, tree_img, tree_table, node_md, node_bars, node_top,
                        node_msg], api_visibility="private", concurrency_limit=2, show_progress_on=[tree_btn])

        def on_node(tree, evt: gr.SelectData):
            view = q.node_view(tree, evt.index)
            return {node_md: view["md"], node_bars: "" if view["bars"] is None else
                    q.wide_picture_html(view["bars"], "α_t of the node"), node_top: view["candidates"]}

        tree_table.select(shows_refusal(on_node, node_msg, clear=[node_md, node_bars, node_top]), tree_state,
                          [node_msg, node_md, node_bars, node_top], api_visibility="private")

        def set_up(tool, text_, variants_, direction_, step, words_):
            """A link's tool (``tour.QUESTION_TOOLS``) in this tab: the link's sentence scored on its first
            variant's own translation, and the tool's section opened and run at the link's step t (in
            words or pieces, as the link's unit). knock-out knocks out the source piece that variant
            attended to most at step t; attribution computes gradient × input. Raises ``gr.Error`` on a
            refused input (the Translate tab shows why)."""
            if tool not in QUESTION_TOOLS:
                raise gr.Error(f"Unknown tool {tool!r}; choose one of {', '.join(QUESTION_TOOLS)}.")
            first = next(iter(variants_ or []), None)
            target_ = q.greedy_text(tr, text_, first, direction_)
            out = on_score(text_, target_, variants_, direction_)
            result = out[state]
            pieces = result["target_pieces"]
            groups = analysis.target_groups(pieces) if words_ else [[i] for i in range(len(pieces))]
            row = groups[min(max(int(step), 1), len(groups)) - 1][0]        # the first piece of step t
            out.update({message: gr.update(value="", visible=False), results: gr.update(visible=True),
                        text: result["text"], target: result["target"], variants: result["variants"],
                        direction: result["direction"], force_t: row + 1, contrast_t: row + 1,
                        contrast_alt: gr.update(choices=q.contrast_choices(result, row + 1))})
            if tool == "knock-out":
                alpha = result["forced"][first if first in result["forced"] else result["variants"][0]]["attention"]
                chosen = [] if alpha is None else [int(np.asarray(alpha)[row].argmax())]
                out.update({knock: gr.update(choices=q.piece_choices(result), value=chosen),
                            knock_section: gr.update(open=True)})
                if chosen:
                    out[knock_table] = _table(q.knock_out_view(tr, result, chosen))
            else:
                *_, computed = on_attribution(result)        # its last answer: the progress lines are for the page
                out.update(computed)
                out[attr_section] = gr.update(open=True)
            return out

        set_up_outputs = list(dict.fromkeys([*score_outputs, text, target, variants, direction, force_t, contrast_t,
                                             knock_section, attr_section]))
    return {"tab": tab, "set_up": (set_up, set_up_outputs)}
