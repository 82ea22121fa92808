"""demo/export.py: the zip (JSON, PNG and CSV per variant) and the one figure of every map."""
from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from conftest import ATTENTION, SENTENCE
from demo import export, plots, state, views
from seq2seq import analysis, checkpoint as ckpt
from seq2seq.attention import VARIANTS
from seq2seq.tokenizer import words_from_pieces


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
