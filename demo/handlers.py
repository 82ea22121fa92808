"""What the page does, as functions of plain data: ``demo/ui.py`` lays out the
components and wires their events to these; tests call them directly.

* ``load_translator``   load the shipped models once (degrading per variant)
* ``translate_all``     run the selected variants → a result dict (kept in gr.State)
* ``compare`` / ``render``  result → per-variant views (translation, log p, heatmap)
* ``step_view``         α_t bars, chosen token and top-5 candidates at step t
* ``align``             source tokens weighted by α of one clicked output token
* ``diagnostics``       entropy, coverage, mass on final token and punctuation
* ``export``            attention as JSON and PNG files in a temp dir
* ``translate_api``     the ``translate`` API endpoint
* ``load_cards`` …      the About tab: model cards, BLEU by length

Model logic lives in ``seq2seq`` (``Translator``); nothing here duplicates it. The
functions that draw import ``demo/plots.py`` where they need it: it imports
matplotlib (about 0.3 s), which the page does not need to start.
User text only ever reaches the page through Textbox, HighlightedText, Label,
Dataframe or escaped Markdown with LaTeX off.
"""
from __future__ import annotations

import html
import json
import re
import shutil
import tempfile
import time
import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr
import numpy as np

from seq2seq import checkpoint as ckpt
from seq2seq.attention import FORMULAS, VARIANTS
from seq2seq.tokenizer import EOS_ID, UNK_ID, word_groups, words_from_pieces
from seq2seq.translator import (MAX_BEAM, MAX_CHARS, MAX_OUTPUT, MAX_PIECES, METHODS, InputError, Translator,
                                clean_input, fills_unknown)

if TYPE_CHECKING:          # at run time, imported where it draws (see above)
    from . import plots

EXAMPLES_FILE = Path(__file__).with_name("examples.tsv")
NEVER_ATTENDED = 0.2      # coverage Σ_t α_{t,i} of a source word below this: never attended
OVER_ATTENDED = 1.5       # above this: over-attended
EXPORT_ROOT = Path(tempfile.gettempdir()) / "attention-demo-exports"
EXPORT_MAX_AGE_S = 3600
DEFAULT_API_VARIANT = "additive"
TRANSLATE_WORKERS = min(2, os.cpu_count() or 1)   # variants decoded in parallel per request
HALF = True               # the page decodes one sentence at a time: fp16 is faster then (see Translator)

WORDS_RULE = ("**Words, not pieces**: a source word's weight is the **sum** over its pieces; a target word's "
              "row is the **mean** of its pieces' rows, so every row still sums to 1. `</s>` stays its own word.")
NO_ATTENTION = ("**No attention**: this model conditions only on the final encoder state "
                "(c_t = [→h_S ; ←h_1] at every step), so there is no α to show.")
LARGE_HEATMAP_NOTE = ("This input is long, so its heatmaps are large and the page shows them scaled down: open "
                      "one full screen (⛶) or download it to read every cell, or click an output token to list "
                      "its row of α in percent.")
FILLED_UNKNOWN_NOTE = ("Where a model wrote the unknown piece <unk>, its translation shows instead the source "
                       "piece that step attended to most (argmax of α_t), as attention-based translators do for "
                       "names; the none variant has no attention, so its <unk> are left out.")
CELL_NOTE = ("Cells show α_{t,i} in percent (blank: below 0.5 %); every heatmap uses the same 0–1 colour "
             "scale and the same source axis.")


# ---- helpers -----------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


def md_escape(s) -> str:
    """Text safe inside Markdown: HTML-escaped first, then Markdown/LaTeX characters backslashed."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(str(s), quote=False))


def error(message: str) -> gr.Error:
    return gr.Error(message, print_exception=False)


def load_examples(path: Path = EXAMPLES_FILE) -> list[tuple[str, str]]:
    """(German source, English reference) pairs from the test split; [] if the file is absent."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    pairs = []
    for line in lines:
        if line.strip() and not line.startswith("#"):
            src, _, ref = line.partition("\t")
            pairs.append((src.strip(), ref.strip()))
    return pairs


@lru_cache(maxsize=1)
def _references() -> dict[str, str]:
    return dict(load_examples())


def load_translator(assets: Path = ckpt.ASSETS) -> tuple[Translator | None, dict[str, str], str | None]:
    """Load every shipped variant once. Returns (translator, {variant: problem}, fatal problem).

    A variant whose files are absent or fail verification is left out with a
    message; only an unusable tokenizer leaves no translator at all.
    """
    assets = Path(assets)
    problems: dict[str, str] = {}
    for v in VARIANTS:
        weights, _ = ckpt.model_paths(v, assets)
        if not weights.exists():
            problems[v] = f"The {v} model is not installed (no {weights.name} in the assets folder)."
    try:
        return Translator(assets, half=HALF), problems, None
    except (ckpt.CheckpointError, FileNotFoundError, ValueError, OSError) as exc:
        first = str(exc)
    ok = []
    for v in VARIANTS:
        if v in problems:
            continue
        try:
            Translator(assets, [v])
            ok.append(v)
        except (ckpt.CheckpointError, FileNotFoundError, ValueError, OSError) as exc:
            problems[v] = f"The {v} model could not be loaded: {exc}"
    if not ok:
        try:
            return Translator(assets, [], half=HALF), problems, None if problems else first
        except (ckpt.CheckpointError, FileNotFoundError, ValueError, OSError) as exc:
            return None, problems, f"The models could not be loaded: {exc}"
    return Translator(assets, ok, half=HALF), problems, None


def available(tr: Translator | None) -> list[str]:
    return [] if tr is None else [v for v in VARIANTS if v in tr.models]


def _piece(tr: Translator, i: int) -> str:
    return "</s>" if i == EOS_ID else tr.tok.pieces([i])[0]


def _is_punct(piece: str) -> bool:
    s = piece.replace("▁", "")
    return bool(s) and all(unicodedata.category(c).startswith("P") for c in s)


def _clean_or_error(text) -> str:
    try:
        return clean_input(text)
    except InputError as exc:
        raise error(str(exc)) from None


def _check_variants(variants) -> list[str]:
    if variants is None:
        raise error("No variants were given; choose at least one of " + ", ".join(VARIANTS) + ".")
    if isinstance(variants, str):
        variants = [variants]
    if not isinstance(variants, (list, tuple)):
        raise error("Variants must be a list of names.")
    for v in variants:
        if not isinstance(v, str) or v not in VARIANTS:
            raise error(f"Unknown variant {v!r}; choose from {', '.join(VARIANTS)}.")
    chosen = [v for v in VARIANTS if v in variants]
    if not chosen:
        raise error("Choose at least one variant.")
    return chosen


def _number(value, name: str, lo: float, hi: float, integer: bool = False):
    if isinstance(value, bool):  # True is an int to Python, not a number a user typed
        raise error(f"{name} must be a number.")
    try:
        x = float(value)
    except OverflowError:  # an integer beyond float range is out of range, not a crash
        x = float("inf") if value > 0 else float("-inf")
    except (TypeError, ValueError):
        raise error(f"{name} must be a number.") from None
    if not np.isfinite(x) or not lo <= x <= hi:
        bounds = (f"{int(lo):,}", f"{int(hi):,}") if integer else (f"{lo:g}", f"{hi:g}")
        raise error(f"{name} must be between {bounds[0]} and {bounds[1]}.")
    return int(round(x)) if integer else x


def settings_for(method, beam=5, n_best=1, temperature=1.0, seed=0) -> dict:
    """Validated decoding settings (raises gr.Error with a clear message)."""
    if method not in METHODS:
        raise error(f"Unknown decoding method {method!r}; choose from {', '.join(METHODS)}.")
    s = {"method": method}
    if method == "beam":
        s["beam"] = _number(beam, "Beam width", 1, MAX_BEAM, integer=True)
        s["n_best"] = min(_number(n_best, "n-best", 1, MAX_BEAM, integer=True), s["beam"])
    elif method == "sample":
        s["temperature"] = _number(temperature, "Temperature", 1e-3, 10)
        s["seed"] = _number(seed, "Seed", 0, 2**31 - 1, integer=True)
    return s


# ---- translation: the result kept in gr.State -----------------------------------------------

def translate_all(tr: Translator | None, text, variants, method="greedy", beam=5, n_best=1,
                  temperature=1.0, seed=0) -> dict:
    """Translate ``text`` with each selected variant. Returns a plain dict:

    ``{"text", "source_pieces", "settings", "notes": [...], "variants": {name: entry}}`` where an
    entry is ``{"missing": message}`` or ``{"hypotheses": [{"text", "pieces", "logprob",
    "score", "logprobs", "attention" (T×S float32 or None), "candidates" [[(piece, p)]*T]}]}``.
    """
    raw = text
    text = _clean_or_error(text)
    chosen = _check_variants(variants)
    settings = settings_for(method, beam, n_best, temperature, seed)
    if tr is None:
        raise error("No models are loaded, so nothing can be translated (see the message at the top).")
    notes = []
    try:
        ids = tr.source_ids(text)
    except InputError as exc:
        raise error(str(exc)) from None
    if isinstance(raw, str) and any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") and c not in "\t\n\r"
                                    for c in raw):
        notes.append("Control or invisible formatting characters were replaced by spaces.")
    if UNK_ID in ids:
        unknown = sorted({c for c in text if c.strip() and UNK_ID in tr.tok.encode(c)})
        shown = " ".join(unknown[:12]) if unknown else "some characters"
        notes.append(f"The models have never seen {shown}: each becomes the unknown piece <unk> to them, "
                     "labelled here with what you typed (emoji and non-Latin scripts are outside the "
                     "German–English vocabulary).")
    if any(unicodedata.bidirectional(c) in ("R", "AL") for c in text):
        notes.append("The text contains right-to-left script; the models were trained on German only.")
    result = {"text": text, "source_pieces": tr.tok.text_pieces(text), "settings": settings, "notes": notes,
              "variants": {}}
    kw = {k: v for k, v in settings.items() if k in ("beam", "n_best", "temperature", "seed")}
    ready = [v for v in chosen if v in tr.models]
    # The models are independent and torch releases the GIL inside its kernels, so the
    # variants decode side by side on the machine's cores.
    with ThreadPoolExecutor(max_workers=max(1, min(TRANSLATE_WORKERS, len(ready)))) as pool:
        futures = {v: pool.submit(tr.translate, text, v, method=settings["method"], **kw) for v in ready}
    for v in chosen:
        if v not in tr.models:
            result["variants"][v] = {"missing": f"The {v} model is not installed, so it cannot translate."}
            continue
        try:
            t = futures[v].result()
        except InputError as exc:
            raise error(str(exc)) from None
        hyps = []
        for h, pieces, out in zip(t.hypotheses, t.target_pieces, t.texts):
            att = h.attention
            hyps.append({
                "text": out,
                "pieces": list(pieces),
                "logprob": h.logprob,
                "score": float(h.score),
                "logprobs": [float(x) for x in h.logprobs],
                "attention": None if att is None else np.asarray(att, np.float32),
                "candidates": [[(_piece(tr, i), float(p)) for i, p in step] for step in h.candidates],
            })
        result["variants"][v] = {"hypotheses": hyps}
    if any(fills_unknown(h.tokens, h.attention) for f in futures.values() for h in f.result().hypotheses):
        notes.append(FILLED_UNKNOWN_NOTE)
    return result


# ---- words, not only pieces ----------------------------------------------------------------

def target_groups(pieces: list[str]) -> list[list[int]]:
    """word_groups for target pieces, with a final ``</s>`` kept as its own word."""
    if pieces and pieces[-1] == "</s>":
        return word_groups(pieces[:-1]) + [[len(pieces) - 1]]
    return word_groups(pieces)


def target_words(pieces: list[str]) -> list[str]:
    if pieces and pieces[-1] == "</s>":
        return (words_from_pieces(pieces[:-1]) if len(pieces) > 1 else []) + ["</s>"]
    return words_from_pieces(pieces)


def aggregate_words(matrix, source_pieces: list[str], target_pieces: list[str]):
    """(T×S over pieces) → (words_T × words_S): source pieces summed, target pieces averaged.
    Returns (matrix, target words, source words); rows still sum to 1."""
    m = np.asarray(matrix, np.float64)
    src_groups = word_groups(source_pieces)
    cols = np.stack([m[:, g].sum(axis=1) for g in src_groups], axis=1)
    rows = np.stack([cols[g].mean(axis=0) for g in target_groups(target_pieces)], axis=0)
    return rows, target_words(target_pieces), words_from_pieces(source_pieces)


def matrix_view(result: dict, hyp: dict, words: bool):
    """(matrix or None, row labels, column labels) of one hypothesis, in pieces or words."""
    src = result["source_pieces"]
    if words:
        if hyp["attention"] is None:
            return None, target_words(hyp["pieces"]), words_from_pieces(src)
        return aggregate_words(hyp["attention"], src, hyp["pieces"])
    return hyp["attention"], list(hyp["pieces"]), list(src)


# ---- diagnostics ---------------------------------------------------------------------------

def diagnostics(attention, source_pieces: list[str]) -> dict:
    """Per-step entropy (bits), coverage Σ_t α per source word with flags, and the mean mass
    per step on the final source piece and on punctuation pieces."""
    a = np.asarray(attention, np.float64)
    S = a.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(a > 0, a * np.log2(a), 0.0).sum(axis=1)
    groups = word_groups(source_pieces)
    words = words_from_pieces(source_pieces)
    cov = [float(a[:, g].sum()) for g in groups]
    punct = [i for i, p in enumerate(source_pieces) if _is_punct(p)]
    return {
        "entropy": [float(x) for x in ent],
        "mean_entropy": float(ent.mean()),
        "uniform_entropy": float(np.log2(S)) if S > 0 else 0.0,
        "words": words,
        "coverage": cov,
        "never": [w for w, c in zip(words, cov) if c < NEVER_ATTENDED],
        "over": [w for w, c in zip(words, cov) if c > OVER_ATTENDED],
        "final_mass": float(a[:, -1].mean()),
        "punct_mass": float(a[:, punct].sum(axis=1).mean()) if punct else 0.0,
    }


def diagnostics_tables(result: dict) -> dict:
    """Three tables (lists of rows with headers) for the Diagnostics section."""
    import pandas as pd

    names = [v for v, e in result["variants"].items() if "hypotheses" in e]
    diag = {v: (diagnostics(result["variants"][v]["hypotheses"][0]["attention"], result["source_pieces"])
                if result["variants"][v]["hypotheses"][0]["attention"] is not None else None) for v in names}
    summary = []
    for v in names:
        d = diag[v]
        if d is None:
            summary.append([v, "no attention", "", "", "", "", ""])
            continue
        summary.append([v, f"{d['mean_entropy']:.2f}", f"{d['uniform_entropy']:.2f}", f"{d['final_mass']:.2f}",
                        f"{d['punct_mass']:.2f}", ", ".join(d["never"]) or "–", ", ".join(d["over"]) or "–"])
    summary_df = pd.DataFrame(summary, columns=[
        "variant", "mean entropy of α_t (bits)", "uniform α would be (bits)", "mass on final source token",
        "mass on punctuation", f"never attended (< {NEVER_ATTENDED})", f"over-attended (> {OVER_ATTENDED})"])
    words = words_from_pieces(result["source_pieces"])
    cov_rows = []
    for k, w in enumerate(words):
        row = [w]
        for v in names:
            d = diag[v]
            if d is None:
                row.append("–")
                continue
            c = d["coverage"][k]
            flag = " ▼ never" if c < NEVER_ATTENDED else " ▲ over" if c > OVER_ATTENDED else ""
            row.append(f"{c:.2f}{flag}")
        cov_rows.append(row)
    coverage_df = pd.DataFrame(cov_rows, columns=["source word", *names])
    T = max((len(result["variants"][v]["hypotheses"][0]["pieces"]) for v in names), default=0)
    ent_rows = []
    for t in range(T):
        row = [t + 1]
        for v in names:
            h = result["variants"][v]["hypotheses"][0]
            d = diag[v]
            if t >= len(h["pieces"]):
                row.append("")
            elif d is None:
                row.append(h["pieces"][t])
            else:
                row.append(f"{h['pieces'][t]}  {d['entropy'][t]:.2f}")
        ent_rows.append(row)
    entropy_df = pd.DataFrame(ent_rows, columns=["t", *names])
    return {"summary": summary_df, "coverage": coverage_df, "entropy": entropy_df, "raw": diag}


# ---- the compare views ---------------------------------------------------------------------

def _unit(words: bool) -> str:
    return "words" if words else "pieces"


def header_md(variant: str, hyp: dict | None, settings: dict) -> str:
    if hyp is None:
        return f"### {variant}"
    T = len(hyp["pieces"])
    lp = hyp["logprob"]
    parts = [f"log p = **{lp:.2f}**", f"{T} pieces", f"{lp / max(T, 1):.2f} per piece"]
    if settings.get("method") == "beam":
        parts.append(f"beam score {hyp['score']:.3f}")
    return f"### {variant}\n" + " · ".join(parts)


def heatmap_canvas(result: dict, variant: str, hyp_index: int = 0, words: bool = False,
                   left_px: int | None = None, title: str | None = None,
                   grid: tuple[int, int] | None = None) -> plots.Canvas | None:
    from . import plots

    hyp = result["variants"][variant]["hypotheses"][hyp_index]
    m, rows, cols = matrix_view(result, hyp, words)
    if m is None:
        return None
    if title is None:
        title = f"{variant}: α (%), target {_unit(words)} × source {_unit(words)}"
    return plots.heatmap_canvas(m, rows, cols, title, left_px=left_px, grid=grid)


def heatmap_layout(result: dict, words: bool = False) -> tuple[int, tuple[int, int]]:
    """(left margin in pixels, grid) for every heatmap of a result: the widest target label
    and the longest output among all its hypotheses, so that all of them share one cell size
    and one left margin, and the source columns line up across variants."""
    from . import plots

    labels, longest = [], 0
    for e in result["variants"].values():
        for h in e.get("hypotheses", []):
            if h["attention"] is not None:
                rows = target_words(h["pieces"]) if words else h["pieces"]
                labels += rows
                longest = max(longest, len(rows))
    cols = words_from_pieces(result["source_pieces"]) if words else result["source_pieces"]
    return plots.label_width(labels), (longest, len(cols))


def _same_width(canvases: list[plots.Canvas]) -> None:
    """Pad the heatmaps on the right (white) to one width: with one left margin, the source
    columns then sit at the same pixels in every variant's image."""
    width = max((c.px.shape[1] for c in canvases), default=0)
    for c in canvases:
        if c.px.shape[1] < width:
            c.px = np.pad(c.px, ((0, 0), (0, width - c.px.shape[1]), (0, 0)), constant_values=255)


def render(result: dict, words: bool = False) -> dict:
    """All views of a result: {"status", "steps", "panels": {variant: {...}}}.

    A panel has "visible", "header" (Markdown), "translation" (plain text), "heatmap"
    (a matplotlib Figure, or None without attention), "note" (Markdown or None), "tokens" (HighlightedText value),
    "nbest" (beam search: one (heatmap Figure, caption) per hypothesis, None without attention) and
    "nbest_rows" (beam search: [rank, score, log p, translation] per hypothesis)."""
    from . import plots

    settings = result["settings"]
    panels = {}
    left, grid = heatmap_layout(result, words)
    canvases = []          # every heatmap of the request, drawn first to give them one width
    steps = 1
    for v in VARIANTS:
        e = result["variants"].get(v)
        if e is None:
            panels[v] = {"visible": False}
            continue
        if "missing" in e:
            panels[v] = {"visible": True, "header": f"### {v}", "translation": "", "heatmap": None,
                         "note": md_escape(e["missing"]), "tokens": None, "source": None, "nbest": None,
                         "nbest_rows": None}
            continue
        best = e["hypotheses"][0]
        steps = max(steps, len(target_groups(best["pieces"]) if words else best["pieces"]))
        heat = heatmap_canvas(result, v, 0, words, left, grid=grid)
        canvases.append(heat)
        nbest, nbest_rows = None, None
        if settings.get("method") == "beam":
            nbest_rows = [[k + 1, round(h["score"], 3), round(h["logprob"], 2), h["text"]]
                          for k, h in enumerate(e["hypotheses"])]
            if best["attention"] is not None and len(e["hypotheses"]) > 1:
                nbest = []
                for k, h in enumerate(e["hypotheses"]):
                    cap = f"#{k + 1} · score {h['score']:.3f} · log p {h['logprob']:.2f} · {h['text']}"
                    nbest.append((heatmap_canvas(result, v, k, words, left, title=f"{v} #{k + 1}: α (%)",
                                                 grid=grid), cap))
                    canvases.append(nbest[-1][0])
        panels[v] = {
            "visible": True,
            "header": header_md(v, best, settings),
            "translation": best["text"],
            "heatmap": heat,
            "note": NO_ATTENTION if best["attention"] is None else None,
            "tokens": tokens_view(result, v, words),
            "source": [(f"{c} ", None) for c in (words_from_pieces(result["source_pieces"]) if words
                                                 else result["source_pieces"])],
            "nbest": nbest,
            "nbest_rows": nbest_rows,
        }
    _same_width([c for c in canvases if c is not None])
    for pv in panels.values():
        if pv.get("heatmap") is not None:
            pv["heatmap"] = pv["heatmap"].figure()
        if pv.get("nbest"):
            pv["nbest"] = [(c.figure(), cap) for c, cap in pv["nbest"]]
    n_src = len(result["source_pieces"])
    desc = {"greedy": "greedy decoding", "beam": f"beam search (width {settings.get('beam')}, "
            f"{settings.get('n_best')} best shown)", "sample": f"sampling (temperature {settings.get('temperature')}, "
            f"seed {settings.get('seed')})"}[settings["method"]]
    status = [f"**Source**: {md_escape(result['text'])}  \n{n_src} pieces, {len(words_from_pieces(result['source_pieces']))} "
              f"words · {desc} · showing {_unit(words)}."]
    ref = _references().get(result["text"])
    if ref:
        status.append(f"**Reference** (test split): {md_escape(ref)}")
    for n in result.get("notes", []):
        status.append("⚠️ " + md_escape(n))
    status.append(CELL_NOTE)
    shapes = [matrix_view(result, h, words)[0] for e in result["variants"].values() for h in e.get("hypotheses", [])]
    if any(m is not None and max(m.shape) > plots.SMALL_GRID for m in shapes):
        status.append(LARGE_HEATMAP_NOTE)
    return {"status": "\n\n".join(status), "steps": steps, "words": bool(words), "panels": panels}


def compare(tr: Translator | None, text, variants, method="greedy", beam=5, n_best=1, temperature=1.0,
            seed=0, words=False) -> tuple[dict, dict]:
    """Translate and render: returns (result, views); see translate_all and render."""
    result = translate_all(tr, text, variants, method, beam, n_best, temperature, seed)
    for n in result["notes"]:
        gr.Warning(html.escape(n))      # a toast renders HTML; the note quotes the user's characters
    return result, render(result, bool(words))


# ---- step through decoding -----------------------------------------------------------------

def index_or_none(value) -> int | None:
    """A step or token index from an event, or None when it is no finite whole number
    (NaN, a list, a string, a huge float): follow-up events then show nothing instead of failing."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    if isinstance(value, (float, np.floating)) and not (np.isfinite(value) and float(value).is_integer()):
        return None
    return int(value) if abs(value) <= 10**9 else None


def step_view(result: dict | None, t, words: bool = False) -> dict:
    """Per variant at output step t (1-based): {"md", "alpha" (α_t over the source tokens, or
    None), "bars" (its bar chart, a matplotlib Figure, or None), "candidates" ({piece: p} top-5, or None)}.

    With ``words`` the steps are target words: the word's α_t is the mean of its pieces'
    rows summed into source words (as in the heatmap), its probability is the product
    of its pieces' probabilities, and the candidates are those for its first piece."""
    from . import plots

    out = {}
    if not result:
        return out
    t = index_or_none(t)
    t = 1 if t is None else t  # a step that is no number shows the first; out of range says "finished"
    for v, e in result["variants"].items():
        if "missing" in e:
            out[v] = {"md": "", "alpha": None, "bars": None, "candidates": None}
            continue
        h = e["hypotheses"][0]
        groups = target_groups(h["pieces"]) if words else [[i] for i in range(len(h["pieces"]))]
        m, rows, cols = matrix_view(result, h, words)
        T = len(groups)
        unit = ("word" if words else "step") + ("" if T == 1 else "s")
        if t < 1 or t > T:
            out[v] = {"md": f"**{v}** finished after {T} {unit}.", "alpha": None, "bars": None,
                      "candidates": None}
            continue
        group = groups[t - 1]
        tok = rows[t - 1]
        p = float(np.exp(sum(h["logprobs"][i] for i in group)))
        what = f"word {t}" if words else f"t = {t}"
        md = f"**{v}**, {what}: chose **{md_escape(tok)}** (p = {p:.2f})"
        if words and len(group) > 1:
            md += f" · {len(group)} pieces: " + " ".join(md_escape(h["pieces"][i]) for i in group)
        alpha = bars = None
        if m is not None:
            alpha = np.asarray(m[t - 1], np.float64)
            bars = plots.bars(alpha, cols, f"{v}: α_t at {what} → {tok}")
        else:
            md += " · no attention"
        cands = {piece: prob for piece, prob in h["candidates"][group[0]]}
        out[v] = {"md": md, "alpha": alpha, "bars": bars, "candidates": cands}
    return out


# ---- click to align ------------------------------------------------------------------------

def tokens_view(result: dict, variant: str, words: bool = False) -> list[tuple[str, None]]:
    """The output tokens as a HighlightedText value (clickable)."""
    h = result["variants"][variant]["hypotheses"][0]
    labels = target_words(h["pieces"]) if words else h["pieces"]
    return [(f"{s} ", None) for s in labels]


def align(result: dict | None, variant: str, index, words: bool = False) -> list[tuple[str, float]]:
    """Source tokens with the α of output token ``index`` (0-based) as their score."""
    from . import plots

    if not result or variant not in result.get("variants", {}) or "hypotheses" not in result["variants"][variant]:
        return []
    h = result["variants"][variant]["hypotheses"][0]
    m, rows, cols = matrix_view(result, h, words)
    if m is None:
        return [(f"{c} ", None) for c in cols]
    i = index_or_none(index)
    if i is None or not 0 <= i < len(rows):
        return []
    return [(f"{c} {plots.percent(float(a)) or '0'}% ", round(float(a), 4)) for c, a in zip(cols, m[i])]


# ---- export --------------------------------------------------------------------------------

def _prune_exports(root: Path = EXPORT_ROOT, max_age: float = EXPORT_MAX_AGE_S) -> None:
    now = time.time()
    if not root.is_dir():
        return
    for d in root.iterdir():
        try:
            if d.is_dir() and now - d.stat().st_mtime > max_age:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


def export_data(result: dict, words: bool = False) -> dict:
    """The JSON export: tokens, matrices, variants and decoding settings."""
    out = {"source": result["text"], "unit": _unit(words), "decoding": result["settings"],
           "rows": "target", "columns": "source", "variants": {}}
    for v, e in result["variants"].items():
        if "missing" in e:
            out["variants"][v] = {"error": e["missing"]}
            continue
        hyps = []
        for h in e["hypotheses"]:
            m, rows, cols = matrix_view(result, h, words)
            hyps.append({"translation": h["text"], "logprob": h["logprob"], "score": h["score"],
                         "source_tokens": cols, "target_tokens": rows,
                         "attention": None if m is None else np.round(np.asarray(m, np.float64), 6).tolist()})
        out["variants"][v] = {"variant": v, "formula": FORMULAS[v], "hypotheses": hyps}
    return out


def export(result: dict | None, words: bool = False) -> list[str]:
    """Write attention.json and one PNG heatmap per attention variant into a fresh temp dir."""
    from . import plots

    if not result:
        raise error("Nothing to export yet: translate a sentence first.")
    _prune_exports()
    EXPORT_ROOT.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="export-", dir=EXPORT_ROOT))
    data = export_data(result, words)
    (d / "attention.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    files = [str(d / "attention.json")]
    left, grid = heatmap_layout(result, words)          # the page's layout, so the files compare as well
    for v, e in result["variants"].items():
        if "hypotheses" in e and e["hypotheses"][0]["attention"] is not None:
            fig = heatmap_canvas(result, v, 0, words, left, grid=grid).figure()
            path = d / f"attention-{v}.png"
            plots.to_png(fig, path)
            files.append(str(path))
    return files


# ---- API -----------------------------------------------------------------------------------

def translate_api(tr: Translator | None, text, variant=DEFAULT_API_VARIANT, method="greedy", beam=5,
                  temperature=1.0, seed=0) -> dict:
    """One variant, best hypothesis: translation, tokens and the attention matrix (T×S) as JSON."""
    if variant is None:
        raise error("No variant was given; choose from " + ", ".join(VARIANTS) + ".")
    if not isinstance(variant, str) or variant not in VARIANTS:
        raise error(f"Unknown variant {variant!r}; choose from {', '.join(VARIANTS)}.")
    result = translate_all(tr, text, [variant], method or "greedy", beam, 1, temperature, seed)
    e = result["variants"][variant]
    if "missing" in e:
        raise error(e["missing"])
    h = e["hypotheses"][0]
    return {"variant": variant, "translation": h["text"], "source_tokens": result["source_pieces"],
            "target_tokens": h["pieces"], "logprob": h["logprob"], "score": h["score"],
            "attention": None if h["attention"] is None else np.round(h["attention"].astype(np.float64), 6).tolist(),
            "decoding": result["settings"]}


# ---- about tab -----------------------------------------------------------------------------

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


def cards_table(cards: dict[str, dict | None]):
    import pandas as pd

    rows = []
    for v, c in cards.items():
        if c is None:
            rows.append([v, "no model card", "", "", "", "", "", "", "", "", "", ""])
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
                     f"{_get(c, 'test', 'all', 'bleu_signature') or ''}\n{_get(c, 'test', 'all', 'chrf_signature') or ''}".strip()])
    return pd.DataFrame(rows, columns=["variant", "parameters", "training minutes", "hardware", "decoding", "Ding BLEU",
                                       "Ding chrF", "Ding BLEU ≥4 words", "Ding chrF ≥4 words", "Tatoeba chrF",
                                       "Tatoeba chrF ≥10 words", "sacreBLEU signatures"])


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


def quality_line(cards: dict[str, dict | None]) -> str:
    """The Translate tab's one line on what to expect: the best test chrF on each test set."""
    def best(*keys):
        scored = [(_get(c, *keys), v) for v, c in cards.items() if c and isinstance(_get(c, *keys), (int, float))]
        return max(scored) if scored else None

    ding, tat = best("test", "all", "chrf"), best("test", "tatoeba", "all", "chrf")
    if ding is None:
        return "No model cards yet: quality unmeasured."
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
    lines = [f"- **Ding German–English dictionary** (Debian `trans-de-en`, GPL-2+): {ding_n:,} training pairs"
             if isinstance(ding_n, int) else "- **Ding German–English dictionary** (Debian `trans-de-en`, GPL-2+)"]
    if isinstance(tat, dict):
        tn = _get(tat, "splits", "train", "pairs")
        lines.append("- **Tatoeba** sentence pairs (tatoeba.org via manythings.org/anki, deu-eng export of "
                     f"2018-05-13, CC-BY 2.0 France): {tn:,} training pairs" if isinstance(tn, int) else
                     "- **Tatoeba** sentence pairs (tatoeba.org via manythings.org/anki, CC-BY 2.0 France)")
    for v, card in known.items():
        tr = card.get("training") or {}
        ws = tr.get("warm_start") or {}
        warm = (f", warm-started from the dictionary-only model ({ws['train_seconds'] / 60:.0f} of the minutes)"
                if isinstance(ws.get("train_seconds"), (int, float)) else "")
        hw = "; ".join(map(str, tr.get("hardware") or []))
        tat_chrf = _get(card, "test", "tatoeba", "all", "chrf")
        lines.append(f"- `{v}`: {tr.get('minutes')} training minutes on {md_escape(hw)}{warm}. Test chrF: "
                     f"Ding {_get(card, 'test', 'all', 'chrf')}"
                     + (f", Tatoeba {tat_chrf}" if tat_chrf is not None else ""))
    lines.append("\nchrF is 0–100 (higher is better). Expect everyday short sentences to come out mostly right "
                 "and long ones to drift; these are small models trained on one CPU.")
    return "\n".join(lines)


def about_md(cards: dict[str, dict | None]) -> str:
    rows = ["| variant | score e_{t,i} |", "|---|---|"]
    for v in VARIANTS:
        rows.append(f"| `{v}` | {md_escape(FORMULAS[v])} |")
    missing = [v for v, c in cards.items() if c is None]
    text = ["## Attention variants",
            "Every model is the same GRU encoder–decoder; α_{t,i} = softmax_i(e_{t,i}) and "
            "c_t = Σ_i α_{t,i} h_i. Only the score differs:", "\n".join(rows),
            "## What the models learned from", training_md(cards),
            "## Model cards"]
    if missing:
        text.append("No model card yet for " + ", ".join(f"`{v}`" for v in missing) +
                    " (written by `python -m seq2seq evaluate --write-cards`).")
    return "\n\n".join(text)


LIMITS_MD = (f"**Limits**: {MAX_CHARS} characters before tokenising, {MAX_PIECES} sentencepiece pieces after, "
             f"{MAX_OUTPUT} output pieces, beam width ≤ {MAX_BEAM}.")
