"""Which folder of models the page serves, and what the page calls its languages.

``python app.py --assets DIR`` (or ``SEQ2SEQ_ASSETS=DIR``, for a Space) serves the variants that
``DIR`` holds, as ``python -m seq2seq prepare/train/evaluate --assets DIR`` write them: ``spm.model``,
``models/``, ``cards/`` and ``manifest.json``. The page's examples and language names come from

1. ``DIR/examples.tsv``, if present: one ``source<TAB>reference`` pair a line, and two optional
   header lines ``# source: French`` and ``# target: English``;
2. else, for a folder whose tokenizer is the shipped one, the shipped examples (``demo/examples.tsv``);
3. the languages, where no examples file names them, from the cards' ``task``
   ("German → English translation"; a folder without cards and with the shipped tokenizer reads
   the shipped cards'), else plain "Source" and "Target".
"""
from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from seq2seq import checkpoint as ckpt

ENV = "SEQ2SEQ_ASSETS"
EXAMPLES_NAME = "examples.tsv"
SHIPPED_EXAMPLES = Path(__file__).with_name("examples.tsv")
MAX_EXAMPLES = 100            # a page of 10 at a time; more would only slow the page's start
_TASK = re.compile(r"(.+?) → (.+?) translation")
_HEADER = re.compile(r"#\s*(source|target)\s*:\s*(.+)", re.IGNORECASE)


def assets_from(argv: list[str], environ=os.environ) -> Path:
    """The folder to serve: ``--assets DIR``, else ``$SEQ2SEQ_ASSETS``, else the shipped ``assets/``."""
    p = argparse.ArgumentParser(prog="python app.py", description="Serve the attention explorer.")
    p.add_argument("--assets", metavar="DIR", default=environ.get(ENV) or str(ckpt.ASSETS),
                   help=f"folder of models to serve (default: ${ENV}, else the shipped assets/)")
    folder = Path(p.parse_args(argv).assets)
    if not folder.is_dir():
        p.error(f"{folder} is not a folder (given by --assets or ${ENV})")
    return folder


@dataclass(frozen=True)
class PageText:
    source: str = "Source"                # language names, as the page's labels show them
    target: str = "Target"
    examples: list[tuple[str, str]] = field(default_factory=list)   # (source, reference)


def has_shipped_tokenizer(assets: Path) -> bool:
    tok, shipped = Path(assets) / ckpt.TOKENIZER_FILE, ckpt.ASSETS / ckpt.TOKENIZER_FILE
    try:
        return tok.resolve() == shipped.resolve() or ckpt.sha256_file(tok) == ckpt.sha256_file(shipped)
    except OSError:
        return False


@lru_cache(maxsize=8)
def examples_file(assets: Path) -> Path | None:
    own = Path(assets) / EXAMPLES_NAME
    if own.is_file():
        return own
    return SHIPPED_EXAMPLES if has_shipped_tokenizer(assets) else None


def read_examples(path: Path | None) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(source, reference) pairs and the header's language names; nothing for a missing or
    unreadable file (the page then shows no examples rather than not starting)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines() if path else []
    except (OSError, ValueError):
        return [], {}
    pairs, names = [], {}
    for line in lines:
        header = _HEADER.fullmatch(line.strip())
        if header:
            names[header.group(1).lower()] = header.group(2).strip()[:40]
        elif line.strip() and not line.startswith("#") and len(pairs) < MAX_EXAMPLES:
            src, _, ref = line.partition("\t")
            if src.strip():
                pairs.append((src.strip(), ref.strip()))
    return pairs, names


def card_languages(assets: Path) -> dict[str, str]:
    for card in sorted((Path(assets) / "cards").glob("*.json")):
        try:
            task = json.loads(card.read_text(encoding="utf-8")).get("task")
        except (OSError, ValueError, AttributeError):
            continue
        m = _TASK.fullmatch(task) if isinstance(task, str) else None
        if m:
            return {"source": m.group(1), "target": m.group(2)}
    return {}


def page_text(assets: Path) -> PageText:
    examples, names = read_examples(examples_file(assets))
    if not {"source", "target"} <= set(names):
        cards = card_languages(assets) or (card_languages(ckpt.ASSETS) if has_shipped_tokenizer(assets) else {})
        names = {**cards, **names}
    return PageText(names.get("source", PageText.source), names.get("target", PageText.target), examples)
