"""demo/question.py: the "Question the attention" handlers, called directly with small random
models (tiny_assets): shapes, agreement with the library (whose methods tests/test_translator.py
checks against independent references), the messages for bad input, and what a refused input
shows (state.shows_refusal)."""
from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from demo import question as q, state
from seq2seq.alignment import from_pharaoh
from seq2seq.attention import VARIANTS
from seq2seq.search import LENGTH_PENALTY, Intervention, force_decode, greedy
from seq2seq.tokenizer import word_groups
from seq2seq.translator import MAX_CHARS, MAX_OUTPUT

SENTENCE = "Der See bildet eine natürliche Grenze zwischen den Ländern."
TARGET = "The lake forms a natural border between the countries."
ATTENTION = [v for v in VARIANTS if v != "none"]


@pytest.fixture(scope="module")
def result(tr):
    return q.analyse(tr, SENTENCE, TARGET, list(VARIANTS))


# ---- 1. forced decoding --------------------------------------------------------------------

def test_every_variant_is_scored_on_the_same_translation(tr, result):
    S, T = len(result["source_pieces"]), len(result["target_pieces"])
    assert result["to_force"].ids == tr.tok.encode(TARGET) and result["target"] == TARGET
    assert result["target_pieces"] == tr.tok.text_pieces(TARGET) + ["</s>"]
    assert result["source"].ids == tr.source_ids(SENTENCE) and S == len(result["source"].ids)
    for v in VARIANTS:
        f = result["forced"][v]
        assert len(f["logprobs"]) == T and all(lp <= 0 for lp in f["logprobs"])
        assert f["logprobs"] == force_decode(tr.models[v], result["source"].ids, tr.tok.encode(TARGET)).logprobs
        if v == "none":
            assert f["attention"] is None
        else:
            assert f["attention"].shape == (T, S)                   # identical axes for every variant
            assert np.allclose(f["attention"].sum(1), 1, atol=1e-3)


def test_forcing_a_variants_own_greedy_output_gives_its_greedy_logprobs(tr, result):
    checked = 0
    for v in VARIANTS:
        own = q.greedy_text(tr, SENTENCE, v)
        r = q.analyse(tr, SENTENCE, own, [v])
        g = greedy(tr.models[v], [tr.source_ids(SENTENCE)], max_len=MAX_OUTPUT)[0]
        assert r["own"][v].best.logprobs == g.logprobs and r["own"][v].texts[0] == own
        T = len(g.tokens) - g.finished
        if tr.tok.encode(own) == g.tokens[:T]:          # the text round trip kept the pieces
            assert r["forced"][v]["logprobs"][:T] == g.logprobs[:T]
            checked += 1
    assert checked >= 2


def test_the_tab_shows_what_the_models_cannot_read(tr):
    r = q.analyse(tr, "Ich fahre nach 東京.", "I drive to 東京.", ["dot"])
    assert r["notes"] and "東" in r["notes"][0] and r["notes"][1].startswith("Translation: ")
    assert "never seen 東 京" in q.forced_summary(r)
    assert q.analyse(tr, SENTENCE, TARGET, ["dot"])["notes"] == []


def test_logprob_table_marks_drops(result):
    headers, rows = q.logprob_rows(result)
    assert headers == ["t", "token"] + [f"{v} log p" for v in VARIANTS]
    assert len(rows) == len(result["target_pieces"]) + 1 and rows[-1][0] == "Σ"
    for t, row in enumerate(rows[:-1]):
        for v, cell in zip(VARIANTS, row[2:]):
            lp = result["forced"][v]["logprobs"][t]
            assert cell.startswith(f"{lp:.2f}") and cell.endswith("▼") == (lp < math.log(q.DROP_P))
    assert "steepest drop" in q.forced_summary(result)


def test_heatmaps_share_their_size(result):
    images = q.heatmaps(result)
    assert [title.split(":")[0] for _, title in images] == ATTENTION
    assert len({img.shape for img, _ in images}) == 1
    assert q.logprob_plot(result).ndim == 3


def test_every_map_is_shown_whole_at_its_own_size(result):
    images = q.heatmaps(result)
    html = q.pictures_html(images)
    tags = re.findall(r"<img [^>]*>", html)
    assert len(tags) == len(images) == len(ATTENTION)                # every map, not 2 of 4
    for tag, (img, title) in zip(tags, images):
        assert f'width="{img.shape[1]}" height="{img.shape[0]}"' in tag
        assert "max-width:100%;height:auto" in tag                   # scaled down whole, never cropped
    assert "flex-wrap:wrap" in html
    wide = q.wide_picture_html(images[0][0], "a <map>")
    assert "max-width:none" in wide and "overflow-x:auto" in wide and "a &lt;map&gt;" in wide
    assert 'tabindex="0" role="region" aria-label="a &lt;map&gt;"' in wide        # the keyboard scrolls it
    assert q.wide_picture_html(None, "x") == ""


def test_difference(result):
    img = q.difference(result, "dot", "additive")
    assert img.ndim == 3 and img.dtype == np.uint8
    for a, b, msg in (("dot", "dot", "different"), ("none", "dot", "no attention"), ("dot", "bogus", "not scored")):
        with pytest.raises(gr.Error, match=msg):
            q.difference(result, a, b)


def test_continue_from_here(tr, result):
    headers, rows = q.continue_view(tr, result, 3)
    assert headers[1] == "forced prefix (k = 3)"
    prefix = tr.tok.decode(result["to_force"].ids[:3])
    assert [r[0] for r in rows] == list(VARIANTS) and all(r[1] == prefix for r in rows)
    _, rows0 = q.continue_view(tr, result, 0)
    for v, row in zip(VARIANTS, rows0):       # nothing forced: the variant's own greedy translation
        assert row[2] == result["own"][v].texts[0]
    for bad in (-1, len(result["target_pieces"]), 1.5, "x", None, True):
        with pytest.raises(gr.Error, match="prefix length"):
            q.continue_view(tr, result, bad)


@pytest.mark.parametrize("target, message", [
    ("", "Type the English translation"), ("   ", "Type the English translation"), (None, "Type the English"),
    ("x" * (MAX_CHARS + 1), "limit"), ("ab\ud800", "surrogate"), (42, "string"), ("\u200b\u2028", "empty"),
])
def test_forced_text_is_checked_like_the_source(tr, target, message):
    with pytest.raises(gr.Error, match=message):
        q.analyse(tr, SENTENCE, target, list(VARIANTS))


def test_bad_source_and_variants_are_refused(tr, tiny_assets):
    with pytest.raises(gr.Error, match="empty"):
        q.analyse(tr, " ", TARGET, ["dot"])
    for variants, message in (([], "at least one"), (["bogus"], "Unknown variant"), (7, "list")):
        with pytest.raises(gr.Error, match=message):
            q.analyse(tr, SENTENCE, TARGET, variants)
    with pytest.raises(gr.Error, match="No models are loaded"):
        q.analyse(None, SENTENCE, TARGET, ["dot"])
    only_dot = state.Translator(tiny_assets, ["dot"])
    with pytest.raises(gr.Error, match="general model is not installed"):
        q.analyse(only_dot, SENTENCE, TARGET, ["dot", "general"])
    with pytest.raises(gr.Error, match="Score a translation first"):
        q.knock_out_view(tr, None, [0])


# ---- 2. interventions ----------------------------------------------------------------------

def test_knock_out(tr, result):
    headers, rows = q.knock_out_view(tr, result, [0, 2])
    assert headers[3].startswith("Δ log p")
    by_variant = {r[0]: r for r in rows}
    assert "no attention" in by_variant["none"][2]
    src = result["source"].ids
    for v in ATTENTION:
        g = greedy(tr.models[v], [src], max_len=MAX_OUTPUT)[0]
        assert by_variant[v][1] == result["own"][v].texts[0]
        deltas = [float(x) for x in by_variant[v][3].split()]
        assert len(deltas) == len(g.logprobs)
        again = force_decode(tr.models[v], src, g.tokens, Intervention(knockout=(0, 2)))
        assert deltas == pytest.approx(np.array(again.logprobs[: len(deltas)]) - g.logprobs, abs=0.006)


def test_knocking_out_all_but_one_source_piece(tr, result):
    S = len(result["source"].ids)
    _, rows = q.knock_out_view(tr, result, list(range(1, S)))
    assert len(rows) == len(VARIANTS)


@pytest.mark.parametrize("pieces, message", [
    ([], "at least one"), (None, "at least one"), ([99], "does not exist"), ([-1], "does not exist"),
    (["▁Der"], "by position"), ([0.5], "by position"), ([True], "by position"),
])
def test_knock_out_of_pieces_that_do_not_exist_is_refused(tr, result, pieces, message):
    with pytest.raises(gr.Error, match=message):
        q.knock_out_view(tr, result, pieces)


def test_knocking_out_everything_is_refused(tr, result):
    with pytest.raises(gr.Error, match="Every source piece"):
        q.knock_out_view(tr, result, list(range(len(result["source"].ids))))


def test_force_alpha(tr, result):
    _, rows = q.force_alpha_view(tr, result, 2, 1)
    assert [r[0] for r in rows] == list(VARIANTS)
    for r in rows[1:]:
        assert float(r[3].split()[0]) == 0.0          # step 1 comes before the forced step 2
    for step, piece, message in ((0, 1, "step t"), (500, 1, "step t"), (2, 99, "does not exist"),
                                 (2, None, "one source piece"), (2, [0, 1], "one source piece")):
        with pytest.raises(gr.Error, match=message):
            q.force_alpha_view(tr, result, step, piece)


def test_delete_the_word(tr, result):
    _, rows = q.delete_word_view(tr, result, 1)
    assert [r[0] for r in rows] == list(VARIANTS)     # none included
    groups = word_groups(result["source_pieces"])
    source = [i for k, i in enumerate(result["source"].ids) if k not in groups[1]]
    g = greedy(tr.models["none"], [source], max_len=MAX_OUTPUT)[0]
    assert rows[0][2] == tr.tok.decode(g.tokens)
    for bad, message in ((len(groups), "does not exist"), (None, "one source word"), ("Der", "by position")):
        with pytest.raises(gr.Error, match=message):
            q.delete_word_view(tr, result, bad)
    one = q.analyse(tr, "Hund", "dog", ["none"])
    with pytest.raises(gr.Error, match="only one word"):
        q.delete_word_view(tr, one, 0)


def test_choices_label_every_piece_and_word(result):
    assert [i for _, i in q.piece_choices(result)] == list(range(len(result["source_pieces"])))
    assert len(q.word_choices(result)) == len(word_groups(result["source_pieces"]))


# ---- 3. the beam tree ----------------------------------------------------------------------

def test_beam_tree_view(tr):
    view = q.beam_tree_view(tr, SENTENCE, "additive", 3, 2)
    nodes = view["tree"]["nodes"]
    assert len(view["rows"]) == len(nodes) - 1 and view["figure"].ndim == 3
    assert view["headers"][5] == "beam score" and f"T^{LENGTH_PENALTY:g}" in view["summary"]   # explained
    ranked = sorted((r for r in view["rows"] if r[7] != ""), key=lambda r: r[7])
    assert [r[7] for r in ranked] == [1, 2]
    from seq2seq.search import beam_search
    best = beam_search(tr.models["additive"], tr.source_ids(SENTENCE), beam=3, n_best=2, max_len=MAX_OUTPUT)
    assert [r[8] for r in ranked] == [tr.tok.decode(h.tokens) for h in best]
    assert [float(r[5]) for r in ranked] == pytest.approx([h.score for h in best], abs=1e-3)
    node = q.node_view(view["tree"], [0, 3])
    assert node["bars"].ndim == 3 and len(node["candidates"]) == 5
    assert q.node_view(view["tree"], 0)["md"] == node["md"]
    for bad in (-1, len(nodes) - 1, "a", 0.5):
        with pytest.raises(gr.Error, match="row"):
            q.node_view(view["tree"], bad)
    with pytest.raises(gr.Error, match="beam tree first"):
        q.node_view(None, 0)
    assert "never seen 東" in q.beam_tree_view(tr, "Ich fahre nach 東京.", "dot", 2, 1)["summary"]
    none = q.beam_tree_view(tr, SENTENCE, "none", 2, 1)
    assert q.node_view(none["tree"], 0)["bars"] is None
    for variant, beam, message in (("additive", 0, "Beam width"), ("additive", 11, "Beam width"),
                                   (None, 3, "one variant"), ("bogus", 3, "Unknown variant")):
        with pytest.raises(gr.Error, match=message):
            q.beam_tree_view(tr, SENTENCE, variant, beam, 1)


def _label_boxes(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    labels = [t for t in fig.axes[0].texts if t.get_gid() == "tree-label"]
    return labels, [t.get_window_extent(renderer) for t in labels], fig.dpi


@pytest.mark.parametrize("beam, n_best", [(3, 2), (5, 5), (10, 10)])
def test_beam_tree_labels_are_10_px_or_more_and_never_overlap(tr, beam, n_best):
    from demo import question_plots

    view = q.beam_tree_view(tr, "Der Hund bellt den Mann an, der im Garten steht.", "dot", beam, n_best)
    labels, boxes, dpi = _label_boxes(question_plots.beam_tree_figure(view["tree"]["nodes"]))
    assert labels and len(labels) >= n_best
    for t in labels:
        assert t.get_fontsize() * dpi / 72 >= 10                     # pt → px at the figure's dpi
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "two labels of the beam tree overlap"
    height, width = view["figure"].shape[:2]
    assert all(0 <= b.x0 and b.x1 <= width and 0 <= b.y0 and b.y1 <= height for b in boxes)   # none cut off


# ---- 4. attribution ------------------------------------------------------------------------

def test_attribution_view(tr, result):
    with_attr, headers, rows = q.attribution_view(tr, result)
    assert "attribution" not in result                          # the old result is not changed
    assert headers[:3] == ["variant", "mean Spearman ρ", "argmax agree"]
    for v in VARIANTS:
        a = with_attr["attribution"][v]
        assert a.shape == (len(result["target_pieces"]), len(result["source_pieces"]))
        assert np.all(np.isfinite(a)) and np.allclose(a.sum(1), 1)
    assert rows[0][1] == "—"                                    # none: attribution only
    pairs = q.attribution_pairs(with_attr)
    assert len(pairs) == 2 * len(ATTENTION) + 1 and pairs[-1][1].startswith("none")
    assert len({img.shape for img, _ in pairs}) == 1            # same axes and cell size as α


def test_attribution_steps_name_each_group_of_variants_before_computing_it(tr, result):
    from seq2seq.translator import WORKERS

    calls = []
    attribute = tr.attribute

    def counting(source, target, variants):
        calls.append(list(variants))
        return attribute(source, target, variants)

    tr.attribute = counting
    try:
        steps = list(q.attribution_steps(tr, result))
    finally:
        del tr.attribute
    lines = [line for line, out in steps[:-1]]
    assert all(out is None for _, out in steps[:-1]) and steps[-1][0] == ""
    groups = [list(VARIANTS)[i:i + WORKERS] for i in range(0, len(VARIANTS), WORKERS)]
    assert calls == groups                                      # each line comes before its group runs
    assert len(lines) == len(groups)
    for k, (line, group) in enumerate(zip(lines, groups)):
        first = k * WORKERS + 1
        span = f"{first}" if len(group) == 1 else f"{first}–{first + len(group) - 1}"
        assert line == f"Computing gradient × input: {', '.join(group)} ({span} of {len(VARIANTS)})…"
    with_attr, headers, rows = steps[-1][1]
    view, view_headers, view_rows = q.attribution_view(tr, result)
    assert headers == view_headers and rows == view_rows
    for v in VARIANTS:
        np.testing.assert_allclose(with_attr["attribution"][v], view["attribution"][v], atol=1e-12)
    with pytest.raises(gr.Error, match="Score a translation first"):
        list(q.attribution_steps(tr, None))


def test_the_attribution_event_shows_progress_then_the_result(question_events, result):
    demo, by_id = question_events
    event = next(fn for fn in demo.fns.values() if fn.name == "on_attribution")
    outs = list(event.fn(result))
    msg, table, gallery = event.outputs[:3]
    assert (msg, gallery) == (by_id["q-attr-message"], by_id["q-attr"])
    progress, last = outs[:-1], outs[-1]
    assert progress and all(o[msg]["visible"] is True and o[msg]["value"].startswith("Computing gradient")
                            for o in progress)
    assert all(o[table]["visible"] is False and o[gallery]["visible"] is False for o in progress)
    assert last[msg]["visible"] is False and len(last[table]["data"]) == len(VARIANTS)
    assert last[gallery].count("<img") == 2 * len(ATTENTION) + 1
    refused = list(event.fn(None))
    assert len(refused) == 1 and "Score a translation first" in refused[0][msg]["value"]


# ---- 5. eflomal's links --------------------------------------------------------------------

def test_overlay_uses_stored_links(tmp_path, result):
    assert q.overlay_view(tmp_path, result) == []
    (tmp_path / "question").mkdir()
    (tmp_path / q.ALIGNER_FILE).write_text(json.dumps({"examples": [{
        "source": SENTENCE, "target": TARGET, "source_words": 9, "target_words": 9,
        "sure": [[0, 0], [1, 1]], "possible": [[0, 0], [1, 1], [2, 2]]}]}), encoding="utf-8")
    images = q.overlay_view(tmp_path, result)
    assert len(images) == len(ATTENTION) and images[0][0].ndim == 3
    (tmp_path / q.ALIGNER_FILE).write_text("not json", encoding="utf-8")
    assert q.overlay_view(tmp_path, result) == []


def test_agreement_tables_from_json(tmp_path):
    assert "No agreement tables yet" in q.agreement_md(tmp_path)
    (tmp_path / "question").mkdir()
    (tmp_path / q.AGREEMENT_FILE).write_text(json.dumps({
        "attribution": {"sample": 5, "command": "python scripts/attribution_agreement.py",
                        "rows": [{"test_set": "tatoeba", "variant": "dot", "spearman": 0.25, "argmax": 0.5}]},
        "eflomal": {"threshold": 0.3, "command": "python scripts/align_eflomal.py",
                    "rows": [{"test_set": "tatoeba", "variant": "dot (argmax)", "links": 10, "precision": 0.5,
                              "recall": float("nan"), "aer": 0.4}]}}), encoding="utf-8")
    md = q.agreement_md(tmp_path)
    assert "| tatoeba | dot | 0.250 | 50% |" in md and "| 10 | 0.500 | — | 0.400 |" in md
    assert "not AER against gold" in md


# ---- 6. export -----------------------------------------------------------------------------

def test_export(tr, result):
    with_attr, _, _ = q.attribution_view(tr, result)
    files = [Path(f) for f in q.export_question(with_attr)]
    names = {f.name for f in files}
    assert "question.json" in names
    for v in ATTENTION:
        assert {f"alpha_{v}.csv", f"attribution_{v}.csv", f"align_{v}_argmax.txt", f"align_{v}_threshold.txt"} <= names
    assert "attribution_none.csv" in names and "alpha_none.csv" not in names
    doc = json.loads(next(f for f in files if f.name == "question.json").read_text(encoding="utf-8"))
    assert doc["target_tokens"] == result["target_pieces"]
    rows = list(csv.reader((files[0].parent / "alpha_dot.csv").open(encoding="utf-8")))
    assert rows[0][1:] == result["source_pieces"] and len(rows) == len(result["target_pieces"]) + 1
    assert np.allclose(np.array(rows[1:])[:, 1:].astype(float), result["forced"]["dot"]["attention"], atol=1e-6)
    links = from_pharaoh((files[0].parent / "align_dot_argmax.txt").read_text(encoding="utf-8"))
    n_target_words = len(word_groups(result["target_pieces"][:-1]))
    assert sorted(j for _, j in links) == list(range(n_target_words))   # one link per target word
    with pytest.raises(gr.Error, match="Score a translation first"):
        q.export_question(None)


# ---- 7. a refused input on the page: one line, stale results hidden, nothing raised ----------

def test_shows_refusal_turns_the_librarys_error_into_one_line_and_hides_stale_results():
    from seq2seq.translator import InputError

    message, box, table = gr.Markdown(), gr.Column(), gr.Dataframe()

    def handler(x):
        if x == "bad":
            raise InputError("The text is <empty>.")
        if x == "gr":
            raise state.error("Score first.")
        return {table: x}

    run = state.shows_refusal(handler, message, hide=[box], clear=[table])
    out = run("bad")                                        # no exception: Gradio shows no badge
    assert out[message]["visible"] is True and "The text is &lt;empty&gt;\\." in out[message]["value"]
    assert out[box]["visible"] is False and out[table] is None
    assert "Score first" in run("gr")[message]["value"]
    ok = run("fine")
    assert ok[message]["visible"] is False and ok[box]["visible"] is True and ok[table] == "fine"

    def stream(n):
        yield {table: 1}
        raise InputError(f"{n} is too many.")

    assert [o.get(table) for o in state.shows_refusal(stream, message, clear=[table])(3)] == [1, None]

    def with_request(x, request: gr.Request):
        return {}

    import inspect
    assert list(inspect.signature(state.shows_refusal(with_request, message)).parameters) == ["x", "request"]


@pytest.fixture(scope="module")
def question_events(tr, tiny_assets):
    from demo.question_tab import build_question_tab

    with gr.Blocks() as demo:
        with gr.Tabs():
            build_question_tab(tr, tiny_assets)
    by_id = {c.elem_id: c for c in demo.blocks.values() if getattr(c, "elem_id", None)}
    return demo, by_id


def test_the_question_tabs_refusals_are_one_line_with_the_results_hidden(question_events):
    demo, by_id = question_events
    score = next(fn for fn in demo.fns.values() if fn.name == "on_score")
    out = dict(zip(score.outputs, [None] * len(score.outputs)))
    got = score.fn("Der Hund.", "   ", ["dot"], "de-en")
    assert got[by_id["q-message"]]["visible"] is True and "Type the English translation" in \
        got[by_id["q-message"]]["value"]
    assert got[by_id["q-results"]]["visible"] is False
    assert set(got) <= set(out)                                   # every key is an output of the event
    fine = score.fn(SENTENCE, TARGET, ["dot", "additive"], "de-en")
    assert fine[by_id["q-message"]]["visible"] is False and fine[by_id["q-results"]]["visible"] is True
    assert fine[by_id["q-heatmaps"]].count("<img") == 2
    assert set(fine) <= set(out)
    knock = next(fn for fn in demo.fns.values() if fn.outputs and fn.outputs[0] is by_id["q-knock-message"])
    result = fine[next(c for c in fine if isinstance(c, gr.State))]
    refused = knock.fn(result, [])
    assert "at least one source piece" in refused[by_id["q-knock-message"]]["value"]
    assert refused[by_id["q-knock-table"]]["visible"] is False
    shown = knock.fn(result, [0])
    assert shown[by_id["q-knock-message"]]["visible"] is False and len(shown[by_id["q-knock-table"]]["data"]) == 2
    tree = next(fn for fn in demo.fns.values() if fn.name == "on_tree")
    refused = tree.fn(SENTENCE, "dot", 0, 1, "de-en")
    assert "Beam width must be a number between 1 and 10 \\(a whole number" in refused[by_id["q-tree-message"]]["value"]
    contrast = next(fn for fn in demo.fns.values() if fn.name == "on_contrast")
    refused = contrast.fn(result, 1, "  ")
    assert "alternative token" in refused[by_id["q-contrast-message"]]["value"]
    assert refused[by_id["q-contrast-table"]]["visible"] is False
    shown = contrast.fn(result, 1, "the")
    assert shown[by_id["q-contrast-message"]]["visible"] is False and shown[by_id["q-contrast"]].count("<img") == 2


def test_the_direction_switch_is_hidden_for_one_way_models(question_events):
    _, by_id = question_events
    assert by_id["q-direction"].visible is False


# ---- the direction switch, on models that translate both ways ---------------------------------

@pytest.mark.parametrize("tr", ["two_way"], indirect=True)
def test_english_to_german_questions_on_two_way_models(tr):
    sentence, target = q.everyday_examples("en-de")[0]
    assert (target, sentence) == tuple(q.everyday_examples("de-en")[0])
    r = q.analyse(tr, sentence, target, list(VARIANTS), "en-de")
    assert r["direction"] == "en-de" and r["source_pieces"][0] == "<2de>" and r["source"].tags == 1
    assert r["to_force"].ids == tr.tok.encode(target)                 # the forced German carries no tag
    words = [label.split(": ", 1)[1] for label, _ in q.word_choices(r)]
    assert "<2de>" not in " ".join(words)
    assert len(words) == len(r["source"].words) and words[0] == sentence.split()[0]
    de = q.analyse(tr, target, sentence, ["dot"], "de-en")
    assert de["source_pieces"][0] == "<2en>" and de["source"].ids[1:] != r["source"].ids[1:]
    _, rows = q.delete_word_view(tr, r, 0)
    assert [row[0] for row in rows] == list(VARIANTS)
    view = q.beam_tree_view(tr, sentence, "dot", 2, 1, "en-de")
    assert view["tree"]["source_pieces"][0] == "<2de>"
    assert isinstance(q.greedy_text(tr, sentence, "dot", "en-de"), str)
    with pytest.raises(gr.Error, match="Type the German translation"):
        q.analyse(tr, sentence, " ", ["dot"], "en-de")
    with pytest.raises(gr.Error, match="Unknown direction"):
        q.analyse(tr, sentence, target, ["dot"], "fr-de")


@pytest.mark.parametrize("tr", ["two_way"], indirect=True)
def test_the_switch_shows_on_two_way_models_and_relabels_the_tab(tr, two_way_assets):
    from demo.question_tab import build_question_tab

    with gr.Blocks() as demo:
        with gr.Tabs():
            build_question_tab(tr, two_way_assets)
    by_id = {c.elem_id: c for c in demo.blocks.values() if getattr(c, "elem_id", None)}
    assert by_id["q-direction"].visible is True
    assert [c[0] for c in by_id["q-direction"].choices] == ["Deutsch → English", "English → Deutsch"]
    switch = next(fn for fn in demo.fns.values() if fn.name == "on_direction")
    got = switch.fn("en-de")
    assert got[by_id["q-source"]]["label"] == "English sentence"
    assert got[by_id["q-target"]]["label"] == "German translation to force"


# ---- contrastive questions ---------------------------------------------------------------------

def test_contrast_agrees_with_the_forced_logprobs(tr, result):
    alternatives = q.contrast_choices(result, 2)
    assert alternatives and all(i != result["to_force"].ids[1] for _, i in alternatives)
    other = alternatives[0][1]
    headers, rows, pictures = q.contrast_view(tr, result, 2, other)
    assert headers == list(q.CONTRAST_HEADERS) and [r[0] for r in rows] == list(VARIANTS) and len(pictures) == 5
    for v, row in zip(VARIANTS, rows):
        assert math.isclose(float(row[3]), result["forced"][v]["logprobs"][1], abs_tol=0.006)
        assert math.isclose(float(row[5]), float(row[3]) - float(row[4]), abs_tol=0.011)
    for bad, message in ((0, "step t"), (10**6, "step t"), ("x", "step t")):
        with pytest.raises(gr.Error, match=message):
            q.contrast_view(tr, result, bad, other)
    with pytest.raises(gr.Error, match="chosen token itself"):
        q.contrast_view(tr, result, 1, result["to_force"].ids[0])
    assert q.contrast_choices(result, 0) == [] and q.contrast_choices(result, None) == []


@pytest.mark.parametrize("tr", ["shipped"], indirect=True)
def test_card_rather_than_map_on_the_shipped_models(tr):
    shipped = tr
    r = q.analyse(shipped, "Kann ich mit Karte bezahlen?", "Can I pay with map?", list(shipped.models))
    assert r["target_pieces"][4] == "▁map"
    assert "▁card" in [label.split(" (")[0] for label, _ in q.contrast_choices(r, 5)]
    _, rows, pictures = q.contrast_view(shipped, r, 5, "card")
    assert {row[2] for row in rows} == {"▁card"} and len(pictures) == len(shipped.models)
    own = {v: q.greedy_text(shipped, "Kann ich mit Karte bezahlen?", v) for v in shipped.models}
    writers = [v for v in r["variants"] if own[v] == "Can I pay with map?"]
    assert writers                                    # additive, today
    for v, row in zip(r["variants"], rows):
        if v in writers:          # greedy chose map at step 5, so it is more probable than card there
            assert float(row[5]) > 0
