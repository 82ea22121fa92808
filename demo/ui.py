"""The Gradio page: ``build_demo()`` loads the models once and assembles one builder per tab;
each builder lays out its components and wires their events to plain functions:

    text box ─ on_compare ─ demo/state.py (translate: the library checks, tokenises, decodes)
                          └ demo/views.py (results_html: summary, heatmaps, step data)
                              └ demo/plots.py (heatmap pixels)
    browser  ─ demo/page.js (the step view: no server call)

Nothing here holds model logic or state between requests: a result lives in the page's
``gr.State``. Events return dicts keyed by component. Start-up imports no matplotlib: the
first request (or the About tab's plot, drawn on page load) does.
"""
from __future__ import annotations

import inspect
import warnings
from functools import lru_cache
from pathlib import Path

import gradio as gr

from seq2seq import checkpoint as ckpt
from seq2seq.attention import VARIANTS
from seq2seq.tokenizer import DEFAULT_DIRECTION
from seq2seq.translator import (LANGUAGES, MAX_BEAM, MAX_CHARS, MAX_PIECES, MAX_SEED, METHODS, DecodingSettings,
                                Translator, direction_label)

from . import about, model_folder, question, state
from .tour import QUESTION_TOOLS, build_tour
from .history_panel import build_history_panel
from .question_tab import build_question_tab
from .toy_tab import build_toy_tab
from . import gradio_private

PAGE_JS = Path(__file__).with_name("page.js").read_text(encoding="utf-8")
PAGE_CSS = Path(__file__).with_name("page.css").read_text(encoding="utf-8")
# After a run the input row goes to the top of the window: the next sentence is typed without
# scrolling, and the results begin just below the controls.
SCROLL_TO_RESULTS = ("() => { const el = document.getElementById('input-row'),"
                     " area = document.getElementById('results-area');"
                     " if (el && area && area.offsetParent !== null) el.scrollIntoView({block: 'start'}); }")
KEYS = "Enter translates; Shift+Enter starts a new line."
TEMPERATURE_HINT = ("Divides the scores before the softmax: below 1 sharpens p (closer to greedy), above 1 flattens "
                    "it (more varied, soon garbled). {default} was chosen on the dev split.")
UNITS = {"words": True, "pieces": False}
# A drawing event's inputs end with the hidden pixel-ratio number: the browser fills it in as it sends them.
WITH_PIXEL_RATIO = "(...args) => [...args.slice(0, -1), window.devicePixelRatio || 1]"
LINK_NUMBERS = ("beam", "n_best", "temperature", "seed")
# Gradio's empty-value box (an Image or Gallery with nothing yet) is a <div aria-label> without a
# role, which assistive technology ignores (axe: aria-prohibited-attr): it is given role="img".
PAGE_WIDE_JS = """() => {
  const fix = () => document.querySelectorAll('div.empty[aria-label]:not([role])')
    .forEach((el) => el.setAttribute('role', 'img'));
  fix();
  new MutationObserver(fix).observe(document.body, {childList: true, subtree: true});
}"""
LENGTH_PLOT_TITLE = "BLEU by source sentence length (cf. Bahdanau et al. 2015, Fig. 2)"
THEME_FONT = ["DejaVu Sans", "ui-sans-serif", "system-ui", "sans-serif"]     # installed: no web font to fetch
THEME_MONO = ["DejaVu Sans Mono", "ui-monospace", "monospace"]
# The default theme's subdued text (1.9:1), orange buttons and tab (2.8:1) and red stop button
# (3.8:1) miss the 4.5:1 contrast for text: darker shades of the same hues.
THEME_COLOURS = dict(body_text_color_subdued="#4b5563", color_accent="*primary_700",
                     button_primary_background_fill="*primary_700", button_primary_background_fill_hover="*primary_800",
                     button_primary_background_fill_dark="*primary_700",
                     button_cancel_background_fill="#b91c1c", button_cancel_background_fill_hover="#991b1b")
# Page-wide rules (the results block has its own, page.css): a focus ring on every control,
# and text colours that keep 4.5:1 contrast on the theme's light backgrounds.
PAGE_WIDE_CSS = """
:focus-visible, input:focus-visible + span, label:has(input:focus-visible) {
  outline: 3px solid #1d4ed8 !important; outline-offset: 2px; }
input[type=checkbox]:focus-visible, input[type=radio]:focus-visible { outline: 3px solid #1d4ed8 !important; }
#input-row { scroll-margin-top: 4px; }
@media (max-width: 700px) {      /* a phone: the quality line full width, the button under it */
  .row:has(> #quality-line) { flex-direction: column; align-items: flex-start; gap: 4px; }
  #quality-line p { margin: 0; font-size: 14px; } }
.example-row-label { font-weight: 600; margin: 0; }
button[role=tab][aria-selected=true], button[role=tab].selected { color: #c2410c !important; }
"""


def configure_torch(threads: int | None = 1) -> None:
    """Process-wide torch settings for serving, one sentence at a time.

    * ``threads``: intra-op threads. Decoding is one small GRU step at a time, which
      extra threads do not speed up, and on a shared 2-core machine spinning worker
      threads slow everything down; ``None`` keeps torch's default.
    * oneDNN off: it compiles and caches a kernel for every tensor shape it meets, and
      every sentence length brings new shapes, so RSS grows with that cache alone; torch's
      own kernels decode as fast here (``benchmarks/bench_app.py``).
    """
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    torch.backends.mkldnn.enabled = False


# ---- the Translate tab ------------------------------------------------------------------------

def build_translate_tab(tr: Translator | None, cards: dict, hashes: dict[str, str],
                        page: model_folder.PageText | None = None) -> dict:
    """Input, settings and the results block. Returns the components other tabs may wire to.
    ``page``: the served folder's language names and examples (``model_folder.page_text``)."""
    installed = state.available(tr)
    page = page or model_folder.PageText("German", "English", state.load_examples())
    examples = page.examples
    # The project's everyday sentences are German: another language pair's page has only its own examples.
    tries = state.load_try_examples() if page.source == "German" else []
    directions = state.directions(tr)
    default_t = DecodingSettings.temperature
    with gr.Row():
        gr.Markdown(about.quality_line(cards), latex_delimiters=[], elem_id="quality-line")
        about_link = gr.Button("About the models →", size="sm", variant="secondary", scale=0, elem_id="about-link")
    with gr.Row(equal_height=False, elem_id="input-row"):
        with gr.Column(scale=3):
            # Shown only where the models translate both ways (the choice is theirs to offer).
            direction = gr.Radio([(direction_label(d), d) for d in directions], value=directions[0],
                                 label="Direction", visible=len(directions) > 1, elem_id="direction")
            text = gr.Textbox(label=f"{page.source} sentence", lines=1, max_lines=4, elem_id="source-text",
                              placeholder=f"e.g. {tries[0][0]}" if tries else (examples[0][0] if examples else ""),
                              info=f"{KEYS} Up to {MAX_CHARS} characters ({MAX_PIECES} sentencepiece pieces).")
            # under the box: next to where one types, and on a phone on the first screen
            run = gr.Button("Translate and compare", variant="primary", elem_id="run")
        with gr.Column(scale=2):
            choices = [(v if v in installed else f"{v} (not installed)", v) for v in VARIANTS]
            variants = gr.CheckboxGroup(choices, value=installed, label="Variants", elem_id="variants")
            with gr.Row():
                method = gr.Radio(list(METHODS), value="greedy", label="Decoding", scale=2)
                words = gr.Checkbox(True, label="Words, not pieces", scale=1, elem_id="words",
                                    info="source pieces summed, target pieces averaged")
            with gr.Row(visible=False) as beam_row:
                beam = gr.Slider(1, MAX_BEAM, value=5, step=1, label="Beam width")
                n_best = gr.Slider(1, MAX_BEAM, value=3, step=1, label="n-best kept")
            with gr.Row(visible=False) as sample_row:
                temperature = gr.Slider(0.1, 2.0, value=default_t, step=0.05, label="Temperature",
                                        info=TEMPERATURE_HINT.format(default=default_t), elem_id="temperature")
                seed = gr.Number(0, precision=0, minimum=0, maximum=MAX_SEED, label="Seed")
    example_boxes = []           # below the controls: on a phone the button comes first
    for label, rows in (("Try these (click one to run it)", [s for s, _ in tries]),
                        ("Hard cases from the test split", [s for s, _ in examples])):
        if rows:
            example_boxes.append(gr.Examples([[s] for s in rows], inputs=[text], cache_examples=False, label=label,
                                             examples_per_page=10))
    message = gr.Markdown("", visible=False, elem_id="message", latex_delimiters=[])
    switch = gr.Button("", visible=False, size="sm", variant="secondary", elem_id="switch-direction")
    result_state = gr.State(None, time_to_live=state.RESULT_TTL_S)
    # The screen's devicePixelRatio, read by each drawing event's js (WITH_PIXEL_RATIO): maps are
    # drawn at their CSS size times it (checked in plots.screen_ratio).
    pixel_ratio = gr.Number(None, visible=False, elem_id="pixel-ratio")
    with gr.Column(visible=False, elem_id="results-area") as area:
        results = gr.HTML("", elem_id="results", js_on_load=PAGE_JS, css_template=PAGE_CSS, apply_default_css=False)
        with gr.Row():
            zip_button = gr.Button("Download all (zip: JSON, PNG and CSV per variant)", size="sm", scale=0,
                                   elem_id="zip-button")
            figure_button = gr.Button("One figure of all maps (PNG and SVG)", size="sm", scale=0,
                                      elem_id="figure-button")
            zip_file = gr.File(label="All files", visible=False, interactive=False, elem_id="zip-file")
            figure_files = gr.File(label="Figure", visible=False, interactive=False, file_count="multiple",
                                   elem_id="figure-files")

    def compare(text_, variants_, method_, beam_, n_best_, temperature_, seed_, words_,
                direction_=DEFAULT_DIRECTION, pixel_ratio_=None):
        """The comparison; a refused input raises (``on_compare`` shows it)."""
        from . import views           # it draws: matplotlib is imported by the first request, not at start-up

        result = state.translate(tr, text_, variants_, method_, beam_, n_best_, temperature_, seed_, direction_)
        suggested = result["suggested_direction"]     # the text is plainly in the other language
        return {area: gr.update(visible=True), result_state: result,
                switch: gr.update(visible=bool(suggested),
                                  value=f"Switch to {direction_label(suggested)}" if suggested else ""),
                results: views.results_html(result, bool(words_), pixel_ratio_),
                zip_file: gr.update(value=None, visible=False), figure_files: gr.update(value=None, visible=False)}

    # refused: one message, no result left standing, no error badges (as on every tab)
    shown = dict(hide=[area, switch, zip_file, figure_files], clear=[result_state, results])
    on_compare = state.shows_refusal(compare, message, **shown)
    on_compare.__name__ = "on_compare"            # the page's handler, by this name in tests and serving

    def on_words(result, words_, pixel_ratio_=None):
        from . import views

        if not result:                # nothing translated yet (or expired): nothing to redraw
            return {results: gr.update(), zip_file: gr.update(), figure_files: gr.update()}
        return {results: views.results_html(result, bool(words_), pixel_ratio_),
                zip_file: gr.update(value=None, visible=False),
                figure_files: gr.update(value=None, visible=False)}

    def on_zip(result, words_):
        from . import export

        return {zip_file: gr.update(value=export.export_zip(result, bool(words_), hashes), visible=True)}

    def on_figure(result, words_):
        from . import export

        return {figure_files: gr.update(value=export.export_figure(result, bool(words_)), visible=True)}

    controls = [text, variants, method, beam, n_best, temperature, seed, words, direction, beam_row, sample_row]

    def compare_link(link: dict, pixel_ratio_=None) -> dict:
        unit_ = link["unit"]
        if unit_ not in UNITS:
            raise state.error(f"Unknown unit {unit_!r} in the link; choose words or pieces.")
        return compare(*(link[k] for k in ("text", "variants", "method", "beam", "n_best", "temperature", "seed")),
                       UNITS[unit_], link["direction"], pixel_ratio_)

    def on_link(request: gr.Request, pixel_ratio_=None):
        """A permalink (``views.permalink``): the query fills the controls and runs the comparison.
        Its values go through the same checks as typed ones; a bad one gets the same refusal."""
        params = dict(request.query_params) if request is not None else {}
        if "text" not in params:
            return {c: gr.update() for c in controls + outputs}
        link = read_link(params)
        shown_text = link["text"] if isinstance(link["text"], str) and len(link["text"]) <= MAX_CHARS else ""
        out = {c: gr.update() for c in controls}
        out[text] = shown_text
        answer = state.shows_refusal(compare_link, message, **shown)(link, pixel_ratio_)
        out.update(answer)
        result = answer[result_state]
        unit_ = link["unit"]
        if result:
            settings = result["settings"]
            out.update({variants: list(result["variants"]), method: settings["method"], words: UNITS[unit_],
                        direction: result["direction"],
                        beam_row: gr.update(visible=settings["method"] == "beam"),
                        sample_row: gr.update(visible=settings["method"] == "sample")})
            out.update({c: settings[k] for c, k in ((beam, "beam"), (n_best, "n_best"), (temperature, "temperature"),
                                                    (seed, "seed")) if k in settings})
        return out

    inputs = [text, variants, method, beam, n_best, temperature, seed, words, direction, pixel_ratio]
    outputs = [message, area, result_state, results, zip_file, figure_files, switch]
    triggers = [run.click, text.submit]
    for box in example_boxes:            # an example fills the box, then runs with the current settings
        triggers.append(box.load_input_event.then)
    for trigger in triggers:
        trigger(on_compare, inputs, outputs, api_visibility="private", concurrency_limit=2, js=WITH_PIXEL_RATIO,
                show_progress_on=[run]).then(None, js=SCROLL_TO_RESULTS, api_visibility="private")
    def on_direction(direction_):
        """The box's language and the example rows follow the direction."""
        if direction_ not in directions:
            return {text: gr.update()}
        source = LANGUAGES.get(direction_.split("-")[0], page.source)
        rows = state.direction_examples(direction_, examples)
        out = {text: gr.update(label=f"{source} sentence", placeholder=f"e.g. {rows[0][0]}" if rows[0] else "")}
        for box, samples in zip(example_boxes, rows if len(example_boxes) == 2 else rows[1:]):
            out[box.dataset] = gr.Dataset(samples=[[s] for s in samples])
        return out

    direction.change(on_direction, direction, [text, *(box.dataset for box in example_boxes)],
                     api_visibility="private", queue=False)
    switch.click(lambda result: (result or {}).get("suggested_direction") or gr.update(), result_state, direction,
                 api_visibility="private", queue=False).then(
        on_compare, inputs, outputs, api_visibility="private", concurrency_limit=2, show_progress_on=[run],
        js=WITH_PIXEL_RATIO)
    method.change(lambda m: {beam_row: gr.update(visible=m == "beam"), sample_row: gr.update(visible=m == "sample")},
                  method, [beam_row, sample_row], api_visibility="private", queue=False)
    words.change(on_words, [result_state, words, pixel_ratio], [results, zip_file, figure_files],
                 api_visibility="private", js=WITH_PIXEL_RATIO)
    zip_button.click(on_zip, [result_state, words], [zip_file], api_visibility="private")
    figure_button.click(on_figure, [result_state, words], [figure_files], api_visibility="private")
    return {"about_link": about_link, "link": (on_link, [pixel_ratio], controls + outputs)}


def read_link(params: dict) -> dict:
    """A permalink's query as the compare handler's raw arguments: numbers parsed where they
    parse, anything else handed on as text for the library to refuse; absent ones at their defaults."""
    defaults = DecodingSettings()
    out = {"text": params.get("text"), "method": params.get("method", "greedy"),
           "variants": [v for v in str(params.get("variants", ",".join(VARIANTS))).split(",") if v],
           "unit": params.get("unit", "words"), "direction": params.get("direction", DEFAULT_DIRECTION)}
    for k in LINK_NUMBERS:
        raw = params.get(k, getattr(defaults, k))
        try:
            out[k] = int(raw) if str(raw).strip().lstrip("-").isdigit() else float(raw)
        except (TypeError, ValueError, OverflowError):
            out[k] = raw
    return out


# ---- the About tab ----------------------------------------------------------------------------

def build_about_tab(cards: dict, assets: Path) -> gr.Image:
    """Formulas, data, model cards, BLEU by length, and how attention agrees with attribution and
    with a word aligner. Returns the plot, drawn on page load."""
    gr.Markdown(about.about_md(cards), latex_delimiters=about.LATEX)
    gr.Dataframe(about.cards_table(cards), interactive=False, wrap=True, label="Model cards (test split)",
                 column_widths=["7%", "7%", "7%", "11%", "6%", "6%", "6%", "7%", "7%", "7%", "7%", "22%"],
                 max_height=900)
    length_img = gr.HTML("", elem_id="bleu-by-length", label=LENGTH_PLOT_TITLE)   # an <img> with its alt text
    gr.Markdown("### Is attention an explanation, an alignment?\n\n" + question.agreement_md(assets),
                latex_delimiters=[], elem_id="agreement-tables")
    gr.Markdown(about.md_escape(about.WORDS_RULE) + "\n\n" + about.LIMITS_MD +
                "\n\nAPI: endpoint `/translate` (see “Use via API” at the foot of the page, and the README).",
                latex_delimiters=[])
    return length_img


# ---- the page ---------------------------------------------------------------------------------

def describe_api(demo: gr.Blocks, api_name: str, fn) -> None:
    """Give each parameter of an API endpoint its description from ``fn``'s docstring ("Args:"),
    for the "Use via API" page (``gr.api`` leaves them blank there)."""
    described = gradio_private.docstring_args(fn)
    names = list(inspect.signature(fn).parameters)
    block_fn = next(f for f in gradio_private.block_functions(demo) if f.api_name == api_name)
    for name, component in zip(names, block_fn.inputs):
        gradio_private.describe_parameter(component, name, described.get(name, ""))


def build_demo(assets: Path = ckpt.ASSETS, torch_threads: int | None = 1) -> gr.Blocks:
    """Load the models once and lay out the page. No network, no training.
    ``torch_threads``: see ``configure_torch``."""
    assets = Path(assets)
    configure_torch(torch_threads)
    tr, problems, fatal = state.load_translator(assets)
    cards = about.load_cards(assets)
    page = model_folder.page_text(assets)

    @lru_cache(maxsize=1)
    def length_plot():          # drawn by the first page load, then reused
        from . import plots

        from . import views

        pixels = plots.figure_pixels(plots.scores_by_length(about.length_panels(cards)))
        return (f"<p><b>{views.esc(LENGTH_PLOT_TITLE)}</b></p><img src=\"{plots.data_uri(pixels)}\" "
                f"alt=\"{views.esc(LENGTH_PLOT_TITLE)}: test BLEU of each variant per source length bucket\" "
                "style=\"max-width:100%;height:auto\">")

    pair = f"{page.source} → {page.target}"
    theme = gr.themes.Default(font=[gr.themes.Font(f) for f in THEME_FONT],
                              font_mono=[gr.themes.Font(f) for f in THEME_MONO]).set(**THEME_COLOURS)
    with warnings.catch_warnings():      # Gradio 6 would have them in launch(); here app.py's launch stays plain
        warnings.filterwarnings("ignore", message="The parameters have been moved")   # theme, css, js
        demo = gr.Blocks(title=f"Attention in seq2seq: {pair}", theme=theme, css=PAGE_WIDE_CSS,
                         js=PAGE_WIDE_JS)
    with demo:
        gr.Markdown(f"# Attention in seq2seq: {about.md_escape(pair)}\n"
                    "Five small GRU encoder–decoders that differ only in their attention score. Type a "
                    f"{about.md_escape(page.source)} sentence, compare the translations and where each model "
                    "looked (α_{t,i}: how much output step t drew on source piece i).", latex_delimiters=[])
        if fatal:
            gr.Markdown(f"⚠️ **{about.md_escape(fatal)}**", latex_delimiters=[])
        elif not state.available(tr):
            gr.Markdown("⚠️ No models are installed yet: the page needs models/<variant>.safetensors in "
                        f"{about.md_escape(assets)} (written by python -m seq2seq train).", latex_delimiters=[])
        elif problems:
            gr.Markdown("⚠️ " + "  \n".join(about.md_escape(p) for p in problems.values()), latex_delimiters=[])
        with gr.Tabs(overflow_behavior="wrap") as tabs:      # on a phone every tab keeps its label
            with gr.Tab("Translate", id="translate"):
                build_tour(state.directions(tr))
                # shown when a link's tool has set the question tab up (tour.QUESTION_TOOLS)
                tool_open = gr.Button("", visible=False, size="sm", variant="secondary", elem_id="tool-open")
                translate_tab = build_translate_tab(tr, cards, state.model_hashes(assets), page)
                build_history_panel(assets / "history")
            question_tab = build_question_tab(tr, assets)
            build_toy_tab()
            with gr.Tab("About", id="about"):
                length_img = build_about_tab(cards, assets)

        link_fn, link_inputs, link_outputs = translate_tab["link"]
        set_up, set_up_outputs = question_tab["set_up"]

        def on_tool(request: gr.Request):
            """A link's tool: ``lines`` is the page's own (page.js); a question tool sets that tab up
            for the link's sentence and step, and a button on the Translate tab opens it."""
            params = dict(request.query_params) if request is not None else {}
            out = {c: gr.update() for c in set_up_outputs}
            out[tool_open] = gr.update(visible=False)
            tool = params.get("tool")
            if "text" not in params or tool not in QUESTION_TOOLS:
                return out
            link = read_link(params)
            step = int(params["t"]) if str(params.get("t", "")).isdigit() else 1
            try:
                out.update(set_up(tool, link["text"], link["variants"], link["direction"], step,
                                  link["unit"] == "words"))
            except gr.Error:              # refused: the Translate tab's message already says why
                return out
            where = f"{'word' if link['unit'] == 'words' else 't'} = {step}"
            out[tool_open] = gr.update(visible=True, value=f"Open the question tab: its {tool} is set up at {where}")
            return out

        demo.load(link_fn, link_inputs, link_outputs, api_visibility="private", concurrency_limit=2,
                  show_progress="hidden", js=WITH_PIXEL_RATIO).then(
            None, js=SCROLL_TO_RESULTS, api_visibility="private")
        # its own load event: once the results are drawn, page.js replaces the URL with the result's own link
        demo.load(on_tool, None, [*set_up_outputs, tool_open], api_visibility="private", concurrency_limit=2,
                  show_progress="hidden")
        tool_open.click(lambda: gr.Tabs(selected="question"), None, tabs, api_visibility="private", queue=False)
        translate_tab["about_link"].click(lambda: gr.Tabs(selected="about"), None, tabs, api_visibility="private",
                                          queue=False)
        demo.load(length_plot, None, length_img, api_visibility="private", queue=False)

        def translate(text: str, variant: str = state.DEFAULT_API_VARIANT, method: str = "greedy", beam: int = 5,
                      temperature: float = DecodingSettings.temperature, seed: int = 0,
                      direction: str = DEFAULT_DIRECTION) -> dict:
            """Translate text (German → English unless ``direction`` says otherwise) with one attention variant and return where it looked.

            Args:
                text: German text, at most 500 characters (120 sentencepiece pieces after tokenising).
                variant: The attention variant: none, dot, general, additive or multihead.
                method: Decoding: greedy, beam (beam search) or sample (ancestral sampling).
                beam: Beam width for method beam, 1 to 10; ignored otherwise.
                temperature: Sampling temperature for method sample, 0.001 to 10; ignored otherwise.
                seed: Random seed for method sample, 0 to 2147483647; ignored otherwise.
                direction: de-en (German in, English out) or en-de, where the models translate both ways.

            Returns:
                JSON: variant, translation, source_tokens and target_tokens (sentencepiece pieces, '</s>' last),
                logprob, score, decoding (the settings used) and attention, a T×S list of rows (target step ×
                source piece, each row sums to 1), null for the 'none' variant.
            """
            return state.translate_api(tr, text, variant, method, beam, temperature, seed, direction)

        gr.api(translate, api_name="translate")
        describe_api(demo, "translate", translate)
        # Clients written before the direction (and the drawing events' pixel ratio) existed send
        # fewer values: those take their defaults.
        tails = {"on_compare": [DEFAULT_DIRECTION, None], "on_words": [None]}
        for fn in gradio_private.block_functions(demo):
            if fn.api_name == "translate":
                fn.trailing_defaults = [DEFAULT_DIRECTION]
            elif getattr(fn.fn, "__name__", "") in tails:
                fn.trailing_defaults = tails[fn.fn.__name__]

    demo.translator = tr          # for tests and the benchmark
    return demo
