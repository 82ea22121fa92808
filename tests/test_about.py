"""The About tab's text and tables, read from model cards (demo/about.py)."""
from __future__ import annotations

from demo import about


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
