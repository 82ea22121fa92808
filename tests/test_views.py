"""demo/views.py with small random models (tiny_assets): the results block, its step data and
heatmaps, in pieces and in words; names and permalinks."""
from __future__ import annotations

import io
import json
import re
import zipfile

import numpy as np
import pytest
from PIL import Image

from conftest import ATTENTION, SENTENCE
from demo import export, plots, state, ui, views
from seq2seq import analysis
from seq2seq.attention import VARIANTS
from seq2seq.tokenizer import word_groups, words_from_pieces


# ---- the results block --------------------------------------------------------------------

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


# ---- names and links ----------------------------------------------------------------------

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


def test_a_permalink_carries_a_direction_other_than_the_default(result):
    from demo import views

    assert "direction" not in views.permalink(result, True)
    assert "direction=en-de" in views.permalink({**result, "direction": "en-de"}, True)
    assert ui.read_link({"text": "x", "direction": "en-de"})["direction"] == "en-de"
    assert ui.read_link({"text": "x"})["direction"] == "de-en"


def test_views_are_computed_once_per_variant(result, monkeypatch):
    calls = []
    real = analysis.view
    monkeypatch.setattr(analysis, "view", lambda *a, **k: calls.append(1) or real(*a, **k))
    views.results_html(result, True)
    heads = result["variants"]["multihead"]["hypotheses"][0]["heads"].shape[1]
    assert len(calls) == len(VARIANTS) + heads      # one view per variant, one per head map
