"""demo/plots.py: figures are plain matplotlib Figures (never pyplot), any label
draws without mathtext trouble, CJK and Arabic render, and the colour scale is
fixed at 0–1 in every figure."""
from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from demo import plots

WEIRD = ["$$", "_x^2", "$x$", r"\frac{a}{b}", "日本語", "مرحبا", "שלום", "%", "{}", "a_b^c", "", "▁Haus", "😀",
         "x" * 60]


def test_figures_are_not_registered_with_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = plots.score_by_length({"dot": [("1-3", 10.0), ("4-6", 12.5)]})
    assert isinstance(fig, Figure) and isinstance(fig.canvas, FigureCanvasAgg)
    arr = plots.figure_pixels(fig)
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
    assert plt.get_fignums() == before


def test_heatmap_is_pixels_with_its_grid():
    m = np.array([[0.25, 0.75, 0.0], [1.0, 0.0, 0.0]])
    h = plots.heatmap(m, ["a", "b"], ["x", "y", "z"], "t")
    assert isinstance(h.pixels, np.ndarray) and h.pixels.dtype == np.uint8 and h.pixels.shape[2] == 3
    assert (h.rows, h.cols) == (2, 3)
    for i in range(2):
        for j in range(3):      # the cell at (grid_top + i·cell, grid_left + j·cell) has α_ij's colour
            y, x = h.grid_top + i * h.cell + 1, h.grid_left + j * h.cell + 1
            assert tuple(h.pixels[y, x]) == tuple(plots.colors(np.array([m[i, j]]))[0])


@pytest.mark.parametrize("label", WEIRD)
def test_any_label_draws_to_png(label):
    m = np.array([[0.25, 0.75], [1.0, 0.0]])
    h = plots.heatmap(m, [label, "b"], ["x", label], f"title {label}")
    with Image.open(io.BytesIO(plots.png_bytes(h.pixels))) as im:
        assert im.size[0] > 50 and im.size[1] > 50
        assert np.array_equal(np.asarray(im.convert("RGB")), h.pixels)


def test_labels_have_ink_and_math_is_literal():
    dollars, _ = plots.text_bitmap("$$")
    one, _ = plots.text_bitmap("$")
    assert dollars.max() > 0
    assert dollars.shape[1] > one.shape[1]          # two literal dollar signs, not an empty math string


def test_cjk_renders_with_noto():
    glyphs = [plots.text_bitmap(c)[0] for c in "日本語"]
    assert all(g.max() > 0 for g in glyphs)
    assert plots.has_cjk_font(), "Noto Sans CJK is in packages.txt (fonts-noto-cjk); install it"
    # real glyphs differ from each other; missing-glyph boxes would all be identical
    assert not (glyphs[0].shape == glyphs[1].shape and np.array_equal(glyphs[0], glyphs[1]))


def test_cjk_found_on_disk_when_the_font_cache_predates_the_fonts(monkeypatch):
    """A font cache built before fonts-noto-cjk was installed does not know the family: the file
    on disk is registered directly, and 東京 is drawn, not boxes."""
    from matplotlib import font_manager

    real = font_manager.findfont

    def stale(prop, *a, **k):
        if "CJK" in str(prop.get_family()):
            raise ValueError("not in this cache")
        return real(prop, *a, **k)
    monkeypatch.setattr(font_manager, "findfont", stale)
    for cached in (plots._font_paths, plots._cjk_file, plots.text_bitmap):
        cached.cache_clear()
    try:
        paths = [str(p) for p in plots._font_paths(False)]
        assert len(paths) == 2 and "NotoSansCJK" in paths[1]
        east, cap = plots.text_bitmap("東")[0], plots.text_bitmap("京")[0]
        assert east.max() > 0 and not (east.shape == cap.shape and np.array_equal(east, cap))
    finally:
        for cached in (plots._font_paths, plots._cjk_file, plots.text_bitmap):
            cached.cache_clear()


def test_arabic_renders_glyphs():
    bmp, _ = plots.text_bitmap("مرحبا")
    assert bmp.max() > 0 and bmp.shape[1] > 10
    # shaped: the letters join into one word, narrower than the same letters drawn apart
    assert plots.text_width("مرحبا") < sum(plots.text_width(c) for c in "مرحبا") - 4


def test_colour_scale_is_fixed_zero_to_one():
    assert plots.NORM.vmin == 0.0 and plots.NORM.vmax == 1.0
    v = np.array([0.0, 0.25, 0.5, 1.0])
    expected = (plots.CMAP(v)[:, :3] * 255).round().astype(np.uint8)
    assert np.abs(plots.colors(v).astype(int) - expected.astype(int)).max() <= 1

    def count(img, value):
        c = plots.colors(np.array([value]))[0]
        return int(np.all(img == c, axis=-1).sum())

    low = plots.heatmap(np.array([[0.2, 0.3]]), ["t"], ["a", "b"], numbers=False).pixels
    high = plots.heatmap(np.array([[0.2, 0.9]]), ["t"], ["a", "b"], numbers=False).pixels
    cell = plots.cell_size(1, 2)[0]
    for img, values in ((low, (0.2, 0.3)), (high, (0.2, 0.9))):
        for value in values:                 # each cell keeps its absolute colour: no per-figure rescaling
            assert count(img, value) >= (cell - 1) ** 2
    # the 0.3 cell is not stretched to the top colour even though it is the matrix maximum
    top = plots.colors(np.array([1.0]))[0]
    assert count(low, 1.0) < (cell - 1) ** 2 and not np.array_equal(plots.colors(np.array([0.3]))[0], top)


def test_rows_and_values_must_match():
    with pytest.raises(ValueError):
        plots.heatmap(np.zeros((2, 3)), ["a"], ["x", "y", "z"])


def test_long_inputs_scale_and_stay_readable():
    """Past SMALL_GRID a map is colour only (a number would be under 10 px) at one pixel per CSS
    pixel, with 14-px cells: full size when enlarged, every label at 12 px."""
    T, S = 150, 120
    m = np.full((T, S), 1.0 / S)
    small = plots.heatmap(np.full((5, 5), 0.2), ["t"] * 5, ["s"] * 5)
    rows, cols = [f"w{i}" for i in range(T)], [f"q{j}" for j in range(S)]
    big = plots.heatmap(m, rows, cols)
    cell, number_pt = plots.cell_size(T, S)
    assert cell >= 14 and number_pt == 0 and big.scale == 1 and small.scale == plots.PIXEL_RATIO
    assert big.pixels.shape[1] >= S * cell and big.pixels.shape[0] >= T * cell
    assert big.css_size[0] > 2 * small.css_size[0]
    assert (plots._cells(m, cell, number_pt) == plots._cells(m, cell, 0.0)).all()


def _ink_height(img: np.ndarray) -> int:
    """Rows holding dark ink (text), in a white-background picture."""
    dark = (img.astype(int).sum(axis=2) < 300).any(axis=1)
    return int(dark.sum())


def test_no_text_in_a_map_under_ten_css_pixels():
    """Every text in a short map (labels, numbers, colour bar) is drawn at ≥ 10 px times the
    map's scale: a digit's ink is as tall as that of a 10-px digit drawn independently with
    FreeType at that size (PIL), and the page shows the map at its CSS size."""
    from PIL import ImageDraw, ImageFont

    m = np.array([[0.88]])            # one light-on-dark number, no other ink in the cell
    h = plots.heatmap(m, [""], [""])
    k = h.scale
    y, x = h.grid_top, h.grid_left
    cell = h.pixels[y: y + h.cell - 1, x: x + h.cell - 1]
    ink = int(((cell.astype(int).sum(axis=2)) > 600).any(axis=1).sum())      # the white digits
    font = ImageFont.truetype(plots._font_paths(False)[0], plots.MIN_TEXT_PX * k)
    canvas = Image.new("RGB", (80 * k, 40 * k), "white")
    ImageDraw.Draw(canvas).text((4, 4), "88", font=font, fill="black")
    reference = _ink_height(np.asarray(canvas))
    assert ink >= reference - 1, (ink, reference)
    for pt in (plots.LABEL_PT, plots.SMALL_PT, plots.cell_size(10, 10)[1]):
        assert pt / plots.PT_PER_PX >= plots.MIN_TEXT_PX


def test_degenerate_matrices():
    assert plots.heatmap(np.zeros((1, 0)), ["t"], []).pixels.shape[2] == 3
    img = plots.heatmap(np.array([[np.nan, 1.5, -0.2]]), ["t"], ["a", "b", "c"]).pixels   # clipped, no crash
    assert img.dtype == np.uint8


def test_long_labels_are_shortened():
    assert plots.short_label("x" * 100).endswith("…")
    assert len(plots.short_label("x" * 100)) == plots.MAX_LABEL_CHARS
    assert plots.short_label("a\x00b") == "a?b"


def test_score_by_length_leaves_out_empty_buckets_and_shows_counts():
    fig = plots.score_by_length({"dot": [("1-3", 10.0), ("4-6", 12.0), ("30+", None)],
                                 "none": [("1-3", 4.0), ("4-6", None), ("30+", None)]},
                                counts={"1-3": 3423, "4-6": 308, "30+": 0})
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["1-3\n(3423)", "4-6\n(308)"]
    assert "test sentences" in fig.axes[0].get_xlabel()


def test_score_by_length_without_cards():
    fig = plots.score_by_length({})
    assert isinstance(fig, Figure)
    assert plots.figure_pixels(fig).shape[0] > 100


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 5, 3), (64, 300, 3)])
def test_png_bytes_decode_to_the_same_pixels(shape):
    """The hand-written PNG encoder against PIL's decoder: lossless for any pixels."""
    px = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    with Image.open(io.BytesIO(plots.png_bytes(px))) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        assert np.array_equal(np.asarray(im), px)


def test_screen_ratio_rounds_up_and_clamps_what_the_browser_reports():
    assert [plots.screen_ratio(v) for v in (1, 1.0, 1.25, 1.5, 2, 2.625, 3, 4, 100)] == [1, 1, 2, 2, 2, 3, 3, 3, 3]
    for bad in (None, "", "2x", float("nan"), float("inf"), -1, 0, [2], 10 ** 400):
        assert plots.screen_ratio(bad) == plots.PIXEL_RATIO, bad
    assert plots.screen_ratio("3") == 3             # a number sent as text reads as that number


def test_maps_are_drawn_at_css_size_times_the_screen_ratio():
    m = np.full((4, 5), 0.2)
    one, three = (plots.heatmap(m, ["t"] * 4, ["s"] * 5, scale=plots.pixel_ratio(4, 5, k)) for k in (1, 3))
    assert (one.scale, three.scale) == (1, 3)
    for a, b in zip(one.css_size, three.css_size):      # the same CSS size (text widths round apart by 1 px)
        assert abs(a - b) <= 1
    for a, b in zip(three.pixels.shape[:2], three.css_size[::-1]):
        assert 3 * (b - 1) < a <= 3 * b
    assert plots.pixel_ratio(plots.SMALL_GRID + 1, 5, 3) == plots.LARGE_PIXEL_RATIO     # long inputs: memory
