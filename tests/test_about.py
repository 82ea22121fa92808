"""The About tab's text and tables, read from model cards (demo/about.py)."""
from __future__ import annotations

import json

import gradio as gr

from conftest import copy_assets
from demo import about, ui
from seq2seq import checkpoint as ckpt
from seq2seq.attention import VARIANTS


def _test(chrf: float) -> dict:
    scores = {"n": 4, "bleu": chrf / 2, "chrf": chrf}
    return {"beam": 5, "all": scores, "min4words": scores, "tatoeba": {"all": scores, "min10words": scores}}


def test_cards_of_two_way_models_show_both_directions():
    two_way = {"parameters": 1000, "directions": ["de-en", "en-de"], "training": {"minutes": 5.0},
               "test": _test(50.0), "other_directions": {"en-de": {"test": _test(40.0)}}}
    one_way = {"parameters": 1000, "training": {"minutes": 5.0}, "test": _test(45.0)}
    cards = {"dot": two_way, "none": one_way, "general": None}
    assert list(about.tests_by_direction(two_way)) == ["de-en", "en-de"]
    assert list(about.tests_by_direction(one_way)) == ["de-en"] and about.tests_by_direction(None) == {}
    table = about.cards_table(cards)
    dot = table[table["variant"] == "dot"].iloc[0]
    assert dot["English → German Ding chrF"] == "40.0" and dot["English → German Tatoeba chrF"] == "40.0"
    assert table[table["variant"] == "none"].iloc[0]["English → German Ding chrF"] == ""
    assert table[table["variant"] == "general"].iloc[0]["parameters"] == "no model card"
    text = about.training_md(cards)
    assert "German → English: Ding 50.0, Tatoeba 50.0; English → German: Ding 40.0, Tatoeba 40.0" in text
    assert "`none`: 5.0 training minutes on . Test chrF: Ding 45.0, Tatoeba 45.0" in text


def test_cards_of_one_way_models_keep_todays_columns():
    table = about.cards_table({"dot": {"parameters": 1, "test": _test(30.0)}})
    assert not [c for c in table.columns if "English → German" in c]


def _card(bleu: float) -> dict:
    sig = "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
    scores = {"n": 10, "bleu": bleu, "chrf": 2 * bleu, "bleu_signature": sig, "chrf_signature": "nrefs:1|nc:6"}
    return {"parameters": 123456, "training": {"minutes": 60.0, "hardware": ["cpu: 2 cores"]},
            "test": {"beam": 5, "all": scores, "min4words": scores,
                     "by_length": [{"words": "1-3", **scores}, {"words": "4-6", **scores, "bleu": None}]}}


def test_cards_table_and_length_plot(tiny_assets, tmp_path):
    assets = copy_assets(tiny_assets, tmp_path / "assets", ["dot"])
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
