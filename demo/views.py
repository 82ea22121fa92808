"""What the page shows of a result (``demo/state.py``), as one block of HTML: the summary
table, the heatmaps side by side (small multiples), the step view and the diagnostics.

The step view runs in the browser (``demo/page.js``): the HTML carries, per variant, the
rows of α, the chosen tokens with their probabilities and the top-5 candidates, so choosing
a step t marks row t in every heatmap, shades the source tokens and redraws the α_t chart
without asking the server.

Every piece of text in the HTML goes through ``esc`` (user text included): HTML special
characters and the characters a template could read (``$ { } `` ` ``) become entities.
"""
from __future__ import annotations

import base64
import json

import numpy as np

from seq2seq import analysis
from seq2seq.attention import VARIANTS
from seq2seq.tokenizer import words_from_pieces

from . import plots
from .about import WORDS_RULE

# One colour per attention variant in the α_t chart (Okabe–Ito, readable for colour-blind readers).
VARIANT_COLOURS = {"dot": "#E69F00", "general": "#56B4E9", "additive": "#009E73", "multihead": "#CC79A7"}
HEAD_CELL = 6             # cell size of the multihead's per-head thumbnails
NO_ATTENTION = ("No attention: this model conditions only on the final encoder state "
                "(c_t = [→h_S ; ←h_1] at every step), so there is no α to show.")
CELL_NOTE = ("Cells show α_{t,i} in percent (blank: below 0.5 %), on one 0–1 colour scale and one source axis "
             "for every variant. Click a heatmap to enlarge it; click an output token to go to its step.")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "$": "&#36;", "{": "&#123;",
             "}": "&#125;", "`": "&#96;"}
_ESCAPE = str.maketrans(_ENTITIES)


def esc(s) -> str:
    return str(s).translate(_ESCAPE)


def unit(words: bool) -> str:
    return "words" if words else "pieces"


def png_name(variant: str, words: bool) -> str:
    return f"attention-{variant}-{unit(words)}.png"


def data_uri(pixels: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(plots.png_bytes(pixels)).decode("ascii")


def best(result: dict, variant: str) -> dict | None:
    e = result["variants"].get(variant, {})
    return e["hypotheses"][0] if "hypotheses" in e else None


# ---- pictures ------------------------------------------------------------------------------

def heatmaps(result: dict, words: bool = False, hyp_index: int = 0) -> dict[str, plots.Heatmap]:
    """The heatmap of each variant with attention: one cell size, one left margin and one width
    for all (the longest output and widest label among them), so source columns line up."""
    views = {}
    for v, e in result["variants"].items():
        hyps = e.get("hypotheses", [])
        if len(hyps) > hyp_index and hyps[hyp_index]["attention"] is not None:
            views[v] = analysis.view(hyps[hyp_index]["attention"], result["source_pieces"], hyps[hyp_index]["pieces"],
                                     words)
    if not views:
        return {}
    left = plots.label_width([r for _, rows, _ in views.values() for r in rows])
    grid = (max(m.shape[0] for m, _, _ in views.values()), len(next(iter(views.values()))[2]))
    maps = {v: plots.heatmap(m, rows, cols, left_px=left, grid=grid) for v, (m, rows, cols) in views.items()}
    plots.pad_to_width(list(maps.values()))
    return maps


def head_maps(result: dict, variant: str, words: bool = False) -> list[plots.Heatmap]:
    """Small heatmaps of each head of a multi-head variant (no numbers)."""
    h = best(result, variant)
    if h is None or h["heads"] is None or h["heads"].shape[1] < 2:
        return []
    out = []
    for k in range(h["heads"].shape[1]):
        m, rows, cols = analysis.view(h["heads"][:, k, :], result["source_pieces"], h["pieces"], words)
        out.append(plots.heatmap(m, [""] * len(rows), [""] * len(cols), numbers=False, cell=HEAD_CELL))
    return out


# ---- the summary table ---------------------------------------------------------------------

def summary_rows(result: dict) -> list[dict]:
    """Per variant: translation (words), log p, log p per piece, pieces, beam score, chrF
    against the reference when the input is one of the examples."""
    ref = result.get("reference")
    rows = []
    for v, e in result["variants"].items():
        if "missing" in e:
            rows.append({"variant": v, "missing": e["missing"]})
            continue
        h = e["hypotheses"][0]
        T = len(h["pieces"])
        row = {"variant": v, "translation": h["text"], "logprob": h["logprob"],
               "per_piece": h["logprob"] / max(T, 1), "pieces": T, "score": h["score"]}
        if ref:
            from sacrebleu.metrics import CHRF

            row["chrf"] = CHRF().sentence_score(h["text"], [ref]).score
        rows.append(row)
    return rows


def _summary_html(result: dict) -> str:
    beam = result["settings"]["method"] == "beam"
    ref = result.get("reference")
    head = ["variant", "translation", "log p", "log p / piece"] + (["beam score"] if beam else []) + \
        (["chrF"] if ref else [])
    out = ['<table class="summary" id="summary"><thead><tr>', *(f"<th>{esc(h)}</th>" for h in head),
           "</tr></thead><tbody>"]
    for r in summary_rows(result):
        if "missing" in r:
            out.append(f'<tr><td class="v">{esc(r["variant"])}</td><td colspan="{len(head) - 1}" class="missing">'
                       f'{esc(r["missing"])}</td></tr>')
            continue
        cells = [f'<td class="v">{esc(r["variant"])}</td>', f'<td class="tr">{esc(r["translation"])}</td>',
                 f'<td class="num">{r["logprob"]:.2f}</td>', f'<td class="num">{r["per_piece"]:.2f}</td>']
        if beam:
            cells.append(f'<td class="num">{r["score"]:.3f}</td>')
        if ref:
            cells.append(f'<td class="num">{r["chrf"]:.1f}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if ref:
        out.append(f'<p class="reference"><b>Reference</b> (test split): {esc(ref)} · chrF is sentence chrF '
                   "(0–100) against it.</p>")
    return "".join(out)


# ---- tokens and the step data ----------------------------------------------------------------

def token_spans(labels: list[str], words: bool, step_attr: bool) -> str:
    """Tokens as readable text: a piece that opens a word (▁) starts with a gap, a piece that
    continues one sits close to it, marked by a thin rule."""
    out = []
    for t, s in enumerate(labels, start=1):
        opens = words or s.startswith("▁") or s == "</s>" or t == 1
        shown = s if words else (s[1:] if s.startswith("▁") and len(s) > 1 else s.replace("▁", "␣"))
        data = f' data-t="{t}"' if step_attr else f' data-i="{t - 1}"'
        out.append(f'<span class="tok {"ws" if opens else "wc"}"{data}>{esc(shown)}</span>')
    return "".join(out)


def piece_text(piece: str) -> str:
    """One piece as plain text: a word-opening piece without its ▁, a piece that continues a
    word after "·" (so "▁The" reads "The" and "ing" reads "·ing"); a bare ▁ reads "␣"."""
    if piece.startswith("<") and piece.endswith(">"):
        return piece
    shown = piece[1:] if piece.startswith("▁") and len(piece) > 1 else piece
    return ("" if piece.startswith("▁") else "·") + shown.replace("▁", "␣")


def step_data(result: dict, words: bool = False) -> dict:
    """What the browser needs to show any step: per variant the row labels, α rows (or None),
    p, H(α_t) and the top-5 candidates of each step, in the unit shown."""
    src = result["source_pieces"]
    cols = words_from_pieces(src) if words else [piece_text(s) for s in src]
    variants, steps = {}, 1
    for v, e in result["variants"].items():
        if "hypotheses" not in e:
            continue
        h = e["hypotheses"][0]
        m, rows, _ = analysis.view(h["attention"], src, h["pieces"], words)
        groups = analysis.target_groups(h["pieces"]) if words else [[i] for i in range(len(h["pieces"]))]
        steps = max(steps, len(rows))
        shown = (lambda s: s) if words else piece_text
        variants[v] = {
            "rows": [shown(r) for r in rows],
            "alpha": None if m is None else np.round(m, 4).tolist(),
            "entropy": None if m is None else np.round(analysis.entropy_bits(m), 2).tolist(),
            "p": [round(float(np.exp(sum(h["logprobs"][i] for i in g))), 4) for g in groups],
            "top": [[[piece_text(c), round(p, 4)] for c, p in h["candidates"][g[0]]] for g in groups],
            "colour": VARIANT_COLOURS.get(v),
        }
    return {"steps": steps, "unit": unit(words), "cols": cols, "variants": variants, "lut": plots.LUT_HEX}


# ---- diagnostics --------------------------------------------------------------------------------

def diagnostics(result: dict, words: bool = False) -> dict[str, dict | None]:
    """``analysis.diagnostics`` of each variant's best hypothesis, in the unit shown."""
    out = {}
    for v, e in result["variants"].items():
        h = best(result, v)
        if h is None:
            continue
        m, _, cols = analysis.view(h["attention"], result["source_pieces"], h["pieces"], words)
        out[v] = None if m is None else analysis.diagnostics(m, cols)
    return out


def _diagnostics_html(result: dict, words: bool) -> str:
    diag = diagnostics(result, words)
    names = [v for v, d in diag.items() if d is not None]
    if not names:
        return ""
    u = "word" if words else "piece"
    rows = ["<table class='diag'><thead><tr><th>variant</th><th>mean H(α_t), bits</th><th>uniform would be</th>"
            f"<th>mass on the final {u}</th><th>mass on punctuation</th><th>never attended</th>"
            "<th>over-attended</th></tr></thead><tbody>"]
    for v in names:
        d = diag[v]
        final = f"{d['final_word_mass']:.2f} ({esc(d['final_word'])})" if d["final_word"] is not None else "–"
        rows.append(f"<tr><td class='v'>{esc(v)}</td><td class='num'>{d['mean_entropy']:.2f}</td>"
                    f"<td class='num'>{d['uniform_entropy']:.2f}</td><td class='num'>{final}</td>"
                    f"<td class='num'>{d['punctuation_mass']:.2f}</td><td>{esc(', '.join(d['never']) or '–')}</td>"
                    f"<td>{esc(', '.join(d['over']) or '–')}</td></tr>")
    rows.append("</tbody></table>")
    cols = analysis.view(None, result["source_pieces"], [], words)[2]
    cov = [f"<table class='diag'><thead><tr><th>source {u}</th>",
           *(f"<th>{esc(v)}</th>" for v in names), "</tr></thead><tbody>"]
    for i, c in enumerate(cols):
        cells = []
        for v in names:
            d = diag[v]
            ratio = d["coverage"][i] / d["fair_share"] if d["fair_share"] else 0.0
            flag = " ▼" if ratio < analysis.NEVER_SHARE else " ▲" if ratio > analysis.OVER_SHARE else ""
            cells.append(f"<td class='num'>{d['coverage'][i]:.2f} ({ratio:.1f}×){flag}</td>")
        cov.append(f"<tr><td>{esc(c)}</td>{''.join(cells)}</tr>")
    cov.append("</tbody></table>")
    share = ", ".join(f"{esc(v)} {diag[v]['fair_share']:.2f}" for v in names)
    return ("<details class='diagnostics'><summary>Diagnostics</summary>"
            f"<p>Entropy of α_t in bits (low: focused, high: spread). Coverage Σ_t α_t,i of each source {u} "
            f"is judged against its fair share, output length ÷ source length (here {share}): ▼ below "
            f"{analysis.NEVER_SHARE}× the share (never attended), ▲ above {analysis.OVER_SHARE}× (over-attended). "
            f"Mass on the final {u} (the last that is not punctuation) and on punctuation are mean α per step.</p>"
            + "".join(rows) + "".join(cov) + "</details>")


# ---- the whole results block ----------------------------------------------------------------------

def _describe(settings: dict) -> str:
    return {"greedy": "greedy decoding",
            "beam": f"beam search (width {settings.get('beam')}, {settings.get('n_best')} best kept)",
            "sample": f"sampling (temperature {settings.get('temperature')}, seed {settings.get('seed')})",
            }[settings["method"]]


def _cell(result: dict, v: str, pic: plots.Heatmap | None, words: bool, steps_src: str) -> str:
    e = result["variants"][v]
    out = [f'<figure class="cell" data-variant="{esc(v)}" id="cell-{esc(v)}"><figcaption>{esc(v)}</figcaption>']
    if "missing" in e:
        out.append(f'<p class="note">{esc(e["missing"])}</p></figure>')
        return "".join(out)
    h = e["hypotheses"][0]
    _, rows, _ = analysis.view(None, result["source_pieces"], h["pieces"], words)
    if pic is None:
        out.append(f'<p class="note noatt">{esc(NO_ATTENTION)}</p>')
    else:
        H, W = pic.pixels.shape[:2]
        uri = data_uri(pic.pixels)
        geometry = (f'data-top="{pic.grid_top}" data-left="{pic.grid_left}" data-cell="{pic.cell}" '
                    f'data-rows="{pic.rows}" data-cols="{pic.cols}" data-w="{W}" data-h="{H}"')
        out.append(f'<div class="frame" {geometry}><img class="heatmap" src="{uri}" width="{W}" height="{H}" '
                   f'alt="{esc(v)}: attention heatmap, target × source"><div class="mark"></div></div>'
                   f'<a class="download" download="{esc(png_name(v, words))}" href="#">⤓ '
                   f'{esc(png_name(v, words))}</a>')
        heads = head_maps(result, v, words)
        if heads:
            out.append('<div class="heads">' + "".join(
                f'<img class="head" title="head {k + 1}" alt="{esc(v)} head {k + 1}" src="{data_uri(p.pixels)}">'
                for k, p in enumerate(heads)) + f'<span class="hint">its {len(heads)} heads (mean above)</span></div>')
    out.append(f'<div class="tokens out" aria-label="{esc(v)} output">{token_spans(rows, words, True)}</div>')
    if pic is not None:
        out.append(f'<div class="tokens src" aria-label="source, shaded by α_t">{steps_src}</div>')
    out.append("</figure>")
    return "".join(out)


def _nbest_html(result: dict, words: bool) -> str:
    """Beam search with n-best > 1: every kept hypothesis with its scores and, with attention,
    its own heatmap (small; a click enlarges it)."""
    if result["settings"]["method"] != "beam" or result["settings"].get("n_best", 1) < 2:
        return ""
    rows = ["<details class='nbest'><summary>n-best hypotheses</summary><table class='diag'><thead><tr>"
            "<th>variant</th><th>#</th><th>beam score</th><th>log p</th><th>translation</th><th>α</th></tr>"
            "</thead><tbody>"]
    count = max(len(e.get("hypotheses", [])) for e in result["variants"].values())
    uris = {}                       # encoded rank by rank: only one rank's pixels are held at a time
    for k in range(count):
        uris.update({(v, k): data_uri(pic.pixels) for v, pic in heatmaps(result, words, k).items()})
    for v, e in result["variants"].items():
        for k, h in enumerate(e.get("hypotheses", [])):
            uri = uris.get((v, k))
            img = ("" if uri is None else f'<img class="nbest-map" alt="{esc(v)} #{k + 1}: attention heatmap" '
                   f'src="{uri}">')
            rows.append(f"<tr><td class='v'>{esc(v)}</td><td>{k + 1}</td><td class='num'>{h['score']:.3f}</td>"
                        f"<td class='num'>{h['logprob']:.2f}</td><td>{esc(h['text'])}</td><td>{img}</td></tr>")
    return "".join(rows) + "</tbody></table></details>"


def results_html(result: dict, words: bool = False) -> str:
    """The results block of one request, in pieces or in words."""
    maps = heatmaps(result, words)
    data = step_data(result, words)
    shown = [v for v in VARIANTS if v in result["variants"]]
    n = len(shown)
    src = token_spans(data["cols"], words, False)
    n_src = len(result["source_pieces"])
    status = (f'<p class="status" id="status"><b>Source</b>: {esc(result["text"])} · {n_src} pieces, '
              f'{len(words_from_pieces(result["source_pieces"]))} words · {esc(_describe(result["settings"]))} · '
              f"showing {unit(words)}.</p>")
    notes = "".join(f'<p class="note warn">⚠️ {esc(n)}</p>' for n in result["notes"])
    stepbar = ('<div class="stepslot"><div class="stepbar" id="stepbar">'
               '<button type="button" class="prev" aria-label="previous step">◀ prev</button>'
               '<button type="button" class="play" aria-label="play">▶ play</button>'
               '<button type="button" class="next" aria-label="next step">next ▶</button>'
               f'<input type="range" class="t" min="1" max="{data["steps"]}" value="1" step="1" '
               f'aria-label="output step"><span class="tlabel">{"word" if words else "t"} = 1 / {data["steps"]}</span>'
               f'<span class="hint">{esc(CELL_NOTE)}</span></div></div>')
    cells = "".join(_cell(result, v, maps.get(v), words, src) for v in shown)
    multiples = (f'<div class="multiples" id="multiples" style="--n:{n};--mid:{n if n <= 3 else (n + 1) // 2}">'
                 f"{cells}</div>")
    step = ('<div class="stepview" id="stepview"><div class="chart" aria-label="α_t of every variant"></div>'
            '<div class="legend">' + "".join(
                f'<span><i style="background:{c}"></i>{esc(v)}</span>' for v, c in VARIANT_COLOURS.items()
                if v in maps) + '</div><div class="choices"></div></div>')
    words_note = f'<p class="hint">{esc(WORDS_RULE)}</p>' if words else ""
    payload = esc(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return (f'<div class="results" data-steps="{payload}">' + _summary_html(result) + status + notes + stepbar
            + multiples + step + words_note + _nbest_html(result, words) + _diagnostics_html(result, words) + "</div>")
