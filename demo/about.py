"""The About tab: the variants' formulas, what the models learned from, the model cards and
BLEU by sentence length, all read from the shipped cards."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

from seq2seq import checkpoint as ckpt
from seq2seq.attention import FORMULAS_TEX, VARIANTS
from seq2seq.translator import MAX_BEAM, MAX_CHARS, MAX_OUTPUT, MAX_PIECES, direction_name

WORDS_RULE = ("Words, not pieces: a source word's weight is the sum over its pieces; a target word's row is the "
              "mean of its pieces' rows, so every row still sums to 1. </s> stays its own word.")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


def md_escape(s) -> str:
    """Text safe inside Markdown: HTML-escaped first, then Markdown/LaTeX characters backslashed."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(str(s), quote=False))


def load_cards(assets: Path = ckpt.ASSETS) -> dict[str, dict | None]:
    cards = {}
    for v in VARIANTS:
        try:
            cards[v] = json.loads(ckpt.card_path(v, Path(assets)).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cards[v] = None
    return cards


def _get(d, *keys):
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def tests_by_direction(card: dict | None) -> dict[str, dict]:
    """A card's test results per direction: ``test`` is its first direction's, the rest sit
    under ``other_directions`` (cards written before directions: German → English only)."""
    if not isinstance(card, dict):
        return {}
    first = (card.get("directions") or ["de-en"])[0]
    out = {first: card.get("test")} if isinstance(card.get("test"), dict) else {}
    for d, r in (card.get("other_directions") or {}).items():
        if isinstance(r, dict) and isinstance(r.get("test"), dict):
            out[d] = r["test"]
    return out


def other_direction_cells(cards: dict[str, dict | None]) -> tuple[list[str], dict[str, list[str]]]:
    """Columns for the directions after the first, where any card has them: Ding and Tatoeba chrF."""
    extra = list(dict.fromkeys(d for c in cards.values() for d in list(tests_by_direction(c))[1:]))
    headers = [f"{direction_name(d)} {name} chrF" for d in extra for name in ("Ding", "Tatoeba")]
    cells = {v: [("" if (x := _get(tests_by_direction(c).get(d), *keys)) is None else f"{x}")
                 for d in extra for keys in (("all", "chrf"), ("tatoeba", "all", "chrf"))] for v, c in cards.items()}
    return headers, cells


def cards_table(cards: dict[str, dict | None]):
    import pandas as pd

    rows = []
    extra_headers, extra = other_direction_cells(cards)
    for v, c in cards.items():
        if c is None:
            rows.append([v, "no model card", *[""] * (10 + len(extra_headers))])
            continue
        beam = _get(c, "test", "beam")
        decoding = "" if beam is None else "greedy" if beam == 1 else f"beam {beam}"
        hw = _get(c, "training", "hardware")
        hw = "; ".join(map(str, hw)) if isinstance(hw, list) else (hw or "")
        params = c.get("parameters")
        fmt = (lambda x: "" if x is None else f"{x}")
        rows.append([v, f"{params:,}" if isinstance(params, int) else fmt(params),
                     fmt(_get(c, "training", "minutes")), hw, decoding,
                     fmt(_get(c, "test", "all", "bleu")), fmt(_get(c, "test", "all", "chrf")),
                     fmt(_get(c, "test", "min4words", "bleu")), fmt(_get(c, "test", "min4words", "chrf")),
                     fmt(_get(c, "test", "tatoeba", "all", "chrf")), fmt(_get(c, "test", "tatoeba", "min10words", "chrf")),
                     *extra[v],
                     f"{_get(c, 'test', 'all', 'bleu_signature') or ''}\n{_get(c, 'test', 'all', 'chrf_signature') or ''}".strip()])
    return pd.DataFrame(rows, columns=["variant", "parameters", "training minutes", "hardware", "decoding", "Ding BLEU",
                                       "Ding chrF", "Ding BLEU ≥4 words", "Ding chrF ≥4 words", "Tatoeba chrF",
                                       "Tatoeba chrF ≥10 words", *extra_headers, "sacreBLEU signatures"])


TEST_SETS = {"ding": ("test",), "tatoeba": ("test", "tatoeba")}  # where each test set's figures sit in a card
TEST_SET_TITLES = {"ding": "Ding dictionary test", "tatoeba": "Tatoeba test"}


def length_counts(cards: dict[str, dict | None], test_set: str = "ding") -> dict[str, int]:
    """Test sentences per source-length bucket (the same test split for every card)."""
    for c in cards.values():
        buckets = _get(c, *TEST_SETS[test_set], "by_length") if c else None
        if isinstance(buckets, list):
            return {str(b.get("words")): b["n"] for b in buckets if isinstance(b, dict) and isinstance(b.get("n"), int)}
    return {}


def length_panels(cards: dict[str, dict | None]) -> list[tuple[str, dict, dict]]:
    """The About plot's panels: one per test set that the cards report."""
    return [(TEST_SET_TITLES[name], length_series(cards, test_set=name), length_counts(cards, name))
            for name in TEST_SETS if name == "ding" or length_series(cards, test_set=name)]


def length_series(cards: dict[str, dict | None], metric: str = "bleu",
                  test_set: str = "ding") -> dict[str, list[tuple[str, float | None]]]:
    out = {}
    for v, c in cards.items():
        buckets = _get(c, *TEST_SETS[test_set], "by_length") if c else None
        if isinstance(buckets, list):
            out[v] = [(str(b.get("words")), b.get(metric)) for b in buckets if isinstance(b, dict)]
    return out


def own_corpus(cards: dict[str, dict | None]) -> str | None:
    """The corpus of models trained on one's own pairs (``prepare --tsv``), as their cards name it;
    None for the shipped dictionary and Tatoeba."""
    for c in cards.values():
        corpus = _get(c, "data", "corpus")
        if isinstance(corpus, str):
            return None if corpus.startswith("Ding") else corpus
    return None


def quality_line(cards: dict[str, dict | None]) -> str:
    """The Translate tab's one line on what to expect: the best test chrF on each test set."""
    def best(*keys):
        scored = [(_get(c, *keys), v) for v, c in cards.items() if c and isinstance(_get(c, *keys), (int, float))]
        return max(scored) if scored else None

    ding, tat = best("test", "all", "chrf"), best("test", "tatoeba", "all", "chrf")
    if ding is None:
        return "No model cards yet: quality unmeasured."
    corpus = own_corpus(cards)
    if corpus:
        return f"Trained on {md_escape(corpus)}. Best test chrF (0–100): {ding[0]} (`{ding[1]}`)."
    corpora = "a German–English dictionary and Tatoeba's everyday sentences" if tat else "a German–English dictionary"
    parts = [f"Trained on {corpora}. Best test chrF (0–100): {ding[0]} on dictionary entries (`{ding[1]}`)"]
    if tat:
        parts.append(f", {tat[0]} on everyday sentences (`{tat[1]}`)")
    return "".join(parts) + ". Long sentences drift."


def training_md(cards: dict[str, dict | None]) -> str:
    """Data, training and expected quality, read from the cards (so it always matches the weights)."""
    known = {v: c for v, c in cards.items() if c}
    if not known:
        return "No model cards yet."
    c = next(iter(known.values()))
    splits, tat = _get(c, "data", "splits") or {}, _get(c, "data", "tatoeba")
    ding_n = _get(splits, "train", "pairs")
    own = own_corpus(cards)
    name = md_escape(own) if own else "**Ding German–English dictionary** (Debian `trans-de-en`, GPL-2+)"
    lines = [f"- {name}: {ding_n:,} training pairs" if isinstance(ding_n, int) else f"- {name}"]
    if isinstance(tat, dict):
        tn = _get(tat, "splits", "train", "pairs")
        lines.append("- **Tatoeba** sentence pairs (tatoeba.org via manythings.org/anki, deu-eng export of "
                     f"2018-05-13, CC-BY 2.0 France): {tn:,} training pairs" if isinstance(tn, int) else
                     "- **Tatoeba** sentence pairs (tatoeba.org via manythings.org/anki, CC-BY 2.0 France)")
    for v, card in known.items():
        tr = card.get("training") or {}
        ws = tr.get("warm_start") or {}
        earlier = "an earlier model" if own else "the dictionary-only model"
        warm = (f", warm-started from {earlier} ({ws['train_seconds'] / 60:.0f} of the minutes)"
                if isinstance(ws.get("train_seconds"), (int, float)) else "")
        hw = "; ".join(map(str, tr.get("hardware") or []))
        scores, tests = [], tests_by_direction(card)
        for d, test in tests.items():
            tat_chrf = _get(test, "tatoeba", "all", "chrf")
            scores.append((f"{direction_name(d)}: " if len(tests) > 1 else "")
                          + f"{'' if own else 'Ding '}{_get(test, 'all', 'chrf')}"
                          + (f", Tatoeba {tat_chrf}" if tat_chrf is not None else ""))
        lines.append(f"- `{v}`: {tr.get('minutes')} training minutes on {md_escape(hw)}{warm}. Test chrF: "
                     + "; ".join(scores or ["not measured"]))
    lines.append("\nchrF is 0–100 (higher is better). Expect everyday short sentences to come out mostly right "
                 "and long ones to drift; these are small models trained on one CPU.")
    return "\n".join(lines)


def about_md(cards: dict[str, dict | None]) -> str:
    """The About tab's text. Its formulas are typeset (the Markdown that shows it reads $…$ as
    LaTeX): nothing here comes from a user, and card values are escaped."""
    rows = ["| variant | score |", "|---|---|"]
    for v in VARIANTS:
        rows.append(f"| `{v}` | ${FORMULAS_TEX[v]}$ |")
    missing = [v for v, c in cards.items() if c is None]
    text = ["## Attention variants",
            "Every model is the same GRU encoder–decoder, $h_i = f(x_i, h_{i-1})$ and "
            "$p(y_t \\mid y_{<t}, x) = g(y_{t-1}, s_t, c_t)$, with",
            "$$\\alpha_{t,i} = \\operatorname{softmax}_i(e_{t,i}), \\qquad c_t = \\sum_i \\alpha_{t,i} h_i.$$",
            "Only the score $e_{t,i}$ differs:", "\n".join(rows),
            "## What the models learned from", training_md(cards),
            "## Model cards"]
    if missing:
        text.append("No model card yet for " + ", ".join(f"`{v}`" for v in missing) +
                    " (written by `python -m seq2seq evaluate --write-cards`).")
    return "\n\n".join(text)


LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]
LIMITS_MD = (f"**Limits**: {MAX_CHARS} characters before tokenising, {MAX_PIECES} sentencepiece pieces after, "
             f"{MAX_OUTPUT} output pieces, beam width ≤ {MAX_BEAM}.")
