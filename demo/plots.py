"""Pictures for the demo, as numpy arrays (H, W, 3) uint8: the attention heatmap, drawn
as pixels, and the About tab's score-by-length plot, drawn with ``matplotlib.figure.Figure``
(never pyplot's global state).

A heatmap is composed as pixels, not through Axes, because one compare request draws
several of them:

* cells are coloured with the shared colour scale (``CMAP`` with ``NORM``: fixed 0–1, the
  same in every picture, whatever the matrix holds); each distinct (colour, number) cell is
  built once and the grid is one gather;
* every label and number is a glyph bitmap from matplotlib's FreeType wrapper
  (``FT2Font``, with a font fallback list), cached per string, so there is no mathtext
  at all: ``$$`` or ``_x^2`` are drawn literally;
* the layout is computed in pixels up front, and returned with the pixels (``Heatmap``),
  so that the page can mark row t over the image.

Non-Latin labels use a font fallback list: DejaVu Sans (Latin, Greek, Cyrillic, Arabic,
Hebrew), then Noto Sans CJK, found by family name or, where matplotlib's font cache
predates the fonts, as files on disk (``CJK_FONT_FILES``).
"""
from __future__ import annotations

import logging
import math
import struct
import unicodedata
import warnings
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from matplotlib import colormaps, font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ft2font import LoadFlags

DPI = 100
CMAP = colormaps["Blues"]
NORM = Normalize(vmin=0.0, vmax=1.0, clip=True)           # the same scale in every figure
LUT = (CMAP(np.linspace(0.0, 1.0, 256))[:, :3] * 255).round().astype(np.uint8)
LUT_HEX = ["#%02x%02x%02x" % tuple(int(c) for c in rgb) for rgb in LUT]   # the same scale, for the browser
GRID = np.array([217, 217, 217], np.uint8)
DARK = np.array([34, 34, 34], np.float32)
LIGHT = np.array([255, 255, 255], np.float32)
PT_PER_PX = 72 / DPI                                      # a font size in pt at DPI, from CSS px
LABEL_PT = 12 * PT_PER_PX                                 # 12 px labels
SMALL_PT = 10 * PT_PER_PX                                 # 10 px: the smallest text in any map
TITLE_PT = 13 * PT_PER_PX
MIN_TEXT_PX = 10
PIXEL_RATIO = 2           # device pixels per CSS pixel where the page did not say (an API client, an export)
MAX_PIXEL_RATIO = 3       # phones go up to 3×; more would only cost memory
LARGE_PIXEL_RATIO = 1     # maps past SMALL_GRID rows or columns: at 2× a long input's four maps were ~40 MB each
MAX_LABEL_CHARS = 18
CJK_FAMILIES = ("Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK KR", "Noto Sans CJK TC")

warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from (current )?font")
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)


# ---- fonts and text bitmaps ---------------------------------------------------------------

CJK_FONT_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-{weight}.ttc",
                  "/usr/share/fonts/noto-cjk/NotoSansCJK-{weight}.ttc",
                  "/usr/share/fonts/google-noto-cjk/NotoSansCJK-{weight}.ttc")


@lru_cache(maxsize=4)
def _cjk_file(bold: bool) -> str | None:
    """A Noto Sans CJK file on disk: registered with matplotlib's font manager directly, so it
    is found even when the font cache was built before the fonts were installed."""
    for pattern in CJK_FONT_FILES:
        for weight in (("Bold", "Regular") if bold else ("Regular",)):
            path = Path(pattern.format(weight=weight))
            if path.is_file():
                font_manager.fontManager.addfont(str(path))
                return str(path)
    return None


@lru_cache(maxsize=4)
def _font_paths(bold: bool) -> tuple:
    """DejaVu Sans, then Noto Sans CJK: by family name, else from its file on disk."""
    weight = "bold" if bold else "normal"
    paths = [font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight=weight))]
    cjk = None
    for name in CJK_FAMILIES:
        try:
            cjk = font_manager.findfont(font_manager.FontProperties(family=name, weight=weight),
                                        fallback_to_default=False)
            break
        except ValueError:
            continue
    cjk = cjk or _cjk_file(bold)
    if cjk and cjk not in paths:
        paths.append(cjk)
    return tuple(paths)


def has_cjk_font() -> bool:
    return len(_font_paths(False)) > 1


def short_label(s, limit: int = MAX_LABEL_CHARS) -> str:
    """A printable, bounded label: control/format characters become '?', long ones end in '…'."""
    s = "".join("?" if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") else c for c in str(s))
    return s if len(s) <= limit else s[: limit - 1] + "…"


@lru_cache(maxsize=8192)
def text_bitmap(text: str, size_pt: float = LABEL_PT, bold: bool = False) -> tuple[np.ndarray, int]:
    """(alpha (h, w) uint8, descent px) of ``text`` drawn horizontally; the baseline
    is ``descent`` pixels above the bitmap's bottom edge. Text is never parsed as math."""
    if not text:
        return np.zeros((1, 1), np.uint8), 0
    font = font_manager.get_font(list(_font_paths(bold)))   # per-thread FT2Font with fallbacks
    font.clear()
    font.set_size(size_pt, DPI)
    font.set_text(text, 0.0, flags=LoadFlags.FORCE_AUTOHINT)
    font.draw_glyphs_to_bitmap(antialiased=True)
    img = np.array(font.get_image(), dtype=np.uint8)
    if img.size == 0:
        img = np.zeros((1, 1), np.uint8)
    img.setflags(write=False)
    return img, int(round(font.get_descent() / 64))


def text_width(text: str, size_pt: float = LABEL_PT, bold: bool = False) -> int:
    return text_bitmap(text, size_pt, bold)[0].shape[1]


def label_width(labels, size_pt: float = LABEL_PT) -> int:
    """Pixels the widest (shortened) label needs; give the max over variants as ``left_px``
    to every heatmap of a request so their source columns line up."""
    return max((text_width(short_label(s), size_pt) for s in labels), default=0)


class Canvas:
    """An RGB uint8 image with pixel-placed text; y grows downwards."""

    def __init__(self, width: int, height: int):
        self.px = np.full((height, width, 3), 255, np.uint8)

    def text(self, x: float, y: float, s: str, size: float = LABEL_PT, *, ha: str = "left",
             va: str = "center", rotate: bool = False, bold: bool = False, color=DARK) -> None:
        """Draw ``s`` anchored at (x, y). With ``rotate`` the text reads bottom-to-top and
        ``va`` refers to its (vertical) extent: 'top' starts at y going down, 'bottom' ends at y."""
        bmp, descent = text_bitmap(s, size, bold)
        if rotate:
            bmp = np.rot90(bmp)
        h, w = bmp.shape
        if not rotate:
            x0 = x - w if ha == "right" else x - w / 2 if ha == "center" else x
            ink_mid = (h - descent) * 0.6          # centre on the x-height, not the bitmap box
            y0 = y - ink_mid if va == "center" else y if va == "top" else y - h
        else:
            x0 = x - (w - descent) * 0.6 if ha == "center" else x if ha == "left" else x - w
            y0 = y if va == "top" else y - h if va == "bottom" else y - h / 2
        self.blend(int(round(x0)), int(round(y0)), bmp, color)

    def blend(self, x0: int, y0: int, alpha: np.ndarray, color) -> None:
        H, W = self.px.shape[:2]
        h, w = alpha.shape
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
        if xa >= xb or ya >= yb:
            return
        self.px[ya:yb, xa:xb] = _over(self.px[ya:yb, xa:xb], alpha[ya - y0: yb - y0, xa - x0: xb - x0], color)

def _over(background: np.ndarray, alpha: np.ndarray, color) -> np.ndarray:
    """Alpha-blend a colour (alpha uint8 0–255) over uint8 RGB pixels."""
    a = alpha[..., None].astype(np.float32) * (1.0 / 255.0)
    return (background * (1.0 - a) + a * np.asarray(color, np.float32) + 0.5).astype(np.uint8)


def new_figure(width_px: int, height_px: int) -> Figure:
    """A Figure not registered with pyplot, with an Agg canvas, sized in pixels."""
    fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def colors(values: np.ndarray) -> np.ndarray:
    """RGB uint8 of values on the shared 0–1 scale (NaN → grid grey)."""
    v = np.asarray(values, np.float64)
    idx = np.rint(NORM(np.nan_to_num(v, nan=0.0)).filled(0.0) * 255).astype(np.intp)
    out = LUT[np.clip(idx, 0, 255)]
    out[np.isnan(v)] = GRID
    return out


# ---- heatmap --------------------------------------------------------------------------------

SMALL_GRID = 45       # rows or columns up to which cells carry their number


def cell_size(rows: int, cols: int) -> tuple[int, float]:
    """(cell CSS pixels, number font size in pt; 0: none) for a rows × cols matrix. A number is
    never smaller than ``MIN_TEXT_PX``, so past ``SMALL_GRID`` cells are colour only: a long
    input makes a large image, read at full size when enlarged (its numbers are in the CSV)."""
    if max(rows, cols) <= SMALL_GRID:
        return 22, SMALL_PT
    return 14, 0.0


def screen_ratio(value=None) -> int:
    """The device pixels per CSS pixel maps are drawn at for a screen whose browser reports
    ``window.devicePixelRatio`` = ``value``: rounded up (a 1.5× screen gets 2×, sharp once
    scaled down), clamped to 1–``MAX_PIXEL_RATIO``; ``PIXEL_RATIO`` for anything that is not
    a finite positive number (absent, text, NaN)."""
    try:
        ratio = float(value)
    except (TypeError, ValueError, OverflowError):
        return PIXEL_RATIO
    if not math.isfinite(ratio) or ratio <= 0:
        return PIXEL_RATIO
    return min(max(math.ceil(ratio - 1e-6), 1), MAX_PIXEL_RATIO)


def pixel_ratio(rows: int, cols: int, screen: int = PIXEL_RATIO) -> int:
    """Device pixels per CSS pixel a map of this shape is drawn at on a ``screen``× screen
    (``screen_ratio``): large grids at most ``LARGE_PIXEL_RATIO``."""
    return screen if max(rows, cols) <= SMALL_GRID else min(screen, LARGE_PIXEL_RATIO)


def percent(v: float) -> str:
    """Cell text: α in percent, blank below 0.5 %."""
    return str(int(round(100 * v))) if v >= 0.005 else ""


@lru_cache(maxsize=4096)
def _cell_block(level: int, pct: int, cell: int, size_pt: float) -> np.ndarray:
    """One finished cell (cell × cell × 3 uint8): colour ``LUT[level]``, the number ``pct``
    (light on dark cells, dark on light ones; none for 0), a grid line right and below."""
    block = np.empty((cell, cell, 3), np.uint8)
    block[:] = LUT[level]
    block[cell - 1, :] = GRID
    block[:, cell - 1] = GRID
    if pct > 0 and size_pt > 0:
        bmp = text_bitmap(str(pct), size_pt)[0]
        h, w = min(bmp.shape[0], cell - 2), min(bmp.shape[1], cell - 2)
        y0, x0 = (cell - 1 - h) // 2, (cell - 1 - w) // 2
        block[y0: y0 + h, x0: x0 + w] = _over(block[y0: y0 + h, x0: x0 + w], bmp[:h, :w],
                                                LIGHT if level >= 128 else DARK)
    block.setflags(write=False)
    return block


def _cells(m: np.ndarray, cell: int, size_pt: float) -> np.ndarray:
    """The whole grid in one gather: every distinct (colour level, number) cell is built once
    (and cached), then the (T, S) index picks blocks and is reshaped to pixels."""
    T, S = m.shape
    if T == 0 or S == 0:
        return np.zeros((T * cell, S * cell, 3), np.uint8)
    level = np.rint(np.clip(np.nan_to_num(m), 0.0, 1.0) * 255).astype(np.int64)      # NORM: fixed 0–1
    pct = (np.where(m >= 0.005, np.minimum(np.rint(m * 100), 999), 0).astype(np.int64) if size_pt > 0
           else np.zeros_like(level))
    keys, inverse = np.unique(level * 1000 + pct, return_inverse=True)
    blocks = np.stack([_cell_block(int(k // 1000), int(k % 1000), cell, size_pt) for k in keys])
    grid = blocks[inverse.reshape(T, S)]                                 # (T, S, cell, cell, 3)
    return grid.transpose(0, 2, 1, 3, 4).reshape(T * cell, S * cell, 3)


@dataclass
class Heatmap:
    """A drawn heatmap: the pixels, and where its grid of cells sits in them (device pixels;
    the page shows it at ``pixels`` ÷ ``scale`` CSS pixels)."""
    pixels: np.ndarray          # (H, W, 3) uint8
    grid_top: int               # y of the first row of cells
    grid_left: int              # x of the first column
    cell: int                   # cell size in pixels
    rows: int
    cols: int
    scale: int = 1              # device pixels per CSS pixel

    @property
    def css_size(self) -> tuple[int, int]:
        """(width, height) in CSS pixels: the size at which no text is under ``MIN_TEXT_PX``."""
        H, W = self.pixels.shape[:2]
        return -(-W // self.scale), -(-H // self.scale)

    def geometry(self) -> dict:
        """Where the grid sits, in fractions of the picture: what the page needs to mark row t."""
        H, W = self.pixels.shape[:2]
        return {"top": self.grid_top / H, "left": self.grid_left / W, "cw": self.cell / W, "ch": self.cell / H,
                "rows": self.rows, "cols": self.cols, "w": self.css_size[0], "h": self.css_size[1]}


def heatmap(matrix, rows: list[str], cols: list[str], title: str = "", *, left_px: int | None = None,
            numbers: bool = True, grid: tuple[int, int] | None = None, cell: int | None = None,
            scale: int | None = None) -> Heatmap:
    """Attention heatmap: target labels down the left, source labels across the top, α in
    percent in each cell (blank below 0.5 %), and a 0–1 colour bar.

    ``matrix`` is (len(rows), len(cols)) in [0, 1]; colours use the shared ``CMAP``/``NORM``
    (vmin 0, vmax 1) whatever the values, so pictures compare directly. ``left_px`` sets the
    minimum left margin in CSS pixels (give every variant the same one so the source columns
    line up). ``grid`` is the (rows, cols) the cell size is chosen for, by default this matrix's
    shape; give every picture that is to be compared the largest shape among them, so that they
    share one cell size. ``cell`` sets the cell size outright (small pictures, without numbers).
    ``scale``: device pixels per CSS pixel, by default ``pixel_ratio`` of ``grid``.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape != (len(rows), len(cols)):
        raise ValueError(f"matrix shape {m.shape} does not match {len(rows)} × {len(cols)} labels")
    T, S = m.shape
    k = int(scale or pixel_ratio(*(grid or (T, S))))
    size, num_pt = cell_size(*(grid or (T, S)))
    if cell is not None:
        size, num_pt = cell, 0.0
    size, label_pt, small_pt, title_pt = size * k, LABEL_PT * k, SMALL_PT * k, TITLE_PT * k
    rows_l = [short_label(s) for s in rows]
    cols_l = [short_label(s) for s in cols]
    left = max((left_px or 0) * k, label_width(rows_l, label_pt)) + 12 * k
    top = (24 if title else 6) * k
    grid_y = top + label_width(cols_l, label_pt) + 8 * k
    cbar_h = int(min(max(T * size, 60 * k), 160 * k))
    width = max(left + S * size + 52 * k,
                text_width(short_label(title, 90), title_pt, True) + 16 * k if title else 0)
    cv = Canvas(width, grid_y + max(T * size, cbar_h) + 10 * k)
    # cells with their numbers, a 1-pixel grid line after each
    cv.px[grid_y: grid_y + T * size, left: left + S * size] = _cells(m, size, num_pt * k if numbers else 0.0)
    for i, s in enumerate(rows_l):
        cv.text(left - 5 * k, grid_y + i * size + (size - 1) / 2, s, label_pt, ha="right")
    for j, s in enumerate(cols_l):
        cv.text(left + j * size + (size - 1) / 2, grid_y - 5 * k, s, label_pt, ha="center", va="bottom", rotate=True)
    if title:
        cv.text(8 * k, 13 * k, short_label(title, 90), title_pt, bold=True)
    # colour bar: the fixed 0–1 scale
    x = left + S * size + 10 * k
    cv.px[grid_y: grid_y + cbar_h, x: x + 10 * k] = colors(np.linspace(1.0, 0.0, cbar_h))[:, None, :]
    for frac, txt in ((1.0, "1"), (0.5, "0.5"), (0.0, "0")):
        cv.text(x + 13 * k, grid_y + (1 - frac) * (cbar_h - 1), txt, small_pt)
    return Heatmap(cv.px, grid_y, left, size, T, S, k)


def pad_to_width(pictures: list[Heatmap]) -> None:
    """Pad heatmaps on the right (white) to one width: with one left margin, the source columns
    then sit at the same pixels in every variant's picture."""
    width = max((h.pixels.shape[1] for h in pictures), default=0)
    for h in pictures:
        if h.pixels.shape[1] < width:
            h.pixels = np.pad(h.pixels, ((0, 0), (0, width - h.pixels.shape[1]), (0, 0)), constant_values=255)


# ---- about tab ------------------------------------------------------------------------------

def score_by_length(series: dict[str, list[tuple[str, float | None]]], metric: str = "BLEU",
                    counts: dict[str, int] | None = None, title: str = "test split") -> Figure:
    """Score per source-length bucket, one line per variant (cf. Bahdanau et al. 2015, Fig. 2).
    Buckets no variant has a score for are left out; ``counts`` (test sentences per bucket)
    go under the bucket names, since a small bucket's score is a noisy one. An ordinary Axes
    figure: drawn once at start-up."""
    return scores_by_length([(title, series, counts)], metric)


def scores_by_length(panels: list[tuple[str, dict, dict | None]], metric: str = "BLEU") -> Figure:
    """``score_by_length`` for several test sets, one panel each (title, series, counts), side by side."""
    fig = new_figure(680 * len(panels), 380)
    width = 1 / len(panels)
    for i, (title, series, counts) in enumerate(panels):
        ax = fig.add_axes((width * (i + 0.09), 0.17, width * 0.88, 0.73))
        _score_axes(ax, series, metric, counts or {}, title)
    return fig


def _score_axes(ax, series, metric, counts, title) -> None:
    buckets: list[str] = []
    for points in series.values():
        for b, v in points:
            if v is not None and b not in buckets:
                buckets.append(b)
    pos = {b: i for i, b in enumerate(buckets)}
    markers = "os^Dv"
    drawn = False
    for k, (name, points) in enumerate(series.items()):
        pts = [(pos[b], v) for b, v in points if v is not None]
        if pts:
            drawn = True
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=markers[k % len(markers)],
                    label=short_label(name))
    ax.set_xticks(range(len(buckets)), [short_label(b) + (f"\n({counts[b]})" if b in counts else "")
                                        for b in buckets])
    for t in ax.get_xticklabels():
        t.set_parse_math(False)
    ax.set_xlabel("source sentence length (words)" + (" and test sentences" if counts else ""))
    ax.set_ylabel(f"test {metric}")
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(loc="best", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no model cards yet", transform=ax.transAxes, ha="center", va="center",
                parse_math=False)
    ax.set_title(f"{metric} by source length ({title})", fontsize=10, parse_math=False)


# ---- output ---------------------------------------------------------------------------------

def figure_pixels(fig: Figure) -> np.ndarray:
    """(H, W, 3) uint8 of a Figure, drawn with its own Agg canvas."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png_bytes(pixels: np.ndarray) -> bytes:
    """PNG of an RGB uint8 image, written directly: every row with the "Up" filter (a heatmap's
    rows repeat within a cell, so the differences are mostly 0), zlib level 1. About a third of
    PIL's encoding time at the same size, which matters with maps drawn at twice their CSS size."""
    px = np.ascontiguousarray(pixels, dtype=np.uint8)
    H, W = px.shape[:2]
    rows = px.reshape(H, W * 3)
    up = rows.copy()
    up[1:] -= rows[:-1]                                       # uint8: wraps modulo 256, as PNG's Up
    raw = np.hstack([np.full((H, 1), 2, np.uint8), up])       # filter type 2 (Up) before each row
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)) + _png_chunk(b"IEND", b""))


def data_uri(pixels: np.ndarray) -> str:
    """An image as a PNG data URI: pictures inside ``gr.HTML`` leave no file per visitor."""
    import base64

    return "data:image/png;base64," + base64.b64encode(png_bytes(np.ascontiguousarray(pixels))).decode("ascii")


def img_html(pixels: np.ndarray | None, alt: str, elem_class: str = "") -> str:
    """An ``<img>`` of the pixels at their own size, never wider than its box (and then scaled
    down whole, never cropped); "" for None."""
    if pixels is None:
        return ""
    import html

    h, w = pixels.shape[:2]
    return (f'<img class="{html.escape(elem_class)}" alt="{html.escape(alt)}" src="{data_uri(pixels)}" '
            f'width="{w}" height="{h}" style="max-width:100%;height:auto">')


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """A Figure as PNG or SVG bytes, drawn with its own canvas (SVG keeps text as text)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=DPI * PIXEL_RATIO if fmt == "png" else DPI, facecolor="white",
                metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


# ---- one figure of a whole comparison ----------------------------------------------------------

FIGURE_MAX_IN = 40.0      # a long input's figure stays within what an SVG viewer opens


def comparison_figure(sentence: str, panels: list[tuple]) -> Figure:
    """Every selected map side by side on the shared 0–1 scale, each titled with its variant
    and translation, the sentence above them, one colour bar: a figure for a paper or a slide.

    ``panels``: (variant, translation, α (T × S) or None, row labels, column labels); a variant
    without attention gets a panel with its translation only."""
    drawn = [p for p in panels if p[2] is not None]
    S = max((p[2].shape[1] for p in drawn), default=1)
    T = max((p[2].shape[0] for p in drawn), default=1)
    cell_in = min(0.32, FIGURE_MAX_IN / max(S * max(len(panels), 1), T, 1))
    label_in = 1.3
    panel_w = max(S * cell_in + label_in, 2.4)
    fig = Figure(figsize=(min(panel_w * max(len(panels), 1) + 1.0, FIGURE_MAX_IN * 1.2), T * cell_in + 3.2),
                 dpi=DPI, facecolor="white", layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(short_label(sentence, 120), fontsize=12, fontweight="bold")
    axes = fig.subplots(1, max(len(panels), 1), squeeze=False)[0]
    image = None
    size = 9 if cell_in >= 0.2 else 6
    for ax, (variant, translation, m, rows, cols) in zip(axes, panels):
        title = f"{variant}\n{short_label(translation, 48)}"
        if m is None:
            ax.text(0.5, 0.5, "no attention:\nc_t is the final encoder state", ha="center", va="center",
                    fontsize=9, transform=ax.transAxes, parse_math=False)
            ax.set_axis_off()
        else:
            image = ax.imshow(np.asarray(m, np.float64), cmap=CMAP, norm=NORM, aspect="equal", interpolation="nearest")
            ax.set_xticks(range(len(cols)), [short_label(c) for c in cols], rotation=90, fontsize=size)
            ax.set_yticks(range(len(rows)), [short_label(r) for r in rows], fontsize=size)
            ax.xaxis.tick_top()
            for t in ax.get_xticklabels() + ax.get_yticklabels():
                t.set_parse_math(False)
        ax.set_title(title, fontsize=10, parse_math=False)
    if image is not None:
        fig.colorbar(image, ax=list(axes), shrink=0.6, label="attention weight α (0–1)")
    return fig
