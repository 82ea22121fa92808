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

import json
import re
import unicodedata
from pathlib import Path
from string import Template
from urllib.parse import urlencode

import numpy as np

from seq2seq import analysis
from seq2seq.attention import VARIANTS
from seq2seq.tokenizer import DEFAULT_DIRECTION, words_from_pieces

from . import plots
from .about import WORDS_RULE

# One colour per attention variant in the α_t chart (Okabe–Ito, readable for colour-blind readers).
VARIANT_COLOURS = {"dot": "#E69F00", "general": "#56B4E9", "additive": "#009E73", "multihead": "#CC79A7"}
HEAD_CELL = 14            # cell size (CSS px) of the multihead's per-head maps: labels, no numbers
TEMPLATE = Template(Path(__file__).with_name("results.html").read_text(encoding="utf-8"))
NO_ATTENTION = ("No attention: this model conditions only on the final encoder state "
                "(c_t = [→h_S ; ←h_1] at every step), so there is no α to show.")
CELL_NOTE = ("Cells show α_{t,i} in percent (blank: below 0.5 %; long inputs: colour only), on one 0–1 colour "
             "scale and one source axis for every variant. Hover a cell (or focus a map and use the arrow keys) to "
             "mark the same cell in every map; click a map (or Enter on it) to enlarge it; click an output token to "
             "go to its step; ← and → step through. Under each map, the line view joins source and output tokens "
             "by lines as opaque as α (α ≥ 0.5 %): hover or focus a token to light its lines in every variant.")
NOTATION = ("Pieces: “Haus” opens a word, “·es” continues the word before it, “␣” is a lone space piece, "
            "</s> ends the sentence.")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "$": "&#36;", "{": "&#123;",
             "}": "&#125;", "`": "&#96;"}
_ESCAPE = str.maketrans(_ENTITIES)


def esc(s) -> str:
    return str(s).translate(_ESCAPE)


def unit(words: bool) -> str:
    return "words" if words else "pieces"


def slug(text: str, limit: int = 32) -> str:
    """A short file-name slug of a sentence: ASCII letters and digits joined by '-' ("ü" → "u")."""
    plain = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", plain.lower())
    out = ""
    for w in words:
        if len(out) + len(w) + 1 > limit:
            break
        out = f"{out}-{w}" if out else w
    return out or (words[0][:limit] if words else "sentence")


def png_name(variant: str, words: bool, text: str | None = None) -> str:
    return f"attention-{slug(text) + '-' if text else ''}{variant}-{unit(words)}.png"


def permalink(result: dict, words: bool) -> str:
    """The query string that reproduces a result: sentence, variants, decoding settings and unit."""
    settings = result["settings"]
    query = {"text": result["text"], "variants": ",".join(result["variants"]), "method": settings["method"]}
    if result.get("direction", DEFAULT_DIRECTION) != DEFAULT_DIRECTION:
        query["direction"] = result["direction"]
    query.update({k: settings[k] for k in ("beam", "n_best", "temperature", "seed") if k in settings})
    query["unit"] = unit(words)
    return "?" + urlencode(query)


def best(result: dict, variant: str) -> dict | None:
    e = result["variants"].get(variant, {})
    return e["hypotheses"][0] if "hypotheses" in e else None


# ---- pictures ------------------------------------------------------------------------------

def compute_views(result: dict, words: bool = False, hyp_index: int = 0) -> dict[str, tuple]:
    """Each variant's (α or None, row labels, column labels) for one hypothesis, in the unit
    shown: ``analysis.view`` once per variant, shared by the maps, the step data and diagnostics."""
    out = {}
    for v, e in result["variants"].items():
        hyps = e.get("hypotheses", [])
        if len(hyps) > hyp_index:
            h = hyps[hyp_index]
            out[v] = analysis.view(h["attention"], result["source_pieces"], h["pieces"], words)
    return out


def shown_labels(labels: list[str], words: bool) -> list[str]:
    """Labels in the page's one token notation (``piece_text``); words are shown as they are."""
    return list(labels) if words else [piece_text(s) for s in labels]


def heatmaps(result: dict, words: bool = False, hyp_index: int = 0,
             views: dict[str, tuple] | None = None, screen: int = plots.PIXEL_RATIO) -> dict[str, plots.Heatmap]:
    """The heatmap of each variant with attention: one cell size, one left margin and one width
    for all (the longest output and widest label among them), so source columns line up.
    ``screen``: the screen's pixel ratio (``plots.screen_ratio``)."""
    views = compute_views(result, words, hyp_index) if views is None else views
    views = {v: (m, shown_labels(rows, words), shown_labels(cols, words))
             for v, (m, rows, cols) in views.items() if m is not None}
    if not views:
        return {}
    left = plots.label_width([r for _, rows, _ in views.values() for r in rows])
    grid = (max(m.shape[0] for m, _, _ in views.values()), len(next(iter(views.values()))[2]))
    scale = plots.pixel_ratio(*grid, screen)
    maps = {v: plots.heatmap(m, rows, cols, left_px=left, grid=grid, scale=scale)
            for v, (m, rows, cols) in views.items()}
    plots.pad_to_width(list(maps.values()))
    return maps


def head_maps(result: dict, variant: str, words: bool = False, screen: int = plots.PIXEL_RATIO) -> list[plots.Heatmap]:
    """A map of each head of a multi-head variant, with its axes and a "head k" title (no numbers)."""
    h = best(result, variant)
    if h is None or h["heads"] is None or h["heads"].shape[1] < 2:
        return []
    out = []
    for k in range(h["heads"].shape[1]):
        m, rows, cols = analysis.view(h["heads"][:, k, :], result["source_pieces"], h["pieces"], words)
        out.append(plots.heatmap(m, shown_labels(rows, words), shown_labels(cols, words), f"head {k + 1}",
                                 numbers=False, cell=HEAD_CELL, scale=plots.pixel_ratio(*m.shape, screen)))
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
    """Tokens (already in the page's notation, ``shown_labels``) as readable text: a piece that
    opens a word starts with a gap, a piece that continues one (·) sits close to it. Output
    tokens are buttons of one roving tab stop (page.js)."""
    out = []
    for t, s in enumerate(labels, start=1):
        opens = words or not s.startswith("·") or t == 1
        data = (f' data-t="{t}" tabindex="-1" role="button"' if step_attr else f' data-i="{t - 1}"')
        out.append(f'<span class="tok {"ws" if opens else "wc"}"{data}>{esc(s)}</span>')
    return "".join(out)


def piece_text(piece: str) -> str:
    """One piece as plain text: a word-opening piece without its ▁, a piece that continues a
    word after "·" (so "▁The" reads "The" and "ing" reads "·ing"); a bare ▁ reads "␣"."""
    if piece.startswith("<") and piece.endswith(">"):
        return piece
    shown = piece[1:] if piece.startswith("▁") and len(piece) > 1 else piece
    return ("" if piece.startswith("▁") else "·") + shown.replace("▁", "␣")


def step_data(result: dict, words: bool = False, views: dict[str, tuple] | None = None,
              maps: dict[str, plots.Heatmap] | None = None) -> dict:
    """The page's one data channel: per variant the row labels, α rows (or None), p, H(α_t)
    and the top-5 candidates of each step, in the unit shown; where each map's grid sits
    (``Heatmap.geometry``); and the permalink."""
    src = result["source_pieces"]
    cols = words_from_pieces(src) if words else [piece_text(s) for s in src]
    views = compute_views(result, words) if views is None else views
    variants, steps = {}, 1
    for v, e in result["variants"].items():
        if "hypotheses" not in e:
            continue
        h = e["hypotheses"][0]
        m, rows, _ = views[v]
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
        if maps and v in maps:
            variants[v]["map"] = {k: (round(x, 6) if isinstance(x, float) else x) for k, x in maps[v].geometry().items()}
    return {"steps": steps, "unit": unit(words), "cols": cols, "variants": variants, "lut": plots.LUT_HEX,
            "link": permalink(result, words)}


# ---- diagnostics --------------------------------------------------------------------------------

def diagnostics(result: dict, words: bool = False, views: dict[str, tuple] | None = None) -> dict[str, dict | None]:
    """``analysis.diagnostics`` of each variant's best hypothesis, in the unit shown."""
    views = compute_views(result, words) if views is None else views
    return {v: None if m is None else analysis.diagnostics(m, cols) for v, (m, _, cols) in views.items()}


def _diagnostics_html(result: dict, words: bool, views: dict[str, tuple]) -> str:
    diag = diagnostics(result, words, views)
    names = [v for v, d in diag.items() if d is not None]
    if not names:
        return ""
    u = "word" if words else "piece"
    lab = (lambda x: x) if words else piece_text
    rows = ["<table class='diag'><thead><tr><th>variant</th><th>mean H(α_t), bits</th><th>uniform would be</th>"
            f"<th>mass on the final {u}</th><th>mass on punctuation</th><th>never attended</th>"
            "<th>over-attended</th></tr></thead><tbody>"]
    for v in names:
        d = diag[v]
        final = f"{d['final_word_mass']:.2f} ({esc(lab(d['final_word']))})" if d["final_word"] is not None else "–"
        rows.append(f"<tr><td class='v'>{esc(v)}</td><td class='num'>{d['mean_entropy']:.2f}</td>"
                    f"<td class='num'>{d['uniform_entropy']:.2f}</td><td class='num'>{final}</td>"
                    f"<td class='num'>{d['punctuation_mass']:.2f}</td>"
                    f"<td>{esc(', '.join(map(lab, d['never'])) or '–')}</td>"
                    f"<td>{esc(', '.join(map(lab, d['over'])) or '–')}</td></tr>")
    rows.append("</tbody></table>")
    cols = shown_labels(next(iter(views.values()))[2], words)
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


def _map_html(pic: plots.Heatmap, alt: str, cls: str = "heatmap", caption: str = "") -> str:
    """A map shown at its CSS size (drawn at ``pic.scale``×), a focusable button that enlarges it."""
    w, h = pic.css_size
    return (f'<div class="frame" tabindex="0" role="button" aria-label="{esc(alt)}; Enter enlarges" '
            f'data-caption="{esc(caption or alt)}"><img class="{cls}" src="{plots.data_uri(pic.pixels)}" width="{w}" '
            f'height="{h}" alt="{esc(alt)}"><div class="mark"></div></div>')


def _cell(result: dict, v: str, pic: plots.Heatmap | None, words: bool, steps_src: str,
          views: dict[str, tuple], screen: int) -> str:
    e = result["variants"][v]
    out = [f'<figure class="cell" data-variant="{esc(v)}" id="cell-{esc(v)}"><figcaption>{esc(v)}</figcaption>']
    if "missing" in e:
        out.append(f'<p class="note">{esc(e["missing"])}</p></figure>')
        return "".join(out)
    rows = shown_labels(views[v][1], words)
    if pic is None:
        out.append(f'<p class="note noatt">{esc(NO_ATTENTION)}</p>')
    else:
        name = png_name(v, words, result["text"])
        alt = f"{v}: attention map, target × source {unit(words)}"
        out.append(f'<div class="scroll">{_map_html(pic, alt, caption=f"{v} · {unit(words)}")}</div>'
                   f'<a class="download" download="{esc(name)}" href="#" title="{esc(name)}">⤓ PNG of this map</a>'
                   f'<div class="lines" role="group" aria-label="{esc(v)}: line view, source {unit(words)} on the '
                   f'left, output on the right; ↑ and ↓ move between tokens"></div>')
        heads = head_maps(result, v, words, screen)
        if heads:
            out.append(f'<details class="heads"><summary>its {len(heads)} heads (the map above is their mean)'
                       '</summary><div class="headmaps">' + "".join(
                           _map_html(p, f"{v} head {k + 1}", "head", f"{v} · head {k + 1} · {unit(words)}")
                           for k, p in enumerate(heads)) + "</div></details>")
    out.append(f'<div class="tokens out" role="toolbar" aria-label="{esc(v)} output: choose a step">'
               f'{token_spans(rows, words, True)}</div>')
    if pic is not None:
        out.append(f'<div class="tokens src" aria-label="source, shaded by α_t">{steps_src}</div>')
    out.append("</figure>")
    return "".join(out)


def _nbest_html(result: dict, words: bool, screen: int) -> str:
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
        uris.update({(v, k): _map_html(pic, f"{v} #{k + 1}: attention map", "nbest-map")
                     for v, pic in heatmaps(result, words, k, screen=screen).items()})
    for v, e in result["variants"].items():
        for k, h in enumerate(e.get("hypotheses", [])):
            uri = uris.get((v, k))
            img = uri or ""
            rows.append(f"<tr><td class='v'>{esc(v)}</td><td>{k + 1}</td><td class='num'>{h['score']:.3f}</td>"
                        f"<td class='num'>{h['logprob']:.2f}</td><td>{esc(h['text'])}</td><td>{img}</td></tr>")
    return "".join(rows) + "</tbody></table></details>"


def results_html(result: dict, words: bool = False, pixel_ratio=None) -> str:
    """The results block of one request, in pieces or in words (the markup is ``results.html``),
    its maps drawn for a screen of ``pixel_ratio`` (the browser's ``devicePixelRatio``, checked
    by ``plots.screen_ratio``; absent: ``plots.PIXEL_RATIO``)."""
    screen = plots.screen_ratio(pixel_ratio)
    views = compute_views(result, words)
    maps = heatmaps(result, words, views=views, screen=screen)
    data = step_data(result, words, views, maps)
    shown = [v for v in VARIANTS if v in result["variants"]]
    src = token_spans(data["cols"], words, False)
    n_src = len(result["source_pieces"])
    status = (f'<p class="status" id="status"><b>Source</b>: {esc(result["text"])} · {n_src} pieces, '
              f'{len(words_from_pieces(result["source_pieces"]))} words · {esc(_describe(result["settings"]))} · '
              f"showing {unit(words)}.</p>")
    legend = "".join(f'<span><i style="background:{c}"></i>{esc(v)}</span>' for v, c in VARIANT_COLOURS.items()
                     if v in maps)
    return TEMPLATE.substitute(
        steps_json=esc(json.dumps(data, ensure_ascii=False, separators=(",", ":"))), summary=_summary_html(result),
        status=status, notes="".join(f'<p class="note warn">⚠️ {esc(n)}</p>' for n in result["notes"]),
        steps=data["steps"], tlabel=f'{"word" if words else "t"} = 1 / {data["steps"]}', cell_note=esc(CELL_NOTE),
        notation=esc(WORDS_RULE if words else NOTATION),
        cells="".join(_cell(result, v, maps.get(v), words, src, views, screen) for v in shown), legend=legend,
        nbest=_nbest_html(result, words, screen), diagnostics=_diagnostics_html(result, words, views))
