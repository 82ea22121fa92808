"""demo/plots.py: figures are plain matplotlib Figures (never pyplot), any label
draws without mathtext trouble, CJK and Arabic render, and the colour scale is
fixed at 0–1 in every figure."""
from __future__ import annotations

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
    figs = [plots.heatmap(np.full((2, 3), 1 / 3), ["a", "b"], ["x", "y", "z"], "t"),
            plots.bars([0.2, 0.8], ["x", "y"], "t"),
            plots.score_by_length({"dot": [("1-3", 10.0), ("4-6", 12.5)]}),
]
    for fig in figs:
        assert isinstance(fig, Figure)
        assert isinstance(fig.canvas, FigureCanvasAgg)
        arr = plots.to_array(fig)
        assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
    assert plt.get_fignums() == before


@pytest.mark.parametrize("label", WEIRD)
def test_any_label_draws_to_png(label, tmp_path):
    m = np.array([[0.25, 0.75], [1.0, 0.0]])
    fig = plots.heatmap(m, [label, "b"], ["x", label], f"title {label}")
    path = tmp_path / "h.png"
    plots.to_png(fig, path)
    with Image.open(path) as im:
        assert im.size[0] > 50 and im.size[1] > 50
    bars = plots.bars([0.4, 0.6], [label, "y"], label)
    plots.to_png(bars, tmp_path / "b.png")


def test_pixel_fast_path_equals_agg_drawing():
    args = (np.array([[0.1, 0.9], [0.5, 0.5]]), ["$$", "日本語"], ["_x^2", "مرحبا"], "check")
    fig = plots.heatmap(*args)
    drawn = plots.draw(fig)
    assert np.array_equal(plots.to_array(fig), drawn)
    bars = plots.bars([0.3, 0.7], ["a", "b"], "t")
    assert np.array_equal(plots.to_array(bars), plots.draw(bars))


def test_take_pixels_frees_the_figure_at_once():
    """What the page does with each Figure it sends: it gets the exact pixels, and the spent
    Figure leaves no reference cycles for the garbage collector."""
    import gc

    fig = plots.heatmap(np.array([[0.1, 0.9], [0.5, 0.5]]), ["a", "b"], ["c", "d"], "t")
    expected = plots.draw(fig)
    assert np.array_equal(plots.take_pixels(fig), expected)
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            plots.take_pixels(plots.heatmap(np.array([[0.1, 0.9]]), ["a"], ["c", "d"], "t"))
            plots.take_pixels(plots.bars([0.3, 0.7], ["a", "b"], "t"))
        assert gc.collect() == 0                  # nothing was left to the collector
    finally:
        gc.enable()
    axes_fig = plots.score_by_length({"dot": [("1-3", 10.0), ("4-6", 12.0)]})
    assert plots.take_pixels(axes_fig).shape[2] == 3 and axes_fig.axes   # drawn, left as it was


def test_labels_have_ink_and_math_is_literal():
    dollars, _ = plots.text_bitmap("$$")
    one, _ = plots.text_bitmap("$")
    assert dollars.max() > 0
    assert dollars.shape[1] > one.shape[1]          # two literal dollar signs, not an empty math string


def test_cjk_renders_with_noto_when_installed():
    glyphs = [plots.text_bitmap(c)[0] for c in "日本語"]
    assert all(g.max() > 0 for g in glyphs)
    if not plots.has_cjk_font():
        pytest.skip("Noto Sans CJK not installed: CJK falls back to boxes (checked above that nothing fails)")
    # real glyphs differ from each other; missing-glyph boxes would all be identical
    assert not (glyphs[0].shape == glyphs[1].shape and np.array_equal(glyphs[0], glyphs[1]))
    assert "Noto Sans CJK" in " ".join(plots.font_families())


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

    low = plots.to_array(plots.heatmap(np.array([[0.2, 0.3]]), ["t"], ["a", "b"], numbers=False))
    high = plots.to_array(plots.heatmap(np.array([[0.2, 0.9]]), ["t"], ["a", "b"], numbers=False))
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
    with pytest.raises(ValueError):
        plots.bars([0.5, 0.5], ["x"])


def test_long_inputs_scale_and_stay_readable():
    T, S = 150, 120
    m = np.full((T, S), 1.0 / S)
    small = plots.to_array(plots.heatmap(np.full((5, 5), 0.2), ["t"] * 5, ["s"] * 5))
    rows, cols = [f"▁w{i}" for i in range(T)], [f"▁q{j}" for j in range(S)]
    big = plots.to_array(plots.heatmap(m, rows, cols))
    cell, number_pt = plots.cell_size(T, S)
    assert cell >= 14 and number_pt >= 5
    assert big.shape[1] >= S * cell and big.shape[0] >= T * cell
    assert big.shape[1] > 2 * small.shape[1]
    cells = plots._cells(m, cell, number_pt).reshape(T, cell, S, cell, 3)
    bare = plots._cells(m, cell, 0.0).reshape(T, cell, S, cell, 3)
    assert (cells != bare).any(axis=(1, 3, 4)).all()          # every cell carries its number (1 %)


def test_degenerate_matrices():
    assert plots.to_array(plots.heatmap(np.zeros((1, 0)), ["t"], [])).shape[2] == 3
    img = plots.to_array(plots.heatmap(np.array([[np.nan, 1.5, -0.2]]), ["t"], ["a", "b", "c"]))   # clipped, no crash
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
    assert plots.to_array(fig).shape[0] > 100
