"""Export of one result: JSON (tokens, α, per-token log p, top-5 candidates, per-head weights,
decoding settings, each model file's sha256), a PNG heatmap and a CSV of α per variant, and
all of them in one zip, in the unit shown (pieces or words)."""
from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from seq2seq import analysis
from seq2seq.attention import FORMULAS

from . import plots
from .state import error
from .views import compute_views, heatmaps, png_name, shown_labels, slug, unit

EXPORT_ROOT = Path(tempfile.gettempdir()) / "attention-demo-exports"
EXPORT_MAX_AGE_S = 3600


def _round(m) -> list | None:
    return None if m is None else np.round(np.asarray(m, np.float64), 6).tolist()


def export_data(result: dict, words: bool = False, hashes: dict[str, str] | None = None,
                views: dict[str, tuple] | None = None) -> dict:
    """The JSON export. Rows are target tokens, columns source tokens. ``views``: the best
    hypotheses' ``compute_views``, when the caller has them."""
    hashes = hashes or {}
    out = {"source": result["text"], "unit": unit(words), "decoding": result["settings"], "rows": "target",
           "columns": "source", "reference": result.get("reference"), "variants": {}}
    views = views or {}
    for v, e in result["variants"].items():
        if "missing" in e:
            out["variants"][v] = {"error": e["missing"]}
            continue
        hyps = []
        for k, h in enumerate(e["hypotheses"]):
            m, rows, cols = (views[v] if k == 0 and v in views else
                             analysis.view(h["attention"], result["source_pieces"], h["pieces"], words))
            groups = analysis.target_groups(h["pieces"]) if words else [[i] for i in range(len(h["pieces"]))]
            heads = None
            if h["heads"] is not None and h["heads"].shape[1] > 1:
                heads = [_round(analysis.view(h["heads"][:, k], result["source_pieces"], h["pieces"], words)[0])
                         for k in range(h["heads"].shape[1])]
            hyps.append({"translation": h["text"], "logprob": h["logprob"], "score": h["score"],
                         "source_tokens": cols, "target_tokens": rows,
                         "token_logprobs": analysis.word_logprobs(h["logprobs"], h["pieces"]) if words
                         else [float(x) for x in h["logprobs"]],
                         "top5": [[{"token": c, "p": p} for c, p in h["candidates"][g[0]]] for g in groups],
                         "attention": _round(m), "heads": heads})
        out["variants"][v] = {"variant": v, "formula": FORMULAS[v], "model_sha256": hashes.get(v),
                              "hypotheses": hyps}
    return out


def matrix_csv(rows: list[str], cols: list[str], m) -> str:
    """A target × source matrix as CSV: a header of source tokens, then one row per target token."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["target \\ source", *cols])
    for label, row in zip(rows, np.asarray(m, np.float64)):
        w.writerow([label, *(f"{x:.6f}" for x in row)])
    return buf.getvalue()


def sweep_folders(root: Path = EXPORT_ROOT, max_age_s: float = EXPORT_MAX_AGE_S, now: float | None = None) -> int:
    """Remove the folders directly under ``root`` last modified over ``max_age_s`` ago."""
    now = time.time() if now is None else now
    removed = 0
    if not root.is_dir():
        return 0
    for d in root.iterdir():
        try:
            if d.is_dir() and now - d.stat().st_mtime > max_age_s:
                shutil.rmtree(d, ignore_errors=True)
                removed += 1
        except OSError:
            pass
    return removed


def export_folder(prefix: str) -> Path:
    """A fresh folder under ``EXPORT_ROOT`` for one download, every tab's, after sweeping out
    the old ones."""
    sweep_folders(EXPORT_ROOT)
    EXPORT_ROOT.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=EXPORT_ROOT))


def export_zip(result: dict | None, words: bool = False, hashes: dict[str, str] | None = None) -> str:
    """Write ``attention-<slug>-<pieces|words>.zip`` (attention.json, the figure of all maps as PNG
    and SVG, and per variant with attention its PNG and CSV) into a fresh temp dir; returns its path."""
    if not result:
        raise error("Nothing to export yet: translate a sentence first.")
    views = compute_views(result, words)                 # once, for the JSON, the maps and the CSV
    name = f"attention-{slug(result['text'])}-{unit(words)}"
    path = export_folder("export-") / f"{name}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("attention.json", json.dumps(export_data(result, words, hashes, views), ensure_ascii=False,
                                                indent=1))
        for v, pic in heatmaps(result, words, views=views).items():
            m, rows, cols = views[v]
            z.writestr(png_name(v, words, result["text"]), plots.png_bytes(pic.pixels))
            z.writestr(f"attention-{slug(result['text'])}-{v}-{unit(words)}.csv", matrix_csv(rows, cols, m))
        fig = plots.comparison_figure(result["text"], _panels(result, words, views))
        for fmt in ("png", "svg"):
            z.writestr(f"{name}-figure.{fmt}", plots.figure_bytes(fig, fmt))
    return str(path)


def _panels(result: dict, words: bool, views: dict[str, tuple]) -> list[tuple]:
    """(variant, translation, α or None, row labels, column labels) of each variant shown."""
    out = []
    for v, e in result["variants"].items():
        if "hypotheses" in e:
            m, rows, cols = views[v]
            out.append((v, e["hypotheses"][0]["text"], m, shown_labels(rows, words), shown_labels(cols, words)))
    return out


def export_figure(result: dict | None, words: bool = False) -> list[str]:
    """One figure with every selected map, the sentence and the translations, as
    ``attention-<slug>-<unit>-figure.png`` and ``.svg`` in a fresh temp dir; returns both paths."""
    if not result:
        raise error("Nothing to draw yet: translate a sentence first.")
    fig = plots.comparison_figure(result["text"], _panels(result, words, compute_views(result, words)))
    d, paths = export_folder("figure-"), []
    for fmt in ("png", "svg"):
        p = d / f"attention-{slug(result['text'])}-{unit(words)}-figure.{fmt}"
        p.write_bytes(plots.figure_bytes(fig, fmt))
        paths.append(str(p))
    return paths
