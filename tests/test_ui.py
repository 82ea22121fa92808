"""The demo layer called directly, with small random models (tiny_assets): state (translate,
refusals), views (the results block), export, the About tab and build_demo's events."""
from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from demo import about, export, plots, state, ui, views
from seq2seq import analysis, checkpoint as ckpt, data
from seq2seq.attention import VARIANTS
from seq2seq.tokenizer import EOS_ID, word_groups, words_from_pieces
from seq2seq.translator import MAX_BEAM, MAX_CHARS

SENTENCE = "Der See bildet eine natürliche Grenze zwischen den Ländern."
ATTENTION = [v for v in VARIANTS if v != "none"]


@pytest.fixture(scope="module")
def tr(tiny_assets):
    translator, problems, fatal = state.load_translator(tiny_assets)
    assert problems == {} and fatal is None
    assert translator.variants == list(VARIANTS)
    return translator


@pytest.fixture(scope="module")
def result(tr):
    return state.translate(tr, SENTENCE, list(VARIANTS))


@pytest.fixture(scope="module")
def demo(tiny_assets):
    return ui.build_demo(tiny_assets)


def event(demo, name: str):
    """The function behind one of the page's events, and a reader of its answer by elem_id."""
    fn = next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == name)

    def call(*args):
        out = fn(*args)
        return {getattr(c, "elem_id", None) or type(c).__name__: v for c, v in out.items()}
    return call


def _copy_assets(src: Path, dst: Path, keep: list[str]) -> Path:
    dst.mkdir()
    shutil.copy(src / ckpt.TOKENIZER_FILE, dst / ckpt.TOKENIZER_FILE)
    for v in keep:
        for p in ckpt.model_paths(v, src):
            (dst / "models").mkdir(exist_ok=True)
            shutil.copy(p, dst / "models" / p.name)
    ckpt.write_manifest(dst)
    return dst


# ---- state: one request's result ------------------------------------------------------------------

def test_candidates_read_back_as_the_library_gave_them(tr):
    """The compact candidates give each step's (piece, p) as the tokenizer names the ids."""
    c = tr.translate_many(SENTENCE, ["dot"], "beam", 3, 2)
    for h in c.translations["dot"].hypotheses:
        cands = state.Candidates(h.candidates, state.piece_table(tr.tok))
        assert len(cands) == len(h.candidates)
        for t, step in enumerate(h.candidates):
            expected = [("</s>" if i == EOS_ID else tr.tok.sp.id_to_piece(i), p) for i, p in step]
            assert [c for c, _ in cands[t]] == [c for c, _ in expected]
            np.testing.assert_allclose([p for _, p in cands[t]], [p for _, p in expected], rtol=1e-6)
        assert list(cands) == [cands[t] for t in range(len(cands))]
    assert len(state.Candidates([], state.piece_table(tr.tok))) == 0


def test_result_structure_for_every_variant(result):
    S = len(result["source_pieces"])
    assert S > 0 and result["text"] == SENTENCE and result["settings"] == {"method": "greedy"}
    assert list(result["variants"]) == list(VARIANTS)
    for v in VARIANTS:
        h = result["variants"][v]["hypotheses"][0]
        T = len(h["pieces"])
        assert T == len(h["logprobs"]) == len(h["candidates"]) and isinstance(h["text"], str)
        assert h["logprob"] == pytest.approx(sum(h["logprobs"]))
        assert all(len(c) == 5 for c in h["candidates"])
        if v == "none":
            assert h["attention"] is None and h["heads"] is None
            continue
        assert h["attention"].shape == (T, S)
        np.testing.assert_allclose(h["attention"].sum(axis=1), 1.0, atol=1e-4)
        np.testing.assert_allclose(h["heads"].mean(axis=1), h["attention"], atol=1e-6)
        assert h["heads"].shape[1] == (4 if v == "multihead" else 1)


def test_only_selected_variants_in_order(tr):
    r = state.translate(tr, SENTENCE, ["dot", "none"])
    assert list(r["variants"]) == ["none", "dot"]


def test_reference_of_a_test_example(tr):
    src, ref = state.load_examples()[0]
    r = state.translate(tr, src, ["dot"])
    assert r["reference"] == ref
    assert state.translate(tr, "Guten Morgen.", ["dot"])["reference"] is None


@pytest.mark.slow
def test_examples_come_from_test_split():
    pairs = state.load_examples()
    assert 8 <= len(pairs) <= 12
    for src, ref in pairs:
        assert 4 <= len(src.split()) <= 15 and ref
    if not data.DING_PATH.is_file():
        pytest.skip(f"{data.DING_PATH} not installed (apt-get install trans-de-en)")
    assert set(pairs) <= set(data.read_ding(data.DING_PATH, "test"))
    for split in ("train", "dev"):          # no line of another split holds an example's German
        for line in data.iter_split_lines(data.DING_PATH, split):
            assert not any(src in line for src, _ in pairs), (split, line)


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("   \n\t ", "empty"), (None, "No text"), ("x" * (MAX_CHARS + 1), "limit"),
    ("Hallo \ud800 Welt", "surrogate"), (123, "string"), (" ".join(["Xq"] * 160), "pieces"),
])
def test_bad_text_is_refused_with_the_library_message(tr, text, message):
    with pytest.raises(gr.Error, match=message):
        state.translate(tr, text, ["dot"])


@pytest.mark.parametrize("variants", [["bogus"], [], None, ["dot", "<script>"], [None], 5])
def test_bad_variants(tr, variants):
    with pytest.raises(gr.Error):
        state.translate(tr, SENTENCE, variants)


@pytest.mark.parametrize("kw, message", [
    ({"method": "bogus"}, "Unknown decoding method"), ({"method": "beam", "beam": 0}, "between 1 and 10"),
    ({"method": "beam", "beam": MAX_BEAM + 1}, "between 1 and 10"), ({"method": "beam", "beam": 10**400}, "Beam"),
    ({"method": "sample", "temperature": 0}, "between 0.001 and 10"), ({"method": "beam", "beam": "x"}, "a number"),
    ({"method": "sample", "temperature": float("nan")}, "between"),
    ({"method": "sample", "seed": -1}, "between 0 and 2,147,483,647"),
])
def test_bad_decoding_settings(tr, kw, message):
    with pytest.raises(gr.Error, match=message):
        state.translate(tr, SENTENCE, ["dot"], **kw)


def test_beam_keeps_n_best_capped_by_width_each_with_its_heatmap(tr):
    r = state.translate(tr, SENTENCE, ["additive", "none"], method="beam", beam=2, n_best=9)
    assert r["settings"] == {"method": "beam", "beam": 2, "n_best": 2}
    hyps = r["variants"]["additive"]["hypotheses"]
    assert len(hyps) == 2 and hyps[0]["score"] >= hyps[1]["score"]
    html = views.results_html(r)
    assert "n-best hypotheses" in html and "beam score" in html
    assert html.count('class="nbest-map"') == 2                       # additive's two; none has no α
    second = views.heatmaps(r, hyp_index=1)["additive"]
    assert second.rows == len(hyps[1]["pieces"])


def test_sampling_is_reproducible_with_seed(tr):
    a = state.translate(tr, SENTENCE, ["dot"], method="sample", temperature=0.7, seed=3)
    b = state.translate(tr, SENTENCE, ["dot"], method="sample", temperature=0.7, seed=3)
    assert a["variants"]["dot"]["hypotheses"][0]["pieces"] == b["variants"]["dot"]["hypotheses"][0]["pieces"]
    assert a["settings"] == {"method": "sample", "temperature": 0.7, "seed": 3}


@pytest.mark.parametrize("text, note", [
    ("Ich mag 😀 sehr.", "never seen"), ("Hallo مرحبا", "right-to-left"), ("Hallo\x00Welt\u200b!", "Control"),
])
def test_unusual_characters_translate_with_a_note(tr, text, note):
    r = state.translate(tr, text, ["dot"])
    assert any(note in n for n in r["notes"])
    assert "⚠️" in views.results_html(r)


def test_unknown_characters_keep_typed_order_and_label_the_axes(tr):
    r = state.translate(tr, "Ich mag 東京 und $$ sehr.", ["dot"])
    assert {"東京", "$$"} <= set(r["source_pieces"]) and "<unk>" not in r["source_pieces"]
    note = next(n for n in r["notes"] if "never seen" in n)
    assert note.index("東") < note.index("京")
    assert "東京" in export.export_data(r, words=True)["variants"]["dot"]["hypotheses"][0]["source_tokens"]


def test_filled_unknown_output_is_noted(tr, monkeypatch):
    """When a model writes <unk>, the translation copies the attended source piece and the
    page says so (the tiny models' behaviour on such input is not fixed, so force it)."""
    from seq2seq import search, translator as translator_module

    real = search.greedy

    def unk_first(model, sources, **kw):
        hyps = real(model, sources, **kw)
        hyps[0].tokens[0] = translator_module.UNK_ID
        return hyps
    monkeypatch.setattr(translator_module, "greedy", unk_first)
    r = state.translate(tr, "Ich mag 東京.", ["dot"])
    assert state.FILLED_UNKNOWN_NOTE in r["notes"]
    h = r["variants"]["dot"]["hypotheses"][0]
    assert h["text"].startswith(r["source_pieces"][int(h["attention"][0].argmax())].replace("▁", ""))


def test_newlines_are_plain_whitespace(tr):
    r = state.translate(tr, "Es sieht\nnach Regen aus.", ["dot"])
    assert r["text"] == "Es sieht nach Regen aus." and r["notes"] == []


# ---- views: the results block --------------------------------------------------------------------

def _cells(html: str) -> list[str]:
    return re.findall(r'<figure class="cell" data-variant="([^"]+)"', html)


def test_results_block_has_summary_cells_and_step_data(result):
    html = views.results_html(result)
    assert html.index('id="summary"') < html.index('id="stepbar"') < html.index('id="multiples"')
    assert _cells(html) == list(VARIANTS)
    assert html.count('<img class="heatmap"') == len(ATTENTION)
    assert html.count('<img class="head"') == 4                        # multihead's heads
    assert "No attention" in html
    for v in ATTENTION:
        assert f'download="attention-{views.slug(SENTENCE)}-{v}-pieces.png"' in html
    rows = re.findall(r"<tr><td class=\"v\">([^<]+)</td><td class=\"tr\">([^<]*)</td>", html)
    assert [r[0] for r in rows] == list(VARIANTS)
    for v, text in rows:                          # translations as words, escaped
        assert text == views.esc(result["variants"][v]["hypotheses"][0]["text"]) and "▁" not in text
    data = json.loads(re.search(r'data-steps="([^"]+)"', html).group(1).replace("&quot;", '"')
                      .replace("&#123;", "{").replace("&#125;", "}").replace("&#36;", "$").replace("&amp;", "&")
                      .replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">"))
    views_ = views.compute_views(result)
    assert data == json.loads(json.dumps(views.step_data(result, False, views_, views.heatmaps(result, views=views_))))
    assert set(data["variants"]["dot"]["map"]) == {"top", "left", "cw", "ch", "rows", "cols", "w", "h"}


def test_summary_rows_log_p_per_piece_and_chrf(tr):
    from sacrebleu.metrics import CHRF

    src, ref = state.load_examples()[0]
    r = state.translate(tr, src, ["dot", "none"])
    rows = views.summary_rows(r)
    for row in rows:
        h = r["variants"][row["variant"]]["hypotheses"][0]
        assert row["per_piece"] == pytest.approx(h["logprob"] / len(h["pieces"]))
        assert row["chrf"] == pytest.approx(CHRF().sentence_score(h["text"], [ref]).score)
    html = views.results_html(r)
    assert "chrF" in html and views.esc(ref) in html


def test_step_data_matches_the_result(result):
    d = views.step_data(result)
    assert d["cols"] == [views.piece_text(s) for s in result["source_pieces"]] and len(d["lut"]) == 256
    assert d["steps"] == max(len(e["hypotheses"][0]["pieces"]) for e in result["variants"].values())
    for v in VARIANTS:
        h, s = result["variants"][v]["hypotheses"][0], d["variants"][v]
        assert s["rows"] == [views.piece_text(p) for p in h["pieces"]]
        np.testing.assert_allclose(s["p"], np.exp(h["logprobs"]), atol=1e-4)
        assert s["top"][0][0][0] == views.piece_text(h["candidates"][0][0][0])
        if v == "none":
            assert s["alpha"] is None
        else:
            np.testing.assert_allclose(s["alpha"], h["attention"], atol=1e-4)
            np.testing.assert_allclose(s["entropy"], analysis.entropy_bits(h["attention"]), atol=0.01)


def test_step_data_in_words(result):
    d = views.step_data(result, words=True)
    assert d["cols"] == words_from_pieces(result["source_pieces"]) and d["unit"] == "words"
    for v in ATTENTION:
        h = result["variants"][v]["hypotheses"][0]
        groups = analysis.target_groups(h["pieces"])
        s = d["variants"][v]
        assert len(s["rows"]) == len(groups)
        for t, g in enumerate(groups):             # α of a word: mean of its pieces' rows, summed per source word
            expected = np.mean([h["attention"][i] for i in g], axis=0)
            expected = [expected[w].sum() for w in word_groups(result["source_pieces"])]
            np.testing.assert_allclose(s["alpha"][t], expected, atol=1e-4)
            assert s["p"][t] == pytest.approx(np.exp(sum(h["logprobs"][i] for i in g)), abs=1e-4)
    html = views.results_html(result, words=True)
    assert f"attention-{views.slug(SENTENCE)}-dot-words.png" in html and "Words, not pieces" in html


def test_piece_text_reads_as_words():
    assert [views.piece_text(p) for p in ["▁The", "ing", "▁", "</s>", "▁."]] == ["The", "·ing", "␣", "</s>", "."]
    assert all("▁" not in views.piece_text(p) for p in ["▁▁", "a▁b", "▁"])


def test_tokens_keep_word_boundaries():
    shown = views.shown_labels(["▁Der", "▁Hund", "e", "</s>"], words=False)
    html = views.token_spans(shown, words=False, step_attr=True)
    assert re.findall(r'class="tok (\w+)" data-t="(\d)"[^>]*>([^<]*)<', html) == [
        ("ws", "1", "Der"), ("ws", "2", "Hund"), ("wc", "3", "·e"), ("ws", "4", "&lt;/s&gt;")]


def _column_lines(img: np.ndarray) -> list[int]:
    """x of the vertical grid lines through the first row of cells."""
    is_grid = (img == plots.GRID).all(axis=2)
    first_line = int(np.argmax(is_grid.sum(axis=1) > 40))
    return list(np.flatnonzero(is_grid[first_line - 3]))


def test_heatmaps_share_cells_width_and_source_columns():
    """A short and a long output (either side of a cell-size step) put every source column at the
    same pixels, on the page and in the exported files."""
    S, rng = 20, np.random.default_rng(0)
    src = [f"▁s{i}" for i in range(S)]

    def hyp(T):
        a = rng.dirichlet(np.ones(S), size=T).astype(np.float32)
        return {"text": "x", "pieces": [f"▁t{i}" for i in range(T - 1)] + ["</s>"], "logprob": -1.0, "score": -1.0,
                "logprobs": [-0.1] * T, "attention": a, "heads": a[:, None, :], "candidates": [[("▁x", 0.5)]] * T}
    r = {"text": "x", "source_pieces": src, "settings": {"method": "greedy"}, "notes": [], "reference": None,
         "variants": {"dot": {"hypotheses": [hyp(10)]}, "additive": {"hypotheses": [hyp(30)]}}}
    maps = views.heatmaps(r)
    short, long_ = maps["dot"], maps["additive"]
    assert short.pixels.shape[0] < long_.pixels.shape[0] and short.pixels.shape[1] == long_.pixels.shape[1]
    assert short.cell == long_.cell and short.grid_left == long_.grid_left
    lines = _column_lines(short.pixels)
    assert len(lines) >= S and lines == _column_lines(long_.pixels)
    with zipfile.ZipFile(export.export_zip(r)) as z:
        files = [np.asarray(Image.open(io.BytesIO(z.read(f"attention-x-{v}-pieces.png"))).convert("RGB"))
                 for v in ("dot", "additive")]
    assert _column_lines(files[0]) == _column_lines(files[1]) == lines


def test_heatmap_geometry_marks_row_t(result):
    """The page marks row t at grid_top + (t-1)·cell: those pixels are the row's cells."""
    pic = views.heatmaps(result)["dot"]
    m = result["variants"]["dot"]["hypotheses"][0]["attention"]
    t = 2
    y = pic.grid_top + (t - 1) * pic.cell + pic.cell // 2
    x = pic.grid_left + np.argmax(m[t - 1]) * pic.cell + 1
    assert tuple(pic.pixels[y, x]) == tuple(plots.colors(np.array([m[t - 1].max()]))[0])


def test_user_text_is_escaped(tr):
    text = "<script>alert(1)</script> ${alert(2)} {{x}} `y`"
    r = state.translate(tr, text, ["dot"])
    html = views.results_html(r)
    assert "<script>" not in html and "${" not in html and "{{" not in html and "`" not in html
    assert "&lt;script&gt;" in html


def test_diagnostics_follow_the_unit(result):
    pieces, words = views.diagnostics(result), views.diagnostics(result, words=True)
    assert pieces["none"] is None
    for v in ATTENTION:
        h = result["variants"][v]["hypotheses"][0]
        assert len(pieces[v]["coverage"]) == len(result["source_pieces"])
        assert len(words[v]["coverage"]) == len(words_from_pieces(result["source_pieces"]))
        assert sum(words[v]["coverage"]) == pytest.approx(len(analysis.target_groups(h["pieces"])), rel=1e-4)
        assert pieces[v]["fair_share"] == pytest.approx(len(h["pieces"]) / len(result["source_pieces"]))
    assert "Diagnostics" in views.results_html(result, words=True)


def test_long_input_stays_one_picture_per_variant(tr):
    long_text = " ".join(["Der See bildet eine Grenze."] * 12)
    r = state.translate(tr, long_text, ["dot"])
    assert len(r["source_pieces"]) > 80
    pic = views.heatmaps(r)["dot"]
    assert pic.cols == len(r["source_pieces"]) and pic.cell >= 14      # full size in the enlarged view


# ---- export -----------------------------------------------------------------------------------

def test_zip_holds_json_png_and_csv_per_variant(result, tiny_assets):
    hashes = state.model_hashes(tiny_assets)
    path = Path(export.export_zip(result, False, hashes))
    stem = f"attention-{views.slug(SENTENCE)}"
    assert path.name == f"{stem}-pieces.zip" and ckpt.ASSETS not in path.parents
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert names == {"attention.json", f"{stem}-pieces-figure.png", f"{stem}-pieces-figure.svg"} | {
            f"{stem}-{v}-pieces.{x}" for v in ATTENTION for x in ("png", "csv")}
        d = json.loads(z.read("attention.json"))
        for v in ATTENTION:
            with Image.open(io.BytesIO(z.read(f"{stem}-{v}-pieces.png"))) as im:
                assert im.format == "PNG"
            rows = list(csv.reader(io.StringIO(z.read(f"{stem}-{v}-pieces.csv").decode())))
            h = result["variants"][v]["hypotheses"][0]
            assert rows[0][1:] == result["source_pieces"] and [r[0] for r in rows[1:]] == h["pieces"]
            np.testing.assert_allclose(np.array([r[1:] for r in rows[1:]], float), h["attention"], atol=1e-5)
    assert d["source"] == SENTENCE and d["decoding"] == {"method": "greedy"} and d["unit"] == "pieces"
    for v in VARIANTS:
        e, h = d["variants"][v], result["variants"][v]["hypotheses"][0]
        x = e["hypotheses"][0]
        weights, _ = ckpt.model_paths(v, tiny_assets)
        assert e["model_sha256"] == ckpt.sha256_file(weights)
        assert x["target_tokens"] == h["pieces"] and x["source_tokens"] == result["source_pieces"]
        np.testing.assert_allclose(x["token_logprobs"], h["logprobs"])
        assert [c["token"] for c in x["top5"][0]] == [c for c, _ in h["candidates"][0]]
        if v == "none":
            assert x["attention"] is None and x["heads"] is None
        elif v == "multihead":
            np.testing.assert_allclose(np.array(x["heads"]), h["heads"].transpose(1, 0, 2), atol=1e-6)
        else:
            assert x["heads"] is None
    with pytest.raises(gr.Error):
        export.export_zip(None)


def test_zip_in_words(result):
    with zipfile.ZipFile(export.export_zip(result, True)) as z:
        d = json.loads(z.read("attention.json"))
        assert f"attention-{views.slug(SENTENCE)}-dot-words.png" in z.namelist()
    x = d["variants"]["dot"]["hypotheses"][0]
    assert d["unit"] == "words" and x["source_tokens"] == words_from_pieces(result["source_pieces"])
    h = result["variants"]["dot"]["hypotheses"][0]
    assert x["token_logprobs"] == pytest.approx(analysis.word_logprobs(h["logprobs"], h["pieces"]))


# ---- API handler ------------------------------------------------------------------------------

def test_translate_api(tr):
    out = state.translate_api(tr, SENTENCE, "general")
    assert isinstance(out["translation"], str) and out["variant"] == "general"
    m = np.array(out["attention"])
    assert m.shape == (len(out["target_tokens"]), len(out["source_tokens"]))
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-4)
    json.dumps(out)
    assert state.translate_api(tr, SENTENCE, "none")["attention"] is None
    assert state.translate_api(tr, SENTENCE, "dot", "beam", 3)["decoding"] == {"method": "beam", "beam": 3, "n_best": 1}
    for text, variant in ((None, "dot"), ("", "dot"), (SENTENCE, "bogus"), (SENTENCE, None), (SENTENCE, ["dot"])):
        with pytest.raises(gr.Error):
            state.translate_api(tr, text, variant)


# ---- the page's events -------------------------------------------------------------------------

def test_build_demo_without_a_server(demo):
    assert isinstance(demo, gr.Blocks)
    names = [fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"]
    assert names == ["translate"]


def test_compare_event_shows_results_and_refusal_leaves_nothing_stale(demo):
    compare = event(demo, "on_compare")
    ok = compare(SENTENCE, list(VARIANTS), "greedy", 5, 3, 1.0, 0, False)
    assert ok["results-area"]["visible"] is True and ok["message"]["visible"] is False
    assert 'id="summary"' in ok["results"] and ok["State"]["text"] == SENTENCE
    for bad in (("", list(VARIANTS)), (SENTENCE, []), ("x" * (MAX_CHARS + 1), ["dot"])):
        out = compare(*bad, "greedy", 5, 3, 1.0, 0, False)         # an answer, not an exception
        assert out["message"]["visible"] is True and "⚠️" in out["message"]["value"]
        assert out["results-area"]["visible"] is False and out["State"] is None and not out["results"]
        assert out["zip-file"]["visible"] is False


def _map_sizes(html: str) -> list[tuple[int, int, int, int]]:
    """(CSS width, CSS height, PNG width, PNG height) of every map in a results block."""
    out = []
    for uri, w, h in re.findall(r'<img class="(?:heatmap|head|nbest-map)" src="data:image/png;base64,([^"]+)" '
                                r'width="(\d+)" height="(\d+)"', html):
        with Image.open(io.BytesIO(base64.b64decode(uri))) as im:
            out.append((int(w), int(h), *im.size))
    return out


@pytest.mark.parametrize("ratio, drawn", [(1, 1), (3, 3), (1.5, 2), (None, plots.PIXEL_RATIO), ("junk", 2)])
def test_maps_are_drawn_at_the_screens_pixel_ratio(demo, ratio, drawn):
    """The compare event draws every map (variants and multihead heads) at its CSS size times the
    pixel ratio the page sends; a missing or bad one gets the default."""
    out = event(demo, "on_compare")(SENTENCE, list(VARIANTS), "greedy", 5, 3, 1.0, 0, False, "de-en", ratio)
    sizes = _map_sizes(out["results"])
    assert len(sizes) >= len(ATTENTION)
    for w, h, pw, ph in sizes:             # CSS size: the drawn size ÷ the ratio, rounded up
        assert (w - 1) * drawn < pw <= w * drawn and (h - 1) * drawn < ph <= h * drawn, (w, h, pw, ph)


def test_words_toggle_rerenders_everything(demo, result):
    toggle = event(demo, "on_words")
    out = toggle(result, True)
    assert f"attention-{views.slug(SENTENCE)}-dot-words.png" in out["results"] and "source word" in out["results"]
    assert toggle(None, True) == {"results": {"__type__": "update"}, "zip-file": {"__type__": "update"},
                                  "figure-files": {"__type__": "update"}}


def test_zip_event(demo, result):
    out = event(demo, "on_zip")(result, False)
    assert out["zip-file"]["visible"] is True and out["zip-file"]["value"].endswith("-pieces.zip")


# ---- fuzz: the handlers answer or raise the app's own error -------------------------------------

ANYTHING = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**500, max_value=10**500),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                     st.lists(st.sampled_from(list(VARIANTS) + ["x", ""]), max_size=3),
                     st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))


@settings(deadline=None, max_examples=200, derandomize=True)
@given(ANYTHING, ANYTHING, st.one_of(ANYTHING, st.sampled_from(["greedy", "beam", "sample"])), ANYTHING, ANYTHING)
def test_handlers_fuzz(demo, text, variants, method, number, words):
    compare = event(demo, "on_compare")
    out = compare(text, variants, method, number, number, number, number, words)      # never raises
    assert out["results-area"]["visible"] is (out["State"] is not None)
    try:
        state.translate_api(demo.translator, text, variants, method, number, number, number)
    except gr.Error as exc:
        assert exc.message and "Traceback" not in exc.message


# ---- degraded assets --------------------------------------------------------------------------

def test_missing_variant_degrades_gracefully(tiny_assets, tmp_path):
    assets = _copy_assets(tiny_assets, tmp_path / "assets", ["dot", "additive"])
    tr, problems, fatal = state.load_translator(assets)
    assert fatal is None and tr.variants == ["dot", "additive"]
    assert set(problems) == {"none", "general", "multihead"} and "not installed" in problems["general"]
    r = state.translate(tr, SENTENCE, ["dot", "general"])
    assert "not installed" in r["variants"]["general"]["missing"]
    html = views.results_html(r)
    assert "not installed" in html and _cells(html) == ["dot", "general"]
    assert isinstance(ui.build_demo(assets), gr.Blocks)


def test_corrupt_variant_is_left_out(tiny_assets, tmp_path):
    assets = _copy_assets(tiny_assets, tmp_path / "assets", list(VARIANTS))
    weights, _ = ckpt.model_paths("general", assets)
    weights.write_bytes(b"not a model")
    tr, problems, fatal = state.load_translator(assets)
    assert fatal is None and "general" not in tr.variants and "dot" in tr.variants
    assert "could not be loaded" in problems["general"]


def test_no_models_at_all(tiny_assets, tmp_path):
    assets = _copy_assets(tiny_assets, tmp_path / "assets", [])
    tr, problems, fatal = state.load_translator(assets)
    assert tr is not None and tr.variants == [] and len(problems) == len(VARIANTS)
    r = state.translate(tr, SENTENCE, ["dot"])
    assert "not installed" in views.results_html(r)
    assert isinstance(ui.build_demo(assets), gr.Blocks)


def test_no_tokenizer(tmp_path):
    (tmp_path / "empty").mkdir()
    tr, problems, fatal = state.load_translator(tmp_path / "empty")
    assert tr is None and fatal
    with pytest.raises(gr.Error, match="No models"):
        state.translate(tr, SENTENCE, ["dot"])
    assert isinstance(ui.build_demo(tmp_path / "empty"), gr.Blocks)


# ---- about tab --------------------------------------------------------------------------------

def _card(bleu: float) -> dict:
    sig = "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
    scores = {"n": 10, "bleu": bleu, "chrf": 2 * bleu, "bleu_signature": sig, "chrf_signature": "nrefs:1|nc:6"}
    return {"parameters": 123456, "training": {"minutes": 60.0, "hardware": ["cpu: 2 cores"]},
            "test": {"beam": 5, "all": scores, "min4words": scores,
                     "by_length": [{"words": "1-3", **scores}, {"words": "4-6", **scores, "bleu": None}]}}


def test_cards_table_and_length_plot(tiny_assets, tmp_path):
    assets = _copy_assets(tiny_assets, tmp_path / "assets", ["dot"])
    (assets / "cards").mkdir()
    ckpt.card_path("dot", assets).write_text(json.dumps(_card(12.5)))
    cards = about.load_cards(assets)
    assert cards["dot"]["parameters"] == 123456 and cards["additive"] is None
    table = about.cards_table(cards)
    row = table[table["variant"] == "dot"].iloc[0]
    assert row["parameters"] == "123,456" and row["Ding BLEU"] == "12.5" and "nrefs:1|case:mixed" in row["sacreBLEU signatures"]
    assert row["training minutes"] == "60.0" and "cpu" in row["hardware"] and row["decoding"] == "beam 5"
    assert table[table["variant"] == "none"].iloc[0]["parameters"] == "no model card"
    assert about.length_series(cards) == {"dot": [("1-3", 12.5), ("4-6", None)]}
    assert about.length_counts(cards) == {"1-3": 10, "4-6": 10}
    assert "No model card yet" in about.about_md(cards)
    assert isinstance(ui.build_demo(assets), gr.Blocks)


def test_about_typesets_every_formula(demo):
    from seq2seq.attention import FORMULAS_TEX

    text = about.about_md(about.load_cards())
    for v in VARIANTS:
        assert f"${FORMULAS_TEX[v]}$" in text
    assert "$$\\alpha_{t,i} = \\operatorname{softmax}_i(e_{t,i})" in text
    typeset = [c for c in demo.blocks.values() if isinstance(c, gr.Markdown) and c.latex_delimiters]
    assert len(typeset) == 1 and "Attention variants" in typeset[0].value


def test_api_describes_every_parameter(demo):
    info = demo.get_api_info()["named_endpoints"]["/translate"]
    described = {p["parameter_name"]: p["python_type"]["description"] or "" for p in info["parameters"]}
    assert set(described) == {"text", "variant", "method", "beam", "temperature", "seed", "direction"}
    assert all(len(d) > 15 for d in described.values()), described


# ---- names, links and the figure ----------------------------------------------------------------

def test_slug_is_short_plain_and_never_empty():
    assert views.slug("Der See bildet eine natürliche Grenze zwischen den Ländern.") == "der-see-bildet-eine-naturliche"
    assert views.slug("Größe") == "grosse" or views.slug("Größe") == "groe"
    assert views.slug("日本語 !!") == "sentence" and views.slug("") == "sentence"
    assert len(views.slug("Wort " * 40)) <= 32


def test_permalink_reads_back_to_the_same_request(tr):
    from urllib.parse import parse_qsl, urlparse

    r = state.translate(tr, SENTENCE + " & ?x=1", ["dot", "none"], "beam", 3, 2)
    link = views.permalink(r, True)
    raw = ui.read_link(dict(parse_qsl(urlparse(link).query)))
    assert raw["text"] == r["text"] and raw["unit"] == "words" and raw["variants"] == ["none", "dot"]
    again = state.translate(tr, raw["text"], raw["variants"], raw["method"], raw["beam"], raw["n_best"],
                            raw["temperature"], raw["seed"])
    assert again["settings"] == r["settings"] == {"method": "beam", "beam": 3, "n_best": 2}
    assert [h["text"] for e in again["variants"].values() for h in e["hypotheses"]] == \
        [h["text"] for e in r["variants"].values() for h in e["hypotheses"]]


def test_link_event_runs_the_comparison_and_refuses_bad_values(demo):
    on_link = event(demo, "on_link")

    class Request:
        def __init__(self, **q):
            self.query_params = q

    ok = on_link(Request(text=SENTENCE, variants="dot,general", method="sample", temperature="0.5", seed="3",
                         unit="pieces"))
    assert ok["results-area"]["visible"] is True and ok["State"]["settings"] == {
        "method": "sample", "temperature": 0.5, "seed": 3}
    assert ok["source-text"] == SENTENCE and ok["variants"] == ["dot", "general"] and ok["words"] is False
    assert ok["temperature"] == 0.5
    for bad in ({"text": SENTENCE, "beam": "abc", "method": "beam"}, {"text": SENTENCE, "variants": "bogus"},
                {"text": "x" * 100_000}, {"text": SENTENCE, "unit": "<b>"}, {"text": SENTENCE, "seed": "-5",
                                                                          "method": "sample"},
                {"text": SENTENCE, "temperature": "nan", "method": "sample"}, {"text": ""}):
        out = on_link(Request(**bad))            # the normal refusal: one message, nothing stale
        assert out["message"]["visible"] is True and "⚠️" in out["message"]["value"], bad
        assert out["results-area"]["visible"] is False and out["State"] is None
        assert len(out["source-text"]) <= MAX_CHARS
    assert all(v == {"__type__": "update"} for v in on_link(Request()).values())     # no link: nothing happens


def test_one_figure_of_every_map_as_png_and_svg(result):
    png, svg = export.export_figure(result, True)
    assert Path(png).name == f"attention-{views.slug(SENTENCE)}-words-figure.png" and svg.endswith(".svg")
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 800
    text = Path(svg).read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    fig = plots.comparison_figure(SENTENCE, export._panels(result, True, views.compute_views(result, True)))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == len(VARIANTS)
    for v, title in zip(VARIANTS, titles):      # each panel: its variant and translation
        assert title.startswith(v) and result["variants"][v]["hypotheses"][0]["text"][:20] in title
    assert fig._suptitle.get_text() == SENTENCE
    with pytest.raises(gr.Error):
        export.export_figure(None)


def test_views_are_computed_once_per_variant(result, monkeypatch):
    calls = []
    real = analysis.view
    monkeypatch.setattr(analysis, "view", lambda *a, **k: calls.append(1) or real(*a, **k))
    views.results_html(result, True)
    heads = result["variants"]["multihead"]["hypotheses"][0]["heads"].shape[1]
    assert len(calls) == len(VARIANTS) + heads      # one view per variant, one per head map


# ---- both directions ------------------------------------------------------------------------

def test_the_direction_switch_appears_only_where_the_models_translate_both_ways(demo, two_way_assets):
    one_way = [c for c in demo.blocks.values() if getattr(c, "elem_id", None) == "direction"]
    assert len(one_way) == 1 and one_way[0].visible is False
    two_way = ui.build_demo(two_way_assets)
    switch = next(c for c in two_way.blocks.values() if getattr(c, "elem_id", None) == "direction")
    assert switch.visible and [value for _, value in switch.choices] == ["de-en", "en-de"]
    assert [label for label, _ in switch.choices] == ["Deutsch → English", "English → Deutsch"]
    compare = event(two_way, "on_compare")
    out = compare("the house is red", ["dot"], "greedy", 5, 1, 1.0, 0, False, "en-de")
    assert out["results-area"]["visible"] and "&lt;2de&gt;" in out["results"]          # the tag, escaped
    # English typed into German → English: the page says so and offers the switch in one click.
    wrong = compare("I have forgotten my key.", ["dot"], "greedy", 5, 1, 1.0, 0, False, "de-en")
    assert wrong["switch-direction"]["visible"] and "English → Deutsch" in wrong["switch-direction"]["value"]
    assert "looks like English" in wrong["results"]
    right = compare("Ich habe meinen Schlüssel vergessen.", ["dot"], "greedy", 5, 1, 1.0, 0, False, "de-en")
    assert right["switch-direction"]["visible"] is False
    retitled = event(two_way, "on_direction")("en-de")
    assert retitled["source-text"]["label"] == "English sentence"
    assert event(two_way, "on_direction")("fr-en") == {"source-text": gr.update()}


def test_a_permalink_carries_a_direction_other_than_the_default(result):
    from demo import views

    assert "direction" not in views.permalink(result, True)
    assert "direction=en-de" in views.permalink({**result, "direction": "en-de"}, True)
    assert ui.read_link({"text": "x", "direction": "en-de"})["direction"] == "en-de"
    assert ui.read_link({"text": "x"})["direction"] == "de-en"


def test_a_links_tool_sets_the_question_tab_up(demo, tr):
    """tool=knock-out or attribution: the question tab scores the link's sentence on its first variant's
    own translation and opens and runs that section at step t; any other tool leaves the tab alone."""
    from demo import question as q

    fn = next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "on_tool")

    class Request:
        def __init__(self, **query):
            self.query_params = query

    def on_tool(**query):
        return {getattr(c, "elem_id", None): v for c, v in fn(Request(**query)).items() if getattr(c, "elem_id", None)}

    out = on_tool(text=SENTENCE, variants="additive,dot", t="2", unit="words", tool="knock-out")
    target = tr.translate(SENTENCE, "additive").texts[0]
    assert out["q-source"] == SENTENCE and out["q-target"] == target
    forced = q.analyse(tr, SENTENCE, target, ["additive", "dot"])
    row = analysis.target_groups(forced["target_pieces"])[1][0]            # word 2's first piece
    most = int(np.asarray(forced["forced"]["additive"]["attention"])[row].argmax())
    assert out["q-knock"]["value"] == [most] and out["q-force-t"] == row + 1
    assert out["q-knock-table"]["data"] == q.knock_out_view(tr, forced, [most])[1]
    assert out["q-knock-section"]["open"] is True and out["tool-open"]["visible"] is True
    assert "knock-out" in out["tool-open"]["value"] and "word = 2" in out["tool-open"]["value"]

    out = on_tool(text=SENTENCE, variants="general", t="3", unit="pieces", tool="attribution")
    assert out["q-attr-section"]["open"] is True and out["q-contrast-t"] == 3
    assert out["q-attr"].count("<img") == 2 and out["tool-open"]["visible"] is True    # α beside attribution

    for query in ({"text": SENTENCE, "tool": "maps"}, {"text": SENTENCE, "tool": "lines"},
                  {"text": SENTENCE, "tool": "<b>"}, {"tool": "knock-out"}, {"text": "", "tool": "knock-out"},
                  {"text": SENTENCE, "variants": "bogus", "tool": "attribution"}):
        out = on_tool(**query)                  # nothing set up; a refused one is the Translate tab's to say
        assert out["tool-open"]["visible"] is False and out["q-source"] == {"__type__": "update"}, query
