"""What the "Question the attention" tab does, as functions of plain data (``demo/question_tab.py``
lays it out; tests call these directly). Every model computation is a ``Translator`` method on a
prepared source (``seq2seq/translator.py``), which checks its input and raises ``InputError``:

* ``analyse``         score one given translation with every selected variant (``Translator.score``)
* ``difference``      α_A − α_B of two variants on that translation
* ``continue_view``   force the first k target tokens, let each variant decode the rest
* ``knock_out_view``, ``force_alpha_view``, ``delete_word_view``   interventions, re-decoded
* ``beam_tree_view``, ``node_view``   the beam search's tree and one node's α_t and top-5
* ``attribution_view``  gradient × input beside α, and their agreement (``attribution_steps``: with progress)
* ``export_question``  Pharaoh alignments, α and attribution as CSV, all as JSON

A result (the dict ``analyse`` returns) lives in the tab's ``gr.State``; handlers raise
``gr.Error`` with a message for bad input (``state.refused``: the library's message) and never keep
anything between requests.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from seq2seq.alignment import THRESHOLD, argmax_links, threshold_links, to_pharaoh, word_matrix
from seq2seq.attribution import agreement
from seq2seq.search import LENGTH_PENALTY
from seq2seq.tokenizer import words_from_pieces
from seq2seq.history import load_probe
from seq2seq.translator import (DEFAULT_DIRECTION, LANGUAGES, WORKERS, DecodingSettings, InputError, Translator,
                                check_number, direction_label)

from .state import NO_MODELS, available, directions, error, refused

DROP_P = 0.1                 # a forced token the model gives less than this probability is marked as a drop
ALIGNER_FILE = "question/eflomal_examples.json"   # under assets/: eflomal's links for the page's examples
AGREEMENT_FILE = "question/agreement.json"        # under assets/: the scripts' agreement tables

KNOCK_OUT_MEANS = (
    "**Knock out** masks the chosen source pieces out of the softmax at every output step: their α is 0 "
    "and the other weights are renormalised. *What it shows*: whether this model's output depends on "
    "attending to those pieces. *What it does not prove*: that they are unimportant if nothing changes, "
    "since the encoder still read them, and through the bidirectional GRU they still colour every other "
    "h_i and the decoder's start state; nor that attention explains the translation if something changes, "
    "since the model never saw such α in training. `none` has no attention, so nothing can be knocked out "
    "there: compare with **delete the word**.")
FORCE_MEANS = (
    "**Force α_t** puts all of step t's attention on one source piece (c_t = h_j); the steps before t are "
    "unchanged and the later ones attend freely. *What it shows*: what this decoder does with that context "
    "at that step. *What it does not prove*: what the model 'meant'; a forced α is one the model would not "
    "have produced.")
DELETE_MEANS = (
    "**Delete the word** removes the word's pieces from the input, so the encoder never sees it: a change "
    "of the input, not of attention, which every variant (`none` included) can be put through. *What it "
    "does not prove*: that a change is due to the word's meaning; the shorter sentence may also just be "
    "ungrammatical.")
DELTA_NOTE = ("Δ log p per step: log p of each token of the variant's own greedy translation under the "
              "intervention, minus its log p without it (0: the model is as sure of that token as before).")
ATTRIBUTION_MEANS = (
    "**Gradient × input** attribution a_{t,i} = |∂ log p(y_t) / ∂ x_i · x_i| over the embedding x_i of "
    "source piece i, each row normalised to sum to 1, on the same axes and 0–1 scale as α. It is a local, "
    "first-order sensitivity, not the truth about the model either: where α and attribution disagree, "
    "neither is simply right. Agreement: ρ is the mean over steps of Spearman's rank correlation of α_t "
    "and a_t; 'argmax' is the share of steps whose most attended and most attributed pieces coincide.")
ALIGNER_MEANS = (
    "Black squares mark eflomal's links (trained on the training split): filled where both directions "
    "agree (intersection, 'sure'), hollow where only grow-diag-final adds them ('possible'). eflomal is a "
    "statistical aligner, not a gold standard: this is agreement with eflomal, not accuracy.")
SCORE_MEANS = (
    f"**Beam score** = Σ log p / T^{LENGTH_PENALTY:g}: the sum of the hypothesis's token log-probabilities "
    f"divided by its length T to the power {LENGTH_PENALTY:g}, the length-normalised score beam search ranks "
    "finished hypotheses by (closer to 0 is better). Without the division, shorter hypotheses would "
    "always win, since every token adds a negative log p. Σ log p is the plain sum along the path.")


def languages(direction: str = DEFAULT_DIRECTION) -> tuple[str, str]:
    """("German", "English") for "de-en": the source and target language the tab's labels name."""
    src, tgt = direction.split("-")
    return LANGUAGES[src], LANGUAGES[tgt]


def no_translation(direction: str = DEFAULT_DIRECTION) -> str:
    return f"Type the {languages(direction)[1]} translation to force, or pick an example to use its reference."


def direction_choices(tr: Translator | None) -> list[tuple[str, str]]:
    """The switch's choices, ("Deutsch → English", "de-en"), for the directions the models translate."""
    return [(direction_label(d), d) for d in directions(tr)]


def everyday_examples(direction: str) -> list[list[str]]:
    """The project's everyday sentences (German<TAB>English) as [source, reference] for ``direction``."""
    pairs = load_probe()
    return [[de, en] if direction == "de-en" else [en, de] for de, en in pairs]


def _direction(result) -> str:
    return result.get("direction", DEFAULT_DIRECTION)


def _plots():
    """``demo/question_plots.py``, imported on first use: it imports matplotlib, which the page
    does not need to start."""
    from . import question_plots

    return question_plots


def _ready(tr: Translator | None) -> Translator:
    if tr is None or not available(tr):
        raise error(NO_MODELS)
    return tr


def _need(result) -> dict:
    if not isinstance(result, dict) or "forced" not in result:
        raise error("Score a translation first (the Score button above).")
    return result


# ---- 1. forced decoding --------------------------------------------------------------------

def analyse(tr: Translator | None, text, target, variants, direction: str = DEFAULT_DIRECTION) -> dict:
    """Score ``target`` with every selected variant by teacher forcing, and decode each variant's own
    greedy translation (the baseline interventions compare against)."""
    tr = _ready(tr)
    with refused():
        source = tr.prepare(text, direction)
    if target is None or isinstance(target, str) and not target.strip():
        raise error(no_translation(source.direction))
    with refused():
        variants = tr.installed(variants)
        to_force = tr.prepare_target(target, source.direction)
        forced, own = tr.score(source, to_force, variants), tr.decode(source, variants)
    notes = list(source.notes) + [f"Translation: {n}" for n in to_force.notes]
    return {"source": source, "to_force": to_force, "text": source.text, "target": to_force.text,
            "direction": source.direction,
            "source_pieces": source.pieces, "target_pieces": forced[variants[0]].target_pieces[0],
            "variants": variants, "notes": notes,
            "forced": {v: {"logprobs": t.best.logprobs, "attention": t.best.attention,
                           "candidates": [[(tr.tok.pieces([i])[0], i, p) for i, p in step] for step in t.best.candidates]}
                       for v, t in forced.items()},
            "own": own}


def logprob_rows(result: dict) -> tuple[list[str], list[list]]:
    """The per-token table: step, token, then each variant's log p (▼ where p < DROP_P)."""
    result = _need(result)
    headers = ["t", "token"] + [f"{v} log p" for v in result["variants"]]
    rows = []
    for t, piece in enumerate(result["target_pieces"]):
        row = [t + 1, piece]
        for v in result["variants"]:
            lp = result["forced"][v]["logprobs"][t]
            row.append(f"{lp:.2f}{' ▼' if lp < math.log(DROP_P) else ''}")
        rows.append(row)
    rows.append(["Σ", "", *(f"{sum(result['forced'][v]['logprobs']):.2f}" for v in result["variants"])])
    return headers, rows


def forced_summary(result: dict) -> str:
    result = _need(result)
    lines = [f"Scored **{len(result['target_pieces'])}** target pieces (`</s>` included) with "
             f"{', '.join(result['variants'])}. ▼ marks a token the model gave less than {DROP_P:.0%}."]
    lines += [f"- ⚠️ {md(n)}" for n in result["notes"]]
    for v in result["variants"]:
        lps = result["forced"][v]["logprobs"]
        worst = int(np.argmin(lps))
        lines.append(f"- **{v}**: Σ log p = {sum(lps):.2f}, steepest drop at t = {worst + 1} "
                     f"(“{md(result['target_pieces'][worst])}”, p = {math.exp(lps[worst]):.1%}); "
                     f"its own greedy translation: {md(result['own'][v].texts[0])}")
    return "\n".join(lines)


def md(s) -> str:
    from .about import md_escape        # the page's one escaping rule

    return md_escape(s)


def heatmaps(result: dict, which: str = "attention") -> list[tuple[np.ndarray, str]]:
    """One heatmap per variant (α, or attribution with ``which='attribution'``), all on identical axes,
    one cell size and one left margin, on the shared 0–1 scale."""
    from . import plots

    result = _need(result)
    rows, cols = result["target_pieces"], result["source_pieces"]
    left = plots.label_width(rows)
    out = []
    for v in result["variants"]:
        m = result["forced"][v]["attention"] if which == "attention" else result.get("attribution", {}).get(v)
        if m is None:
            continue
        title = f"{v}: {'α' if which == 'attention' else 'gradient × input'} (target × source)"
        out.append((plots.heatmap(m, rows, cols, title, left_px=left, grid=(len(rows), len(cols))).pixels, title))
    return out


def attribution_pairs(result: dict) -> list[tuple[np.ndarray, str]]:
    """α and attribution heatmaps side by side per variant (two gallery columns); ``none`` has only
    attribution, so it comes last."""
    alphas = dict((title.split(":")[0], (img, title)) for img, title in heatmaps(result))
    attribs = dict((title.split(":")[0], (img, title)) for img, title in heatmaps(result, "attribution"))
    out = []
    for v in result["variants"]:
        if v in alphas and v in attribs:
            out += [alphas[v], attribs[v]]
    return out + [attribs[v] for v in result["variants"] if v in attribs and v not in alphas]


def pictures_html(pictures: list[tuple[np.ndarray, str]], elem_class: str = "q-map") -> str:
    """Pictures with their captions, each at its own size (scaled down whole where the page is
    narrower, never cropped), wrapping onto as many lines as they need."""
    from html import escape

    from .plots import img_html

    return ('<div class="q-pictures" style="display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start">' +
            "".join(f'<figure style="margin:0;max-width:100%">{img_html(img, title, elem_class)}'
                    f"<figcaption>{escape(title)}</figcaption></figure>" for img, title in pictures) + "</div>")


def wide_picture_html(pixels: np.ndarray | None, alt: str, elem_class: str = "") -> str:
    """One wide picture at its own size, scrolled sideways where the page is narrower: its text
    stays as large as it was drawn; the keyboard scrolls it too (a focusable region)."""
    from html import escape

    from .plots import img_html

    if pixels is None:
        return ""
    img = img_html(pixels, alt, elem_class).replace("max-width:100%;height:auto", "max-width:none")
    return (f'<div class="q-scroll" tabindex="0" role="region" aria-label="{escape(alt)}" '
            f'style="overflow-x:auto;max-width:100%">{img}</div>')


def greedy_text(tr: Translator | None, text, variant, direction: str = DEFAULT_DIRECTION) -> str:
    """One variant's own greedy translation, to force on every variant."""
    tr = _ready(tr)
    if not isinstance(variant, str):
        raise error("Choose the variant whose translation to use.")
    with refused():
        return tr.translate(text, variant, direction=direction).texts[0]


def logprob_plot(result: dict):
    result = _need(result)
    return _plots().logprob_lines(result["target_pieces"],
                                  {v: result["forced"][v]["logprobs"] for v in result["variants"]})


def difference(result, a, b):
    """α_A − α_B on the forced translation, on a fixed −1…1 diverging scale."""
    result = _need(result)
    for v in (a, b):
        if v not in result["variants"]:
            raise error(f"{v!r} was not scored; choose two of {', '.join(result['variants'])}.")
    if a == b:
        raise error("Choose two different variants.")
    A, B = result["forced"][a]["attention"], result["forced"][b]["attention"]
    if A is None or B is None:
        raise error("The none variant has no attention, so there is no α to subtract.")
    return _plots().difference(A - B, result["target_pieces"], result["source_pieces"], f"α[{a}] − α[{b}]")


CONTINUE_HEADERS = ("variant", "forced prefix", "continued freely", "log p of the continuation", "finished")
INTERVENTION_HEADERS = ("variant", "before", "after", "Δ log p per step (own translation)", "Σ Δ log p")
AGREEMENT_HEADERS = ("variant", "mean Spearman ρ", "argmax agree", "steps", "note")
TREE_HEADERS = ("node", "t", "token", "log p", "Σ log p", "beam score", "status", "n-best", "path")


def continue_view(tr: Translator | None, result, k) -> tuple[list[str], list[list]]:
    """Force the first k pieces of the translation, then let each variant decode freely."""
    result, tr = _need(result), _ready(tr)
    with refused():
        found = tr.continue_from(result["source"], result["to_force"], k, result["variants"])
    rows = []
    for v, t in found.items():
        h, k = t.best, t.forced
        rows.append([v, tr.detokenise(h.tokens[:k]), tr.detokenise(h.tokens[k:]), f"{sum(h.logprobs[k:]):.2f}",
                     "yes" if h.finished else "no (length limit)"])
    return [CONTINUE_HEADERS[0], f"forced prefix (k = {k})", *CONTINUE_HEADERS[2:]], rows


# ---- 2. interventions ----------------------------------------------------------------------

def piece_choices(result) -> list[tuple[str, int]]:
    result = _need(result)
    return [(f"{i + 1}: {p}", i) for i, p in enumerate(result["source_pieces"])]


def word_choices(result) -> list[tuple[str, int]]:
    result = _need(result)
    source = result["source"]
    return [(f"{k + 1}: {w}", k) for k, w in enumerate(words_from_pieces(source.pieces[source.tags:]))]


def _rows(found: dict) -> tuple[list[str], list[list]]:
    rows = []
    for v, r in found.items():
        before = r.before.texts[0]
        if r.after is None:
            rows.append([v, before, "(no attention to intervene on: see delete the word)", "", ""])
        else:
            rows.append([v, before, r.after.texts[0], " ".join(f"{d:+.2f}" for d in r.delta),
                         f"{r.delta.sum():+.2f}"])
    return list(INTERVENTION_HEADERS), rows


def knock_out_view(tr: Translator | None, result, pieces) -> tuple[list[str], list[list]]:
    result, tr = _need(result), _ready(tr)
    with refused():
        return _rows(tr.knock_out(result["source"], result["variants"], pieces, result["own"]))


def force_alpha_view(tr: Translator | None, result, step, piece) -> tuple[list[str], list[list]]:
    result, tr = _need(result), _ready(tr)
    with refused():
        return _rows(tr.force_alpha(result["source"], result["variants"], step, piece, result["own"]))


def delete_word_view(tr: Translator | None, result, word) -> tuple[list[str], list[list]]:
    result, tr = _need(result), _ready(tr)
    with refused():
        return _rows(tr.delete_word(result["source"], result["variants"], word, result["own"]))


# ---- 3. the beam tree ----------------------------------------------------------------------

def beam_tree_view(tr: Translator | None, text, variant, beam, n_best, direction: str = DEFAULT_DIRECTION) -> dict:
    """→ {"tree": what node_view needs (kept in gr.State), "figure", "headers", "rows", "summary"}."""
    tr = _ready(tr)
    if not isinstance(variant, str):
        raise error("Choose one variant for the beam tree.")
    with refused():
        settings = DecodingSettings.check("beam", beam, n_best)
        found = tr.beam_tree(tr.prepare(text, direction), variant, settings)
    nodes = found.nodes
    rows = [[n.id, n.step + 1, found.pieces[n.id], f"{n.logprob:.2f}", f"{n.total:.2f}",
             "" if n.score is None else f"{n.score:.3f}", n.status, n.rank or "", found.paths[n.id]]
            for n in nodes[1:]]
    tree = {"variant": found.variant, "source_pieces": found.source.pieces,
            "nodes": [{"id": n.id, "parent": n.parent, "step": n.step, "piece": found.pieces[n.id],
                       "status": n.status, "total": n.total, "rank": n.rank,
                       "alpha": None if n.alpha is None else n.alpha.tolist(),
                       "candidates": found.candidates[n.id]} for n in nodes]}
    summary = (f"**{found.variant}**, beam {settings.beam}: {len(nodes) - 1} extensions ranked over "
               f"{max(n.step for n in nodes) + 1} steps; n-best: " +
               "; ".join(f"{i + 1}. {md(text_)} (beam score {h.score:.3f})"
                         for i, (h, text_) in enumerate(zip(found.best.hypotheses, found.best.texts))) +
               "".join(f"\n- ⚠️ {md(n)}" for n in found.source.notes) + "\n\n" + SCORE_MEANS)
    return {"tree": tree, "figure": _plots().beam_tree(tree["nodes"]), "summary": summary,
            "headers": list(TREE_HEADERS), "rows": rows}


def node_view(tree, index) -> dict:
    """α_t and the top-5 of one node (``index``: the table's row, or [row, col] from a click)."""
    if not isinstance(tree, dict) or "nodes" not in tree:
        raise error("Draw a beam tree first.")
    if isinstance(index, (list, tuple)) and index:
        index = index[0]
    with refused():
        row = check_number(index, "The node's row", 0, len(tree["nodes"]) - 2, integer=True)
    node = tree["nodes"][row + 1]
    text = (f"Node {node['id']}: t = {node['step'] + 1}, token “{md(node['piece'])}”, {node['status']}, "
            f"Σ log p = {node['total']:.2f}" + (f", n-best #{node['rank']}" if node["rank"] else ""))
    bars = None
    if node["alpha"] is not None:
        bars = _plots().bars(node["alpha"], tree["source_pieces"],
                             f"{tree['variant']}: α_t the parent attended with at t = {node['step'] + 1}")
    return {"md": text, "bars": bars, "candidates": {piece: float(p) for piece, p in node["candidates"]}}


# ---- 4. attribution ------------------------------------------------------------------------

def attribution_steps(tr: Translator | None, result):
    """``attribution_view`` a few variants at a time, as the page shows it: yields ("computing
    dot, general (2–3 of 5)…", None) before each group the translator runs side by side
    (``WORKERS`` of them), then ("", (result with "attribution" added, agreement headers, rows))."""
    result, tr = dict(_need(result)), _ready(tr)
    with refused():
        chosen = tr.installed(result["variants"])
    done: dict = {}
    for first in range(0, len(chosen), WORKERS):
        group = chosen[first:first + WORKERS]
        span = f"{first + 1}" if len(group) == 1 else f"{first + 1}–{first + len(group)}"
        yield f"Computing gradient × input: {', '.join(group)} ({span} of {len(chosen)})…", None
        with refused():
            done.update(tr.attribute(result["source"], result["to_force"], group))
    result["attribution"] = done
    rows = []
    for v, a in done.items():
        alpha = result["forced"][v]["attention"]
        if alpha is None:
            rows.append([v, "—", "—", f"{len(a)}", "no α to compare; attribution only"])
            continue
        ag = agreement(alpha, a)
        rows.append([v, f"{ag['spearman']:.2f}" if ag["rho_steps"] else "—", f"{ag['argmax']:.0%}",
                     f"{ag['steps']}", "" if ag["rho_steps"] == ag["steps"]
                     else f"ρ over {ag['rho_steps']} steps (constant rows have none)"])
    yield "", (result, list(AGREEMENT_HEADERS), rows)


def attribution_view(tr: Translator | None, result) -> tuple[dict, list[str], list[list]]:
    """Gradient × input for every scored variant on the forced translation; → (result with
    "attribution" added, agreement headers, rows)."""
    *_, (_, out) = attribution_steps(tr, result)
    return out


# ---- 5. eflomal's links for the page's examples --------------------------------------------

def aligner_links(assets: Path, text: str, target: str) -> dict | None:
    """eflomal's sure and possible word links for this (source, reference) pair, if the script
    computed them for it (``scripts/align_eflomal.py --examples``); else None."""
    try:
        data = json.loads((Path(assets) / ALIGNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for e in data.get("examples", []) if isinstance(data, dict) else []:
        if e.get("source") == text and e.get("target") == target:
            return e
    return None


def overlay_view(assets: Path, result) -> list[tuple[np.ndarray, str]]:
    """Word-level α of each variant with eflomal's links drawn over it (empty when the pair is not
    one of the examples the script aligned)."""
    result = _need(result)
    links = aligner_links(assets, result["text"], result["target"])
    if links is None:
        return []
    from seq2seq.analysis import target_words

    out = []
    tgt_words = [w for w in target_words(result["target_pieces"]) if w != "</s>"]
    src_words = words_from_pieces(result["source_pieces"])
    if (len(src_words), len(tgt_words)) != (links["source_words"], links["target_words"]):
        return []
    for v in result["variants"]:
        alpha = result["forced"][v]["attention"]
        if alpha is None:
            continue
        A = word_matrix(alpha, result["source_pieces"], result["target_pieces"])
        fig = _plots().word_overlay(A, tgt_words, src_words, links["sure"], links["possible"],
                                  f"{v}: α over words, eflomal links")
        out.append((fig, f"{v}: α with eflomal's links"))
    return out


def agreement_md(assets: Path) -> str:
    """The About tab's tables from the scripts' JSON, with the commands that made them."""
    try:
        data = json.loads((Path(assets) / AGREEMENT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ("No agreement tables yet: `python scripts/attribution_agreement.py` and "
                "`python scripts/align_eflomal.py` write them.")
    parts = []
    att = data.get("attribution")
    if att:
        parts.append(f"**Attention vs gradient × input attribution** ({att['sample']} pairs per test set, "
                     f"forced on the reference). Command: `{att['command']}`\n\n"
                     "| test set | variant | mean Spearman ρ | argmax agree |\n|---|---|---|---|\n" +
                     "\n".join(f"| {r['test_set']} | {r['variant']} | {_fmt(r.get('spearman'))} | "
                               f"{_fmt(r.get('argmax'), pct=True)} |" for r in att["rows"]))
    ef = data.get("eflomal")
    if ef:
        parts.append(f"**Agreement with eflomal** (not AER against gold: eflomal is a statistical aligner; "
                     f"sure = intersection, possible = grow-diag-final; thresholded at α ≥ {ef['threshold']}). "
                     f"Command: `{ef['command']}`\n\n"
                     "| test set | variant | links | precision | recall | AER formula |\n|---|---|---|---|---|---|\n" +
                     "\n".join(f"| {r['test_set']} | {r['variant']} | {r['links']} | {_fmt(r['precision'])} | "
                               f"{_fmt(r['recall'])} | {_fmt(r['aer'])} |" for r in ef["rows"]))
    return "\n\n".join(parts) or "No agreement tables yet."


def _fmt(x, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.0%}" if pct else f"{x:.3f}"


# ---- 6. export -----------------------------------------------------------------------------

def export_question(result) -> list[str]:
    """Files: per variant a CSV of α (and of attribution if computed), Pharaoh alignments (argmax and
    thresholded, word level), and one JSON with everything."""
    result = _need(result)
    from .export import export_folder, matrix_csv   # imports matplotlib: not at start-up

    out = export_folder("question-")
    rows, cols = result["target_pieces"], result["source_pieces"]
    files, doc = [], {"source": result["text"], "target": result["target"], "source_tokens": cols,
                      "target_tokens": rows, "rows": "target", "columns": "source",
                      "threshold": THRESHOLD, "pharaoh": "i-j: source word i, target word j, from 0",
                      "variants": {}}

    def write(name: str, text: str) -> None:
        path = out / name
        path.write_text(text, encoding="utf-8", newline="")
        files.append(str(path))

    for v in result["variants"]:
        alpha = result["forced"][v]["attention"]
        attrib = result.get("attribution", {}).get(v)
        entry = {"logprobs": [round(x, 6) for x in result["forced"][v]["logprobs"]]}
        if alpha is not None:
            write(f"alpha_{v}.csv", matrix_csv(rows, cols, alpha))
            A = word_matrix(alpha, cols, rows)
            entry["attention"] = np.round(alpha, 6).tolist()
            entry["pharaoh_argmax"] = to_pharaoh(argmax_links(A))
            entry["pharaoh_threshold"] = to_pharaoh(threshold_links(A))
            for kind in ("argmax", "threshold"):
                write(f"align_{v}_{kind}.txt", entry[f"pharaoh_{kind}"] + "\n")
        if attrib is not None:
            write(f"attribution_{v}.csv", matrix_csv(rows, cols, attrib))
            entry["attribution"] = np.round(attrib, 6).tolist()
        doc["variants"][v] = entry
    path = out / "question.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return [str(path)] + files


# ---- 5. contrastive questions ----------------------------------------------------------------

CONTRAST_HEADERS = ("variant", "chosen", "alternative", "log p(chosen)", "log p(alternative)", "difference")
CONTRAST_MEANS = (
    "Why this token and not another? Pick a step t and an alternative (one of that step's top-5 of the "
    "forced decoding, or typed: its first piece is taken). Each variant gives log p(chosen) − log "
    "p(alternative) with the steps before t forced, and the gradient of that difference × input over the "
    "source (Yin & Neubig 2022), beside α_t. Red pushes towards the chosen token, blue towards the "
    "alternative; each row of attribution is divided by its largest |value|.")


def contrast_choices(result, step) -> list[tuple[str, int]]:
    """The alternatives to offer at step t (counted from 1): every scored variant's top-5 of the
    forced decoding, without the chosen token, most probable first (best p over variants)."""
    result = _need(result)
    try:
        t = check_number(step, "The step t", 1, len(result["target_pieces"]), integer=True) - 1
    except InputError:
        return []      # the Contrast button says why
    chosen = result["target_pieces"][t]
    best: dict[int, tuple[str, float]] = {}
    for v in result["variants"]:
        for piece, i, p in result["forced"][v]["candidates"][t]:
            if piece != chosen and p > best.get(i, ("", -1.0))[1]:
                best[i] = (piece, p)
    return [(f"{piece} (p up to {p:.0%})", i) for i, (piece, p) in sorted(best.items(), key=lambda kv: -kv[1][1])]


def contrast_view(tr: Translator | None, result, step, alternative) -> tuple[list[str], list[list], list]:
    """→ (headers, rows of log-probabilities, [(picture, title)] per variant)."""
    result, tr = _need(result), _ready(tr)
    if alternative is None or isinstance(alternative, str) and not alternative.strip():
        raise error(f"Pick or type an alternative token (in {languages(_direction(result))[1]}).")
    with refused():
        found = tr.contrast(result["source"], result["to_force"], step, alternative, result["variants"])
    rows, pictures = [], []
    for v, c in found.items():
        rows.append([v, c["chosen_piece"], c["alternative_piece"], f"{c['chosen']:.2f}", f"{c['alternative']:.2f}",
                     f"{c['difference']:+.2f}"])
        title = f"{v}: {c['chosen_piece']} rather than {c['alternative_piece']}"
        pictures.append((_plots().contrast_rows(c["alpha"], c["attribution"], result["source_pieces"], title),
                         title))
    return list(CONTRAST_HEADERS), rows, pictures
