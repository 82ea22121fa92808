"""What the "Question the attention" tab does, as functions of plain data (``demo/question_tab.py``
lays it out; tests call these directly). Every model computation goes through ``seq2seq``:

* ``analyse``         score one given translation with every selected variant (forced decoding)
* ``difference``      α_A − α_B of two variants on that translation
* ``continue_view``   force the first k target tokens, let each variant decode the rest
* ``knock_out_view``, ``force_alpha_view``, ``delete_word_view``   interventions, re-decoded
* ``beam_tree_view``, ``node_view``   the beam search's tree and one node's α_t and top-5
* ``attribution_view``  gradient × input beside α, and their agreement
* ``export_question``  Pharaoh alignments, α and attribution as CSV, all as JSON

A result (the dict ``analyse`` returns) lives in the tab's ``gr.State``; handlers raise
``gr.Error`` with a message for bad input and never keep anything between requests.
"""
from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import numpy as np

from seq2seq.alignment import THRESHOLD, argmax_links, threshold_links, to_pharaoh, word_matrix
from seq2seq.attention import VARIANTS
from seq2seq.attribution import agreement, gradient_x_input
from seq2seq.search import Intervention, beam_tree, continue_decode, force_decode, greedy, node_path
from seq2seq.tokenizer import EOS_ID, word_groups, words_from_pieces
from seq2seq.translator import MAX_BEAM, MAX_OUTPUT, InputError, Translator, clean_input


DROP_P = 0.1                 # a forced token the model gives less than this probability is marked as a drop
EXPORT_ROOT = Path(tempfile.gettempdir()) / "attention-demo-question-exports"
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


WORKERS = min(2, os.cpu_count() or 1)   # variants computed in parallel per request (torch frees the GIL)


def each(variants: list[str], fn) -> dict:
    """{variant: fn(variant)}, computed on WORKERS threads."""
    with ThreadPoolExecutor(WORKERS) as pool:
        return dict(zip(variants, pool.map(fn, variants)))


def _plots():
    """``demo/question_plots.py``, imported on first use: it imports matplotlib, which the page
    does not need to start."""
    from . import question_plots

    return question_plots


def error(message: str) -> gr.Error:
    return gr.Error(message, print_exception=False)


def _installed(tr: Translator | None) -> list[str]:
    return [] if tr is None else [v for v in VARIANTS if v in tr.models]


def check_variants(tr: Translator | None, variants) -> list[str]:
    if tr is None:
        raise error("The models could not be loaded, so there is nothing to question.")
    if isinstance(variants, str):
        variants = [variants]
    if not isinstance(variants, (list, tuple)) or not all(isinstance(v, str) for v in variants):
        raise error("Variants must be a list of names.")
    for v in variants:
        if v not in VARIANTS:
            raise error(f"Unknown variant {v!r}; choose from {', '.join(VARIANTS)}.")
        if v not in tr.models:
            raise error(f"The {v} model is not installed.")
    chosen = [v for v in VARIANTS if v in variants]
    if not chosen:
        raise error("Choose at least one variant.")
    return chosen


def source_of(tr: Translator, text) -> tuple[str, list[int]]:
    try:
        text = clean_input(text)
        return text, tr.source_ids(text)
    except InputError as exc:
        raise error(str(exc)) from None


def target_of(tr: Translator, target) -> tuple[str, list[int]]:
    """The forced translation, checked like the source text (same limits, Unicode checks, empty)."""
    if target is None or (isinstance(target, str) and not target.strip()):
        raise error("Type the English translation to force (or pick an example to use its reference).")
    try:
        target = clean_input(target)
        ids = tr.source_ids(target)
    except InputError as exc:
        raise error(f"Translation: {exc}") from None
    if len(ids) + 1 > MAX_OUTPUT:
        raise error(f"The translation has {len(ids)} pieces; at most {MAX_OUTPUT - 1} can be forced.")
    return target, ids


def _whole(value, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or value is None:
        raise error(f"{name} must be a whole number between {lo} and {hi}.")
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise error(f"{name} must be a whole number between {lo} and {hi}.") from None
    if not math.isfinite(x) or x != int(x) or not lo <= x <= hi:
        raise error(f"{name} must be a whole number between {lo} and {hi}.")
    return int(x)


def _pieces(tr: Translator, ids: list[int]) -> list[str]:
    return ["</s>" if i == EOS_ID else p for i, p in zip(ids, tr.tok.pieces(ids))]


def _need(result) -> dict:
    if not isinstance(result, dict) or "forced" not in result:
        raise error("Score a translation first (the Score button above).")
    return result


# ---- 1. forced decoding --------------------------------------------------------------------

def analyse(tr: Translator | None, text, target, variants) -> dict:
    """Score ``target`` with every selected variant by teacher forcing, and decode each variant's own
    greedy translation (the baseline interventions compare against)."""
    variants = check_variants(tr, variants)
    text, src = source_of(tr, text)
    target, tgt = target_of(tr, target)
    result = {"text": text, "source_ids": src, "source_pieces": tr.tok.text_pieces(text),
              "target": target, "target_ids": tgt + [EOS_ID], "target_pieces": _pieces(tr, tgt + [EOS_ID]),
              "variants": variants, "forced": {}, "greedy": {}}

    def run(v):
        model = tr.models[v]
        return force_decode(model, src, tgt), greedy(model, [src], max_len=MAX_OUTPUT)[0]

    for v, (f, g) in each(variants, run).items():
        result["forced"][v] = {"logprobs": f.logprobs, "attention": f.attention, "candidates": f.candidates}
        result["greedy"][v] = {"ids": g.tokens, "logprobs": g.logprobs, "text": tr.tok.decode(g.tokens)}
    return result


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
    for v in result["variants"]:
        lps = result["forced"][v]["logprobs"]
        worst = int(np.argmin(lps))
        lines.append(f"- **{v}**: Σ log p = {sum(lps):.2f}, steepest drop at t = {worst + 1} "
                     f"(“{md(result['target_pieces'][worst])}”, p = {math.exp(lps[worst]):.1%}); "
                     f"its own greedy translation: {md(result['greedy'][v]['text'])}")
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
    left = plots.label_width([plots.short_label(r) for r in rows])
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


def greedy_text(tr: Translator | None, text, variant) -> str:
    """One variant's own greedy translation, to force on every variant."""
    if not isinstance(variant, str):
        raise error("Choose the variant whose translation to use.")
    (variant,) = check_variants(tr, [variant])
    _, src = source_of(tr, text)
    return tr.tok.decode(greedy(tr.models[variant], [src], max_len=MAX_OUTPUT)[0].tokens)


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


def continue_view(tr: Translator | None, result, k) -> tuple[list[str], list[list]]:
    """Force the first k target pieces, then let each variant decode freely."""
    result = _need(result)
    n = len(result["target_ids"]) - 1
    k = _whole(k, "The prefix length k", 0, n)
    check_variants(tr, result["variants"])
    prefix = result["target_ids"][:k]
    rows = []
    hyps = each(result["variants"],
                lambda v: continue_decode(tr.models[v], result["source_ids"], prefix, max_len=MAX_OUTPUT))
    for v, h in hyps.items():
        rest = h.tokens[k:]
        rows.append([v, tr.tok.decode(prefix), tr.tok.decode(rest), f"{sum(h.logprobs[k:]):.2f}",
                     "yes" if h.finished else "no (length limit)"])
    return [CONTINUE_HEADERS[0], f"forced prefix (k = {k})", *CONTINUE_HEADERS[2:]], rows


# ---- 2. interventions ----------------------------------------------------------------------

def piece_choices(result) -> list[tuple[str, int]]:
    result = _need(result)
    return [(f"{i + 1}: {p}", i) for i, p in enumerate(result["source_pieces"])]


def word_choices(result) -> list[tuple[str, int]]:
    result = _need(result)
    return [(f"{k + 1}: {w}", k) for k, w in enumerate(words_from_pieces(result["source_pieces"]))]


def _positions(value, n: int, what: str) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        value = [value]
    out = []
    for x in value:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x != int(x):
            raise error(f"{what} must be given by position; {x!r} is not one.")
        if not 0 <= int(x) < n:
            raise error(f"{what} {int(x) + 1} does not exist: the source has {n}.")
        out.append(int(x))
    return sorted(set(out))


INTERVENTION_HEADERS = ("variant", "before", "after", "Δ log p per step (own translation)", "Σ Δ log p")
CONTINUE_HEADERS = ("variant", "forced prefix", "continued freely", "log p of the continuation", "finished")
AGREEMENT_HEADERS = ("variant", "mean Spearman ρ", "argmax agree", "steps", "note")


def _intervene(tr: Translator, result: dict, source: list[int], intervention: Intervention,
               attention_only: bool) -> tuple[list[str], list[list]]:
    try:
        intervention.check(len(source))
    except ValueError as exc:              # a message safe to show
        raise error(str(exc)) from None

    def run(v):
        model, before = tr.models[v], result["greedy"][v]
        if attention_only and not model.has_attention:
            return None
        return (greedy(model, [source], max_len=MAX_OUTPUT, intervention=intervention)[0],
                force_decode(model, source, before["ids"], intervention))

    rows = []
    for v, out in each(result["variants"], run).items():
        before = result["greedy"][v]
        if out is None:
            rows.append([v, before["text"], "(no attention to intervene on: see delete the word)", "", ""])
            continue
        after, rescored = out
        delta = np.array(rescored.logprobs[: len(before["logprobs"])]) - np.array(before["logprobs"])
        rows.append([v, before["text"], tr.tok.decode(after.tokens),
                     " ".join(f"{d:+.2f}" for d in delta), f"{delta.sum():+.2f}"])
    return list(INTERVENTION_HEADERS), rows


def knock_out_view(tr: Translator | None, result, pieces) -> tuple[list[str], list[list]]:
    result = _need(result)
    check_variants(tr, result["variants"])
    S = len(result["source_ids"])
    chosen = _positions(pieces, S, "Source piece")
    if not chosen:
        raise error("Choose at least one source piece to knock out.")
    if len(chosen) == S:
        raise error("Every source piece is knocked out: attention needs at least one piece to look at.")
    return _intervene(tr, result, result["source_ids"], Intervention(knockout=tuple(chosen)), True)


def force_alpha_view(tr: Translator | None, result, step, piece) -> tuple[list[str], list[list]]:
    result = _need(result)
    check_variants(tr, result["variants"])
    longest = max(len(result["greedy"][v]["ids"]) for v in result["variants"])
    t = _whole(step, "The step t", 1, longest)
    chosen = _positions(piece, len(result["source_ids"]), "Source piece")
    if len(chosen) != 1:
        raise error("Choose the one source piece to force α_t onto.")
    return _intervene(tr, result, result["source_ids"], Intervention(force_step=t - 1, force_source=chosen[0]),
                      True)


def delete_word_view(tr: Translator | None, result, word) -> tuple[list[str], list[list]]:
    result = _need(result)
    check_variants(tr, result["variants"])
    groups = word_groups(result["source_pieces"])
    chosen = _positions(word, len(groups), "Source word")
    if len(chosen) != 1:
        raise error("Choose the one source word to delete.")
    if len(groups) == 1:
        raise error("The sentence has only one word; deleting it leaves nothing to translate.")
    gone = set(groups[chosen[0]])
    source = [i for k, i in enumerate(result["source_ids"]) if k not in gone]
    return _intervene(tr, result, source, Intervention(), False)


# ---- 3. the beam tree ----------------------------------------------------------------------

def beam_tree_view(tr: Translator | None, text, variant, beam, n_best) -> dict:
    """→ {"tree": what node_view needs (kept in gr.State), "figure", "headers", "rows", "summary"}."""
    if not isinstance(variant, str):
        raise error("Choose one variant for the beam tree.")
    (variant,) = check_variants(tr, [variant])
    text, src = source_of(tr, text)
    beam = _whole(beam, "Beam width", 1, MAX_BEAM)
    n_best = min(_whole(n_best, "n-best", 1, MAX_BEAM), beam)
    hyps, nodes = beam_tree(tr.models[variant], src, beam=beam, n_best=n_best, max_len=MAX_OUTPUT)
    pieces = {n.id: ("<s>" if n.parent < 0 else _pieces(tr, [n.token])[0]) for n in nodes}
    rows = []
    for n in nodes[1:]:
        rows.append([n.id, n.step + 1, pieces[n.id], f"{n.logprob:.2f}", f"{n.total:.2f}",
                     "" if n.score is None else f"{n.score:.3f}", n.status, n.rank or "",
                     tr.tok.decode(node_path(nodes, n.id))])
    tree = {"variant": variant, "source_pieces": tr.tok.text_pieces(text),
            "nodes": [{"id": n.id, "parent": n.parent, "step": n.step, "piece": pieces[n.id], "status": n.status,
                       "total": n.total, "rank": n.rank,
                       "alpha": None if n.alpha is None else n.alpha.tolist(),
                       "candidates": [(_pieces(tr, [c])[0], p) for c, p in n.candidates]} for n in nodes]}
    summary = (f"**{variant}**, beam {beam}: {len(nodes) - 1} extensions ranked over "
               f"{max(n.step for n in nodes) + 1} steps; n-best: " +
               "; ".join(f"{i + 1}. {md(tr.tok.decode(h.tokens))} (score {h.score:.3f})" for i, h in enumerate(hyps)))
    return {"tree": tree, "figure": _plots().beam_tree(tree["nodes"]), "summary": summary,
            "headers": ["node", "t", "token", "log p", "Σ log p", "score", "status", "n-best", "path"],
            "rows": rows}


def node_view(tree, index) -> dict:
    """α_t and the top-5 of one node (``index``: the table's row, or [row, col] from a click)."""
    if not isinstance(tree, dict) or "nodes" not in tree:
        raise error("Draw a beam tree first.")
    if isinstance(index, (list, tuple)) and index:
        index = index[0]
    row = _whole(index, "The node's row", 0, len(tree["nodes"]) - 2)
    node = tree["nodes"][row + 1]
    text = (f"Node {node['id']}: t = {node['step'] + 1}, token “{md(node['piece'])}”, {node['status']}, "
            f"Σ log p = {node['total']:.2f}" + (f", n-best #{node['rank']}" if node["rank"] else ""))
    bars = None
    if node["alpha"] is not None:
        bars = _plots().bars(node["alpha"], tree["source_pieces"],
                             f"{tree['variant']}: α_t the parent attended with at t = {node['step'] + 1}")
    return {"md": text, "bars": bars, "candidates": {piece: float(p) for piece, p in node["candidates"]}}


# ---- 4. attribution ------------------------------------------------------------------------

def attribution_view(tr: Translator | None, result) -> tuple[dict, list[str], list[list]]:
    """Gradient × input for every scored variant on the forced translation; → (result with
    "attribution" added, agreement headers, rows)."""
    result = dict(_need(result))
    check_variants(tr, result["variants"])
    result["attribution"] = {}
    rows = []
    found = each(result["variants"],
                 lambda v: gradient_x_input(tr.models[v], result["source_ids"], result["target_ids"]))
    for v, a in found.items():
        result["attribution"][v] = a
        alpha = result["forced"][v]["attention"]
        if alpha is None:
            rows.append([v, "—", "—", f"{len(a)}", "no α to compare; attribution only"])
            continue
        ag = agreement(alpha, a)
        rows.append([v, f"{ag['spearman']:.2f}" if ag["rho_steps"] else "—", f"{ag['argmax']:.0%}",
                     f"{ag['steps']}", "" if ag["rho_steps"] == ag["steps"]
                     else f"ρ over {ag['rho_steps']} steps (constant rows have none)"])
    return result, list(AGREEMENT_HEADERS), rows


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
    from .export import sweep_folders   # imports matplotlib: not at start-up

    sweep_folders(EXPORT_ROOT)
    EXPORT_ROOT.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(dir=EXPORT_ROOT))
    rows, cols = result["target_pieces"], result["source_pieces"]
    files, doc = [], {"source": result["text"], "target": result["target"], "source_tokens": cols,
                      "target_tokens": rows, "rows": "target", "columns": "source",
                      "threshold": THRESHOLD, "pharaoh": "i-j: source word i, target word j, from 0",
                      "variants": {}}

    def write_csv(name: str, m: np.ndarray) -> None:
        path = out / name
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["target \\ source", *cols])
            for r, row in zip(rows, np.asarray(m)):
                w.writerow([r, *(f"{x:.6f}" for x in row)])
        files.append(str(path))

    for v in result["variants"]:
        alpha = result["forced"][v]["attention"]
        attrib = result.get("attribution", {}).get(v)
        entry = {"logprobs": [round(x, 6) for x in result["forced"][v]["logprobs"]]}
        if alpha is not None:
            write_csv(f"alpha_{v}.csv", alpha)
            A = word_matrix(alpha, cols, rows)
            entry["attention"] = np.round(alpha, 6).tolist()
            entry["pharaoh_argmax"] = to_pharaoh(argmax_links(A))
            entry["pharaoh_threshold"] = to_pharaoh(threshold_links(A))
            for kind in ("argmax", "threshold"):
                path = out / f"align_{v}_{kind}.txt"
                path.write_text(entry[f"pharaoh_{kind}"] + "\n", encoding="utf-8")
                files.append(str(path))
        if attrib is not None:
            write_csv(f"attribution_{v}.csv", attrib)
            entry["attribution"] = np.round(attrib, 6).tolist()
        doc["variants"][v] = entry
    path = out / "question.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return [str(path)] + files
