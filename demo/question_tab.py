"""The "Question the attention" tab: ``build_question_tab(tr, assets)`` lays it out inside the page's
``gr.Tabs`` and wires its events to the handlers in ``demo/question.py``. Its result lives in its own
``gr.State``; events return dicts keyed by component."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from seq2seq import checkpoint as ckpt
from seq2seq.translator import MAX_BEAM, MAX_CHARS, MAX_OUTPUT, Translator

from . import model_folder
from . import question as q
from .state import RESULT_TTL_S


INTRO = (
    "Is attention an alignment? Does the output follow it? Type a German sentence and an English "
    "translation (or pick an example to use its reference): every selected variant is **scored on that same "
    "translation** by forcing it token by token, so the heatmaps below share both axes. Then continue from a "
    "prefix, intervene on attention, set it beside gradient attribution and eflomal's links, or read the "
    "beam search's tree.")


def _table(headers_rows) -> dict:
    headers, rows = headers_rows
    return {"headers": headers, "data": rows}


def build_question_tab(tr: Translator | None, assets: Path = ckpt.ASSETS) -> gr.Tab:
    """Lay out the tab (call inside ``gr.Tabs``) and wire its events."""
    installed = q._installed(tr)
    examples = model_folder.page_text(assets).examples
    with gr.Tab("Question the attention", id="question") as tab:
        state = gr.State(None, time_to_live=RESULT_TTL_S)
        tree_state = gr.State(None, time_to_live=RESULT_TTL_S)
        gr.Markdown(INTRO, latex_delimiters=[])
        with gr.Row():
            text = gr.Textbox(label="German sentence", lines=2, elem_id="q-source",
                              info=f"Up to {MAX_CHARS} characters.")
            target = gr.Textbox(label="English translation to force", lines=2, elem_id="q-target",
                                info=f"Checked like the source; up to {MAX_OUTPUT - 1} pieces.")
        if examples:
            gr.Examples([[s, r] for s, r in examples], inputs=[text, target], cache_examples=False,
                        label="Examples from the test split, with their reference translation",
                        examples_per_page=10)
        with gr.Row():
            variants = gr.CheckboxGroup(installed, value=installed, label="Variants", scale=3)
            fill_from = gr.Dropdown(installed, value=installed[0] if installed else None, scale=1,
                                    label="…or force this variant's own greedy translation")
            fill = gr.Button("Use its translation", scale=0)
        score = gr.Button("Score this translation", variant="primary", elem_id="q-score")
        summary = gr.Markdown("", latex_delimiters=[], elem_id="q-summary")
        logp_table = gr.Dataframe(headers=["t", "token"], label="Per-token log p(y_t | y_<t, x) of the forced translation", interactive=False,
                                  wrap=True, elem_id="q-logp")
        logp_plot = gr.Image(label="log p per step", format="png", interactive=False, show_label=False)
        heatmaps = gr.Gallery(label="α of each variant on the forced translation (identical axes, one 0–1 scale)",
                              columns=2, format="png", height="auto", object_fit="contain", elem_id="q-heatmaps")

        with gr.Accordion("Difference of two variants: α_A − α_B", open=False):
            with gr.Row():
                diff_a = gr.Dropdown(installed, value=installed[1] if len(installed) > 1 else None, label="A")
                diff_b = gr.Dropdown(installed, value=installed[-1] if installed else None, label="B")
                diff_btn = gr.Button("Show α_A − α_B", scale=0)
            diff_img = gr.Image(label="α_A − α_B (red: A attends more, blue: B does; scale −1…1)", format="png",
                                interactive=False)

        with gr.Accordion("Continue from here", open=False):
            gr.Markdown("Force the first k pieces of the translation, then let each variant decode the rest "
                        "greedily.", latex_delimiters=[])
            with gr.Row():
                k = gr.Slider(0, 20, value=2, step=1, label="k (forced pieces)")
                cont_btn = gr.Button("Continue", scale=0)
            cont_table = gr.Dataframe(headers=list(q.CONTINUE_HEADERS), interactive=False, wrap=True, label="Continuations")

        with gr.Accordion("Interventions: does the output follow attention?", open=False):
            gr.Markdown(q.DELTA_NOTE, latex_delimiters=[])
            gr.Markdown(q.KNOCK_OUT_MEANS, latex_delimiters=[])
            with gr.Row():
                knock = gr.CheckboxGroup([], label="Source pieces to knock out", elem_id="q-knock")
                knock_btn = gr.Button("Knock out and re-decode", scale=0, elem_id="q-knock-run")
            knock_table = gr.Dataframe(headers=list(q.INTERVENTION_HEADERS), interactive=False, wrap=True, label="Knock-out", elem_id="q-knock-table")
            gr.Markdown(q.FORCE_MEANS, latex_delimiters=[])
            with gr.Row():
                force_t = gr.Number(1, precision=0, minimum=1, label="Step t")
                force_j = gr.Dropdown([], label="Source piece")
                force_btn = gr.Button("Force α_t and continue", scale=0)
            force_table = gr.Dataframe(headers=list(q.INTERVENTION_HEADERS), interactive=False, wrap=True, label="Forced α_t")
            gr.Markdown(q.DELETE_MEANS, latex_delimiters=[])
            with gr.Row():
                word = gr.Dropdown([], label="Source word to delete")
                delete_btn = gr.Button("Delete and re-translate", scale=0)
            delete_table = gr.Dataframe(headers=list(q.INTERVENTION_HEADERS), interactive=False, wrap=True, label="Word deleted")

        with gr.Accordion("Attribution beside attention", open=False):
            gr.Markdown(q.ATTRIBUTION_MEANS, latex_delimiters=[])
            attr_btn = gr.Button("Compute gradient × input")
            attr_table = gr.Dataframe(headers=list(q.AGREEMENT_HEADERS), interactive=False, wrap=True, label="Agreement of α and attribution, this sentence")
            attr_gallery = gr.Gallery(label="α (left) and gradient × input (right), per variant; none: attribution only",
                                      columns=2, format="png", height="auto", object_fit="contain")

        with gr.Accordion("Agreement with eflomal", open=False):
            gr.Markdown(q.ALIGNER_MEANS, latex_delimiters=[])
            overlay_note = gr.Markdown("", latex_delimiters=[])
            overlay = gr.Gallery(label="α over words with eflomal's links", columns=2, format="png", height="auto",
                                 object_fit="contain")
            gr.Markdown(q.agreement_md(assets), latex_delimiters=[])

        with gr.Accordion("The beam tree", open=False):
            with gr.Row():
                tree_variant = gr.Dropdown(installed, value=installed[-1] if installed else None, label="Variant")
                tree_beam = gr.Slider(1, MAX_BEAM, value=5, step=1, label="Beam width")
                tree_nbest = gr.Slider(1, MAX_BEAM, value=3, step=1, label="n-best")
                tree_btn = gr.Button("Draw the beam tree", scale=0)
            tree_md = gr.Markdown("", latex_delimiters=[])
            tree_img = gr.Image(label="Beam tree", format="png", interactive=False)
            tree_table = gr.Dataframe(elem_id="q-tree-table", headers=["node", "t", "token", "log p", "Σ log p", "score", "status", "n-best",
                                               "path"], interactive=False, wrap=True, max_height=400,
                                      label="Every extension ranked (click a row: its α_t and top-5)")
            with gr.Row():
                node_md = gr.Markdown("", latex_delimiters=[])
                node_bars = gr.Image(label="α_t of the node", format="png", interactive=False, show_label=False)
                node_top = gr.Label(label="top-5 at that step", num_top_classes=5)

        with gr.Accordion("Export", open=False):
            gr.Markdown("α per variant as CSV, attribution matrices (once computed), Pharaoh `i-j` word alignments "
                        f"(argmax and thresholded at α ≥ {q.THRESHOLD}), everything also in one JSON.", latex_delimiters=[])
            export_btn = gr.Button("Export")
            export_files = gr.File(label="Files", file_count="multiple", interactive=False)

        # ---- wiring ----
        def on_score(text_, target_, variants_):
            result = q.analyse(tr, text_, target_, variants_)
            n = len(result["target_ids"]) - 1
            pieces, words = q.piece_choices(result), q.word_choices(result)
            return {state: result, summary: q.forced_summary(result), logp_table: _table(q.logprob_rows(result)),
                    logp_plot: q.logprob_plot(result), heatmaps: q.heatmaps(result),
                    k: gr.update(maximum=max(1, n), value=min(2, n)),
                    knock: gr.update(choices=pieces, value=[]), force_j: gr.update(choices=pieces, value=0),
                    word: gr.update(choices=words, value=0), overlay: q.overlay_view(assets, result),
                    overlay_note: "" if q.aligner_links(assets, result["text"], result["target"]) else
                    "eflomal's links are stored for the page's examples (with their reference) only.",
                    attr_table: None, attr_gallery: None, knock_table: None, force_table: None,
                    delete_table: None, cont_table: None, diff_img: None, export_files: None}

        score_outputs = [state, summary, logp_table, logp_plot, heatmaps, k, knock, force_j, word, overlay,
                         overlay_note, attr_table, attr_gallery, knock_table, force_table, delete_table, cont_table,
                         diff_img, export_files]
        for trigger in (score.click, target.submit):
            trigger(on_score, [text, target, variants], score_outputs, api_visibility="private",
                    concurrency_limit=2)

        fill.click(lambda t, v: q.greedy_text(tr, t, v), [text, fill_from], target, api_visibility="private")
        diff_btn.click(q.difference, [state, diff_a, diff_b], diff_img, api_visibility="private")
        cont_btn.click(lambda r, k_: _table(q.continue_view(tr, r, k_)), [state, k], cont_table,
                       api_visibility="private")
        knock_btn.click(lambda r, p: _table(q.knock_out_view(tr, r, p)), [state, knock], knock_table,
                        api_visibility="private")
        force_btn.click(lambda r, t, j: _table(q.force_alpha_view(tr, r, t, j)), [state, force_t, force_j],
                        force_table, api_visibility="private")
        delete_btn.click(lambda r, w: _table(q.delete_word_view(tr, r, w)), [state, word], delete_table,
                         api_visibility="private")

        def on_attribution(result):
            result, headers, rows = q.attribution_view(tr, result)
            return {state: result, attr_table: {"headers": headers, "data": rows},
                    attr_gallery: q.attribution_pairs(result)}

        attr_btn.click(on_attribution, state, [state, attr_table, attr_gallery], api_visibility="private",
                       concurrency_limit=2)

        def on_tree(text_, variant_, beam_, n_best_):
            view = q.beam_tree_view(tr, text_, variant_, beam_, n_best_)
            return {tree_state: view["tree"], tree_md: view["summary"], tree_img: view["figure"],
                    tree_table: {"headers": view["headers"], "data": view["rows"]},
                    node_md: "", node_bars: None, node_top: None}

        tree_btn.click(on_tree, [text, tree_variant, tree_beam, tree_nbest],
                       [tree_state, tree_md, tree_img, tree_table, node_md, node_bars, node_top],
                       api_visibility="private", concurrency_limit=2)

        def on_node(tree, evt: gr.SelectData):
            view = q.node_view(tree, evt.index)
            return {node_md: view["md"], node_bars: view["bars"], node_top: view["candidates"]}

        tree_table.select(on_node, tree_state, [node_md, node_bars, node_top], api_visibility="private")
        export_btn.click(q.export_question, state, export_files, api_visibility="private")
    return tab
