"""The page's state: the models loaded once, and one request's result as plain data.

* ``load_translator``   load the shipped models once (degrading per variant)
* ``error``, ``refused``  a message for the page as ``gr.Error``; the library's input error as one
* ``shows_refusal``     a handler whose refused input shows one line and hides the stale results
* ``translate``         text and settings → a result dict, kept in the page's ``gr.State``

A result is ``{"text", "source_pieces", "settings", "notes", "reference", "variants": {name:
entry}}`` where an entry is ``{"missing": message}`` or ``{"hypotheses": [{"text", "pieces",
"logprob", "score", "logprobs", "attention" (T×S float32 or None), "heads" (T×k×S float32 or
None), "candidates" (``Candidates``: per step, a list of (piece, p))}]}``. The views (``demo/views.py``) and export
(``demo/export.py``) read nothing else.
"""
from __future__ import annotations

import functools
import inspect
import json
import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np

from seq2seq import checkpoint as ckpt
from seq2seq.attention import VARIANTS
from seq2seq.tokenizer import DEFAULT_DIRECTION, EOS_ID
from seq2seq.translator import DEFAULT_TEMPERATURE, InputError, Translator, check_variant

from . import model_folder

EXAMPLES_FILE = Path(__file__).with_name("examples.tsv")            # hard cases, from the Ding test split
TRY_FILE = Path(__file__).with_name("examples_try.tsv")             # everyday sentences the project wrote
EVERYDAY_FILE = Path(__file__).with_name("examples_everyday.tsv")   # German and English, written too: en-de's row
HALF = True               # the page decodes one sentence at a time: fp16 is faster then (see Translator)
FILLED_UNKNOWN_NOTE = ("Where a model wrote the unknown piece <unk>, its translation shows instead the source "
                       "piece that step attended to most (argmax of α_t), as attention-based translators do for "
                       "names; the none variant has no attention, so its <unk> are left out.")
NO_MODELS = "No models are loaded, so nothing can be translated (see the message at the top)."


def error(message: str) -> gr.Error:
    """The one way a handler stops with a message for the page (no traceback in the log)."""
    return gr.Error(message, print_exception=False)


@contextmanager
def refused():
    """The one place where the library's input error becomes Gradio's: ``gr.Error`` with the
    library's message (the API shows it; the page shows it with ``shows_refusal``)."""
    try:
        yield
    except InputError as exc:
        raise error(str(exc)) from None


def refusal(message: str) -> dict:
    """A refused input as every tab shows it: one line in the tab's message box."""
    from .about import md_escape

    return gr.update(value=f"⚠️ **{md_escape(message)}**", visible=True)


def shows_refusal(handler, message, hide=(), clear=()):
    """``handler`` (returns, or as a generator yields, dicts keyed by component) as an event handler
    for which a refused input (``gr.Error``, or the library's ``InputError``) is one line in the
    ``message`` Markdown: the blocks in ``hide`` are hidden and the components in ``clear`` emptied,
    so no stale result stays up, and since nothing is raised Gradio puts up no error badge or
    toast. On success the message goes and ``hide`` shows again. Outputs: ``[message, *hide,
    *clear]`` and the handler's."""
    def refusing(exc: gr.Error) -> dict:
        return {message: refusal(exc.message), **{b: gr.update(visible=False) for b in hide},
                **{c: None for c in clear}}

    def showing(out: dict) -> dict:
        return {message: gr.update(value="", visible=False), **{b: gr.update(visible=True) for b in hide}, **out}

    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)      # Gradio reads the signature (gr.Request, gr.SelectData)
        def run_all(*args, **kwargs):
            try:
                with refused():
                    for out in handler(*args, **kwargs):
                        yield showing(out)
            except gr.Error as exc:
                yield refusing(exc)

        return run_all

    @functools.wraps(handler)
    def run(*args, **kwargs):
        try:
            with refused():
                return showing(handler(*args, **kwargs))
        except gr.Error as exc:
            return refusing(exc)

    return run


def load_examples(path: Path = EXAMPLES_FILE) -> list[tuple[str, str]]:
    """(German source, English reference) pairs from the test split; [] if the file is absent."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    pairs = []
    for line in lines:
        if line.strip() and not line.startswith("#"):
            src, _, ref = line.partition("\t")
            pairs.append((src.strip(), ref.strip()))
    return pairs


def load_try_examples(path: Path = TRY_FILE) -> list[tuple[str, list[str]]]:
    """(German sentence, [English translations counted as right]) of the "Try these" row."""
    return [(src, [r.strip() for r in refs.split("|") if r.strip()]) for src, refs in load_examples(path)]


@lru_cache(maxsize=4)
def references(path: Path | None = EXAMPLES_FILE, direction: str = DEFAULT_DIRECTION) -> dict[str, str]:
    """Each example's reference by its source text, for the examples file of a served folder;
    English → German reads the file's pairs the other way."""
    pairs = model_folder.read_examples(path)[0]
    return dict(pairs if direction == DEFAULT_DIRECTION else [(ref, src) for src, ref in pairs])


def direction_examples(direction: str, hard_cases: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """The two example rows for a direction: sentences the project wrote ("Try these"), and the
    hard cases from the Ding test split (the served folder's pairs, read the other way for en-de)."""
    if direction == DEFAULT_DIRECTION:
        return [s for s, _ in load_try_examples()], [s for s, _ in hard_cases]
    return [en for _, en in load_examples(EVERYDAY_FILE)], [ref for _, ref in hard_cases if ref]


def load_translator(assets: Path = ckpt.ASSETS) -> tuple[Translator | None, dict[str, str], str | None]:
    """Load every variant of a folder once. Returns (translator, {variant: problem}, fatal problem).

    A variant whose files are absent, corrupt or foreign (another model, another tokenizer's) is
    left out with a message that names the file relative to ``assets``; only an unusable
    tokenizer leaves no translator at all.
    """
    assets = Path(assets)
    errors = (ckpt.CheckpointError, FileNotFoundError, ValueError, OSError)
    problems: dict[str, str] = {}
    for v in VARIANTS:
        weights, _ = ckpt.model_paths(v, assets)
        if not weights.exists():
            problems[v] = f"The {v} model is not installed (no {weights.name} in the assets folder)."
    try:
        return Translator(assets, half=HALF), problems, None
    except errors as exc:
        first = relative_message(exc, assets)
    ok = []
    for v in VARIANTS:
        if v in problems:
            continue
        try:
            Translator(assets, [v])
            ok.append(v)
        except errors as exc:
            problems[v] = f"The {v} model could not be loaded: {relative_message(exc, assets)}"
    if not ok:
        try:
            return Translator(assets, [], half=HALF), problems, None if problems else first
        except errors as exc:
            return None, problems, f"The models could not be loaded: {relative_message(exc, assets)}"
    return Translator(assets, ok, half=HALF), problems, None


def relative_message(exc: Exception, assets: Path) -> str:
    """The library names files by full path (right for the command line); the page names them
    relative to the folder it serves, so no machine's folders show on a public page."""
    prefixes = {str(assets.resolve()), str(assets.absolute())} | ({str(assets)} if str(assets) != "." else set())
    pattern = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
    return re.sub(rf"(?<![\w./-])(?:{pattern})/", "", str(exc))


def model_hashes(assets: Path = ckpt.ASSETS) -> dict[str, str]:
    """sha256 of each variant's weights, from the manifest they were verified against at loading."""
    try:
        manifest = json.loads((Path(assets) / ckpt.MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return {Path(rel).stem: sha for rel, sha in manifest.items() if rel.endswith(".safetensors")}


def available(tr: Translator | None) -> list[str]:
    return [] if tr is None else [v for v in VARIANTS if v in tr.variants]


def directions(tr: Translator | None) -> tuple[str, ...]:
    """What the page may offer: the served models' directions (German → English without models)."""
    return (DEFAULT_DIRECTION,) if tr is None else tr.directions


@lru_cache(maxsize=4)
def piece_table(tok) -> tuple[str, ...]:
    """Every piece of a tokenizer by id, "</s>" for end of sentence: one string object per piece."""
    pieces = tok.pieces(list(range(tok.vocab_size)))
    return tuple("</s>" if i == EOS_ID else p for i, p in enumerate(pieces))


class Candidates:
    """Each step's top-k as a list of (piece, p), held as two small arrays: a session keeps
    its result for an hour, and as Python tuples of strings and floats the candidates were most
    of the memory of a large result."""
    __slots__ = ("ids", "probs", "table")

    def __init__(self, steps: list[list[tuple[int, float]]], table: tuple[str, ...]):
        k = min((len(s) for s in steps), default=0)
        self.ids = np.array([[i for i, _ in s[:k]] for s in steps], np.int32).reshape(len(steps), k)
        self.probs = np.array([[p for _, p in s[:k]] for s in steps], np.float32).reshape(len(steps), k)
        self.table = table

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, t: int) -> list[tuple[str, float]]:
        return [(self.table[i], float(p)) for i, p in zip(self.ids[t].tolist(), self.probs[t].tolist())]

    def __iter__(self):
        return (self[t] for t in range(len(self)))


def translate(tr: Translator | None, text, variants, method="greedy", beam=5, n_best=1,
              temperature=DEFAULT_TEMPERATURE, seed=0, direction=DEFAULT_DIRECTION) -> dict:
    """Translate with each chosen variant (the library checks everything); raises ``gr.Error``."""
    if tr is None:
        raise error(NO_MODELS)
    with refused():
        c = tr.translate_many(text, variants, method, beam, n_best, temperature, seed,
                              DEFAULT_DIRECTION if direction is None else direction)

    table = piece_table(tr.tok)
    entries = {}
    for v in (v for v in VARIANTS if v in c.translations or v in c.missing):
        if v in c.missing:
            entries[v] = {"missing": c.missing[v]}
            continue
        t = c.translations[v]
        entries[v] = {"hypotheses": [{
            "text": out,
            "pieces": list(pieces),
            "logprob": h.logprob,
            "score": float(h.score),
            "logprobs": [float(x) for x in h.logprobs],
            "attention": None if h.heads is None else np.asarray(h.attention, np.float32),
            "heads": None if h.heads is None else np.asarray(h.heads, np.float32),
            "candidates": Candidates(h.candidates, table),
        } for h, pieces, out in zip(t.hypotheses, t.target_pieces, t.texts)]}
    notes = list(c.source.notes) + ([FILLED_UNKNOWN_NOTE] if c.fills_unknown else [])
    return {"text": c.source.text, "source_pieces": c.source.pieces, "settings": c.settings.as_dict(),
            "direction": c.source.direction, "suggested_direction": c.source.suggested_direction,
            "notes": notes, "reference": references(model_folder.examples_file(tr.assets), c.source.direction).get(c.source.text), "variants": entries}


DEFAULT_API_VARIANT = "additive"
RESULT_TTL_S = 3600      # a session's last result (words toggle, export, the question tab) lives this long


def translate_api(tr: Translator | None, text, variant=DEFAULT_API_VARIANT, method="greedy", beam=5,
                  temperature=DEFAULT_TEMPERATURE, seed=0, direction=DEFAULT_DIRECTION) -> dict:
    """One variant, best hypothesis: translation, tokens and the attention matrix (T×S) as JSON."""
    if variant is None:
        raise error("No variant was given; choose from " + ", ".join(VARIANTS) + ".")
    with refused():
        check_variant(variant)
    result = translate(tr, text, [variant], method or "greedy", beam, 1, temperature, seed, direction)
    e = result["variants"][variant]
    if "missing" in e:
        raise error(e["missing"])
    h = e["hypotheses"][0]
    return {"variant": variant, "direction": result["direction"], "translation": h["text"],
            "source_tokens": result["source_pieces"],
            "target_tokens": h["pieces"], "logprob": h["logprob"], "score": h["score"],
            "attention": None if h["attention"] is None else np.round(h["attention"].astype(np.float64), 6).tolist(),
            "decoding": result["settings"]}
