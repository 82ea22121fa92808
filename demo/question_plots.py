"""Figures of the "Question the attention" tab that ``demo/plots.py`` does not draw: log p per
step, a difference of two α on a diverging scale, the beam tree, and α over words with an
aligner's links. matplotlib's object API only (never pyplot); each returns an (H, W, 3) uint8
image (``plots.figure_pixels``), meant to be shown at its own size: every text in it is at least
``TEXT_PT`` (11 px at ``DPI``)."""
from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from .plots import DPI, figure_pixels, short_label, text_width

DIFF_NORM = Normalize(vmin=-1.0, vmax=1.0, clip=True)      # α_A − α_B always lies in [−1, 1]
STATUS_COLOURS = {"root": "#444444", "kept": "#2b7bba", "pruned": "#bbbbbb", "finished": "#2ca02c",
                  "length limit": "#ff7f0e"}
LABEL_CHARS = 14
TEXT_PT, TITLE_PT = 8.0, 9.0      # 8 pt at 100 dpi is 11 px: no text under 10 px when shown at its size


def _label(s) -> str:
    return short_label(s, LABEL_CHARS)


def logprob_lines(pieces: list[str], logprobs: dict[str, list[float]]) -> np.ndarray:
    """log p(y_t) of the forced translation per step, one line per variant."""
    T = len(pieces)
    fig = Figure(figsize=(max(5.0, 0.38 * T + 1.5), 3.0), dpi=DPI)
    ax = fig.add_subplot()
    for v, lps in logprobs.items():
        ax.plot(range(T), lps, marker="o", markersize=3, label=v)
    ax.axhline(np.log(0.1), color="#999999", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(T), [_label(p) for p in pieces], rotation=60, ha="right", fontsize=TEXT_PT)
    ax.tick_params(labelsize=TEXT_PT)
    ax.set_ylabel("log p(y_t | y_<t, x)", fontsize=TEXT_PT)
    ax.legend(fontsize=TEXT_PT, ncols=min(5, len(logprobs)), loc="lower left")
    ax.set_title("Per-token log p of the forced translation (dashed: p = 10 %)", fontsize=TITLE_PT)
    fig.subplots_adjust(left=0.9 / fig.get_figwidth(), right=0.98, top=0.9, bottom=0.3)
    return figure_pixels(fig)


def _matrix_axes(fig: Figure, m: np.ndarray, rows: list[str], cols: list[str], cmap, norm, title: str):
    ax = fig.add_subplot()
    im = ax.imshow(m, cmap=cmap, norm=norm, aspect="equal", interpolation="nearest")
    ax.set_xticks(range(len(cols)), [_label(c) for c in cols], rotation=90, fontsize=TEXT_PT)
    ax.set_yticks(range(len(rows)), [_label(r) for r in rows], fontsize=TEXT_PT)
    ax.xaxis.tick_top()
    ax.set_title(title, fontsize=TITLE_PT, pad=10)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, shrink=0.8).ax.tick_params(labelsize=TEXT_PT)
    return ax


CELL_IN = 0.26           # inches per matrix cell
MARGIN_IN = (1.3, 1.3, 0.9, 0.3)   # left (row labels), top (column labels, title), right (colour bar), bottom


def _matrix_figure(rows: int, cols: int) -> Figure:
    """A figure sized for a rows × cols matrix with fixed margins (no tight_layout: it costs more
    than the drawing)."""
    left, top, right, bottom = MARGIN_IN
    w, h = left + right + CELL_IN * max(cols, 4), top + bottom + CELL_IN * max(rows, 3)
    fig = Figure(figsize=(w, h), dpi=DPI)
    fig.subplots_adjust(left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h)
    return fig


def difference(diff: np.ndarray, rows: list[str], cols: list[str], title: str) -> np.ndarray:
    """α_A − α_B (T, S): red where A attends more, blue where B does, fixed −1…1 scale."""
    fig = _matrix_figure(*diff.shape)
    _matrix_axes(fig, diff, rows, cols, "RdBu_r", DIFF_NORM, title)
    return figure_pixels(fig)


def word_overlay(A: np.ndarray, rows: list[str], cols: list[str], sure, possible, title: str) -> np.ndarray:
    """α over words (J, I) on the shared 0–1 scale; an aligner's links (i, j) drawn on top:
    filled squares sure, hollow squares possible only."""
    fig = _matrix_figure(*A.shape)
    ax = _matrix_axes(fig, A, rows, cols, "Blues", Normalize(0.0, 1.0), title)
    sure = {tuple(x) for x in sure}
    for i, j in {tuple(x) for x in possible} | sure:
        filled = (i, j) in sure
        ax.scatter([i], [j], marker="s", s=36, facecolors="black" if filled else "none",
                   edgecolors="black", linewidths=1.2)
    return figure_pixels(fig)


ROW_PX = 24              # vertical pitch of the tree's nodes: a label is about 13 px high
LABEL_GAP_PX = 8         # from a node to its label, and from a label to the next column's nodes
MARGIN_PX = (16, 44, 16, 52)   # left, top (legend), right, bottom (step axis and its caption)


def tree_label(node: dict) -> str:
    return f"{_label(node['piece'])} {node['total']:.1f}" + (f" #{node['rank']}" if node["rank"] else "")


def beam_tree_figure(nodes: list[dict]) -> Figure:
    """The beam search's tree: one column per step, nodes coloured by status, edges to parents,
    the n-best ringed in red with their rank. The layout is in pixels: the columns are as far
    apart as the widest label needs and the rows ``ROW_PX``, so no two labels overlap."""
    by_step: dict[int, list[dict]] = {}
    for n in nodes:
        by_step.setdefault(n["step"], []).append(n)
    # Text is most of the drawing time, so only the n-best paths and the finished hypotheses are
    # labelled; every node has its row in the table beside the figure.
    by_id = {n["id"]: n for n in nodes}
    labelled = set()
    for n in nodes:
        if n["rank"]:                                   # the whole path of an n-best hypothesis
            m = n
            while m["parent"] >= 0:
                labelled.add(m["id"])
                m = by_id[m["parent"]]
        elif n["status"] in ("finished", "length limit"):
            labelled.add(n["id"])
    widest = max((text_width(tree_label(by_id[i]), TEXT_PT) for i in labelled), default=0)
    pitch = max(48, int(widest * 1.15) + 2 * LABEL_GAP_PX + 6)  # 15 %: matplotlib's text runs a little wider
    rows = max(len(v) for v in by_step.values())
    left, top, right, bottom = MARGIN_PX
    aw, ah = pitch * (len(by_step) + 0.3), ROW_PX * rows
    caption = "output step t (label: token, Σ log p; #k: place in the n-best)"
    W = int(max(left + aw + right, text_width(caption, TEXT_PT) * 1.2 + 32, 520))
    H = int(top + ah + bottom)
    fig = Figure(figsize=(W / DPI, H / DPI), dpi=DPI)
    ax = fig.add_axes((left / W, bottom / H, aw / W, ah / H))
    pos = {}
    for t, ns in by_step.items():
        for k, n in enumerate(sorted(ns, key=lambda n: -n["total"])):
            pos[n["id"]] = (pitch * (t + 1) + 10, ah - ROW_PX * (k + 0.5 + (rows - len(ns)) / 2))
    for pruned, colour, width in ((True, "#dddddd", 0.6), (False, "#7aa6c9", 1.0)):
        segments = [[pos[n["parent"]], pos[n["id"]]] for n in nodes
                    if n["parent"] >= 0 and (n["status"] == "pruned") == pruned]
        ax.add_collection(LineCollection(segments, colors=colour, linewidths=width, zorder=1))
    xy = np.array([pos[n["id"]] for n in nodes])
    ax.scatter(xy[:, 0], xy[:, 1], s=22, c=[STATUS_COLOURS[n["status"]] for n in nodes], zorder=2,
               edgecolors=["red" if n["rank"] else "none" for n in nodes], linewidths=1.5)
    for n in nodes:
        if n["id"] in labelled:
            x, y = pos[n["id"]]
            ax.text(x + LABEL_GAP_PX, y, tree_label(n), fontsize=TEXT_PT, va="center", parse_math=False,
                    gid="tree-label")
    for status, colour in STATUS_COLOURS.items():
        ax.scatter([], [], color=colour, label=status, s=22)
    fig.legend(*ax.get_legend_handles_labels(), fontsize=TEXT_PT, loc="upper left", ncols=5, frameon=False,
               bbox_to_anchor=(0, 1))
    steps = sorted(t for t in by_step if t >= 0)
    ax.set_xticks([pitch * (t + 1) + 10 for t in steps], [str(t + 1) for t in steps], fontsize=TEXT_PT)
    ax.set_xlabel(caption, fontsize=TEXT_PT, loc="left")
    ax.set_xlim(0, aw)
    ax.set_ylim(0, ah)
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    return fig


def beam_tree(nodes: list[dict]) -> np.ndarray:
    return figure_pixels(beam_tree_figure(nodes))


def bars(alpha, cols: list[str], title: str = "") -> np.ndarray:
    """α_t over the source tokens as bars on the page's fixed 0–1 colour scale, values in percent."""
    from . import plots

    a = np.asarray(alpha, dtype=np.float64).reshape(-1)
    if a.shape[0] != len(cols):
        raise ValueError(f"{a.shape[0]} weights for {len(cols)} labels")
    cell, num_pt = plots.cell_size(1, len(cols))
    cols_l = [plots.short_label(s) for s in cols]
    left, top, bar_px = 24, 30 if title else 8, 90
    base = top + bar_px + 14                                 # y of the baseline (α = 0)
    width = max(left + len(cols) * cell + 12,
                plots.text_width(plots.short_label(title, 90), plots.TITLE_PT, True) + 16 if title else 0)
    cv = plots.Canvas(width, base + plots.label_width(cols_l) + 12)
    cv.px[base - bar_px - 1, left: left + len(cols) * cell] = 220            # α = 1
    for j, v in enumerate(a):
        h, x0 = int(round(float(np.clip(v, 0, 1)) * bar_px)), left + j * cell
        if h > 0:
            cv.px[base - h: base, x0 + 1: x0 + cell - 2] = plots.colors(np.array([v]))[0]
        if plots.percent(v):
            cv.text(x0 + (cell - 1) / 2, base - h - 8, plots.percent(v), num_pt, ha="center")
    cv.px[base, left: left + len(cols) * cell] = 140
    for j, s in enumerate(cols_l):
        cv.text(left + j * cell + (cell - 1) / 2, base + 5, s, ha="center", va="top", rotate=True)
    if title:
        cv.text(8, 14, plots.short_label(title, 90), plots.TITLE_PT, bold=True)
    return cv.px


def contrast_rows(alpha, attribution, cols: list[str], title: str) -> np.ndarray:
    """α_t (none: left blank) above the signed contrastive attribution divided by its largest
    |value|, both on the fixed −1…1 diverging scale: red pushes towards the chosen token, blue
    towards the alternative."""
    a = np.asarray(attribution, dtype=float)
    scale = float(np.abs(a).max()) or 1.0
    top = np.full(a.shape, np.nan) if alpha is None else np.asarray(alpha, dtype=float)
    fig = _matrix_figure(2, len(cols))
    _matrix_axes(fig, np.stack([top, a / scale]), rows=["α_t", "contrast"], cols=cols, cmap="RdBu_r",
                 norm=DIFF_NORM, title=title)
    return figure_pixels(fig)
