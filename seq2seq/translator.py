"""The entry point for applications: load the shipped models once, check user
text, translate it with any variant and decoding method, and return pieces,
log-probabilities and attention. The CLI and the web demo both go through here.
"""
from __future__ import annotations

import math
import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from . import checkpoint as ckpt
from .attention import VARIANTS
from .search import Hypothesis, beam_search, greedy, sample
from .tokenizer import EOS_ID, SPECIAL_IDS, UNK_ID, Tokenizer

# Limits on user input, enforced here for the CLI, the page and the API alike (one source of truth).
MAX_CHARS = 500          # characters, checked before tokenising
MAX_PIECES = 120         # sentencepiece pieces, checked after
MAX_OUTPUT = 150         # output pieces per hypothesis
MAX_BEAM = 10
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-3, 10.0
DEFAULT_TEMPERATURE = 0.3    # chosen on dev: scripts/choose_temperature.py
MAX_SEED = 2**31 - 1
METHODS = ("greedy", "beam", "sample")
WORKERS = min(2, os.cpu_count() or 1)   # variants decoded side by side in ``translate_many``


class InputError(ValueError):
    """User input that cannot be translated; the message is safe to show."""


def clean_input(text) -> str:
    """Validate and normalise user text, or raise InputError with a clear message.

    Control and format characters become spaces, lone surrogates are refused,
    and the text is NFC-normalised. Emoji and right-to-left scripts pass through
    (they become unknown pieces).
    """
    if text is None:
        raise InputError("No text was given. Type a German sentence.")
    if not isinstance(text, str):
        raise InputError(f"Text must be a string, not {type(text).__name__}.")
    if len(text) > MAX_CHARS:
        raise InputError(f"The text is {len(text)} characters long; the limit is {MAX_CHARS}.")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise InputError("The text contains invalid Unicode (a lone surrogate).")
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    text = " ".join(unicodedata.normalize("NFC", text).split())
    if not text:
        raise InputError("The text is empty. Type a German sentence.")
    return text


def check_variant(name) -> str:
    if not isinstance(name, str) or name not in VARIANTS:
        raise InputError(f"Unknown variant {_shown(name)}; choose from {', '.join(VARIANTS)}.")
    return name


def check_variants(names) -> list[str]:
    """The chosen variant names in the order of ``VARIANTS``; a single name counts as a list of one."""
    if names is None:
        raise InputError("No variants were given; choose at least one of " + ", ".join(VARIANTS) + ".")
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)):
        raise InputError("Variants must be a list of names.")
    for name in names:
        check_variant(name)
    chosen = [v for v in VARIANTS if v in names]
    if not chosen:
        raise InputError("Choose at least one variant.")
    return chosen


def _shown(value, limit: int = 40) -> str:
    """``repr`` for a message, bounded (a message may quote what a client sent)."""
    r = repr(value) if not isinstance(value, int) or abs(value) < 10**12 else f"an integer of {len(str(abs(value)))} digits"
    return r if len(r) <= limit else r[: limit - 1] + "…"


def _number(value, name: str, lo: float, hi: float, integer: bool = False):
    """``value`` as a number in [lo, hi] (rounded for ``integer``), or InputError. Booleans,
    strings, None, containers, NaN, infinities and integers beyond float range are refused
    with the same message as any other number out of range."""
    bounds = (f"{int(lo):,}", f"{int(hi):,}") if integer else (f"{lo:g}", f"{hi:g}")
    message = f"{name} must be a number between {bounds[0]} and {bounds[1]}."
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise InputError(message)
    if isinstance(value, int) and not lo <= value <= hi:      # also integers no float can hold
        raise InputError(message)
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(message) from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise InputError(message)
    return int(round(x)) if integer else x


@dataclass(frozen=True)
class DecodingSettings:
    """How to decode, validated: build it with ``DecodingSettings.check(...)``.

    Only what the method uses is kept; the rest stays at its default, so two
    settings that decode alike compare equal. ``n_best`` is capped at ``beam``."""
    method: str = "greedy"
    beam: int = 5
    n_best: int = 1
    temperature: float = DEFAULT_TEMPERATURE
    seed: int = 0

    @classmethod
    def check(cls, method="greedy", beam=5, n_best=1, temperature=DEFAULT_TEMPERATURE, seed=0) -> "DecodingSettings":
        if not isinstance(method, str) or method not in METHODS:
            raise InputError(f"Unknown decoding method {_shown(method)}; choose from {', '.join(METHODS)}.")
        if method == "beam":
            width = _number(beam, "Beam width", 1, MAX_BEAM, integer=True)
            return cls("beam", beam=width, n_best=min(_number(n_best, "n-best", 1, MAX_BEAM, integer=True), width))
        if method == "sample":
            return cls("sample", temperature=_number(temperature, "Temperature", MIN_TEMPERATURE, MAX_TEMPERATURE),
                       seed=_number(seed, "Seed", 0, MAX_SEED, integer=True))
        return cls("greedy")

    def as_dict(self) -> dict:
        """What a result reports: the method and the settings it used."""
        keep = {"greedy": (), "beam": ("beam", "n_best"), "sample": ("temperature", "seed")}[self.method]
        return {"method": self.method, **{k: v for k, v in asdict(self).items() if k in keep}}


def fills_unknown(ids: list[int], attention) -> bool:
    """Whether ``fill_unknown`` replaces anything: an unknown piece, and attention to copy by."""
    return attention is not None and UNK_ID in ids


def fill_unknown(ids: list[int], attention, source_pieces: list[str], tok: Tokenizer) -> str:
    """Detokenised output in which each unknown piece (``<unk>``) becomes the source piece that
    its step attended to most, argmax_i α_{t,i}: the classic unknown-word replacement, which
    copies names and other words the vocabulary lacks (東京 → 東京). Without attention
    (``None``) or without unknown pieces this is ``tok.decode(ids)``.

    ids (T,) output ids; attention (T, S); source_pieces (S,), from ``tok.text_pieces``."""
    if not fills_unknown(ids, attention):
        return tok.decode(ids)
    out = []
    for t, (i, piece) in enumerate(zip(ids, tok.pieces(ids))):
        if i == UNK_ID:
            out.append(source_pieces[int(attention[t].argmax())].replace("▁", ""))
        elif i not in SPECIAL_IDS:                       # as decode: no <s>, </s>, <pad>
            out.append(piece)
    return " ".join("".join(out).replace("▁", " ").split())


@dataclass
class Source:
    """User text, cleaned and tokenised once (``Translator.prepare``)."""
    text: str                        # as cleaned: NFC, control characters as spaces, whitespace collapsed
    ids: list[int]
    pieces: list[str]                # an unknown piece reads as the text it stands for
    unknown: list[str]               # characters the vocabulary lacks, in typed order, each once
    notes: list[str] = field(default_factory=list)   # what the cleaning changed or the models cannot read


@dataclass
class Translation:
    variant: str
    source_pieces: list[str]         # an unknown piece reads as the text it stands for
    hypotheses: list[Hypothesis]
    target_pieces: list[list[str]]   # per hypothesis, EOS shown as "</s>"
    texts: list[str]                 # per hypothesis, detokenised, unknown pieces filled in (fill_unknown)

    @property
    def best(self) -> Hypothesis:
        return self.hypotheses[0]


@dataclass
class Comparison:
    """One text translated by several variants with the same settings."""
    source: Source
    settings: DecodingSettings
    translations: dict[str, Translation]     # in the order of VARIANTS
    missing: dict[str, str]                  # chosen variants that are not installed: why

    @property
    def fills_unknown(self) -> bool:
        return any(fills_unknown(h.tokens, h.attention) for t in self.translations.values() for h in t.hypotheses)


def unknown_note(chars: list[str]) -> str:
    """Why these characters became unknown pieces, naming them in typed order."""
    shown = " ".join(chars[:12]) + (" …" if len(chars) > 12 else "")
    symbols = [c for c in chars if c.isascii()]
    if symbols and len(symbols) == len(chars):
        why = "ASCII symbols the German–English training text never used"
    elif symbols:
        why = "symbols the training text never used, emoji or non-Latin script, all outside the German–English vocabulary"
    else:
        why = "emoji and non-Latin scripts are outside the German–English vocabulary"
    return (f"The models have never seen {shown}: each becomes the unknown piece <unk> to them, labelled here "
            f"with what you typed ({why}).")


class Translator:
    """The shipped models, loaded once.

    ``half=True`` decodes in fp16, the precision the weights are shipped in. One
    sentence at a time, a decoder step is a handful of matrix–vector products
    that stream every weight from memory, so on a CPU fp16 runs about twice as
    fast; for large batches fp32 is faster, which is why batch translation and
    evaluation keep fp32. The two can differ on rare near-ties.
    """

    def __init__(self, assets: Path = ckpt.ASSETS, variants: list[str] | None = None, half: bool = False):
        self.assets = Path(assets)
        tok_path = self.assets / ckpt.TOKENIZER_FILE
        ckpt.verify(tok_path, self.assets)
        self.tok = Tokenizer(tok_path)
        self.models, self.info = {}, {}
        for name in variants or list(VARIANTS):
            weights, _ = ckpt.model_paths(name, self.assets)
            if variants is None and not weights.exists():
                continue  # only the variants that were shipped
            self.models[name], self.info[name] = ckpt.load_variant(name, self.assets)
            if half:
                self.models[name].half()

    @property
    def variants(self) -> list[str]:
        return list(self.models)

    def source_ids(self, text: str) -> list[int]:
        ids = self.tok.encode(text)
        if len(ids) > MAX_PIECES:
            raise InputError(f"The text has {len(ids)} pieces after tokenising; the limit is {MAX_PIECES}.")
        if not ids:
            raise InputError("The text is empty after tokenising.")
        return ids

    def prepare(self, text) -> Source:
        """Clean, check and tokenise user text once, with notes on what the models cannot read."""
        cleaned = clean_input(text)
        ids = self.source_ids(cleaned)
        notes = []
        if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") and c not in "\t\n\r" for c in text):
            notes.append("Control or invisible formatting characters were replaced by spaces.")
        unknown = []
        if UNK_ID in ids:
            unknown = list(dict.fromkeys(c for c in cleaned if c.strip() and UNK_ID in self.tok.encode(c)))
            notes.append(unknown_note(unknown) if unknown else unknown_note(["some characters"]))
        if any(unicodedata.bidirectional(c) in ("R", "AL") for c in cleaned):
            notes.append("The text contains right-to-left script; the models were trained on German only.")
        return Source(cleaned, ids, self.tok.text_pieces(cleaned), unknown, notes)

    def _pieces(self, ids: list[int]) -> list[str]:
        return ["</s>" if i == EOS_ID else p for i, p in zip(ids, self.tok.pieces(ids))]

    @torch.no_grad()
    def _decode(self, source: Source, variant: str, settings: DecodingSettings) -> Translation:
        model = self.models[variant]
        if settings.method == "beam":
            hyps = beam_search(model, source.ids, beam=settings.beam, n_best=settings.n_best, max_len=MAX_OUTPUT)
        elif settings.method == "sample":
            hyps = sample(model, [source.ids], temperature=settings.temperature, seed=settings.seed,
                          max_len=MAX_OUTPUT)
        else:
            hyps = greedy(model, [source.ids], max_len=MAX_OUTPUT)
        return Translation(variant, source.pieces, hyps, [self._pieces(h.tokens) for h in hyps],
                           [fill_unknown(h.tokens, h.attention, source.pieces, self.tok) for h in hyps])

    def translate_many(self, text, variants, method="greedy", beam=5, n_best=1, temperature=DEFAULT_TEMPERATURE,
                       seed=0) -> Comparison:
        """Check everything first, tokenise once, then decode with each chosen variant.

        The models are independent and torch releases the GIL inside its kernels, so the
        variants decode side by side on the machine's cores."""
        chosen = check_variants(variants)
        settings = (method if isinstance(method, DecodingSettings)
                    else DecodingSettings.check(method, beam, n_best, temperature, seed))
        source = self.prepare(text)
        ready = [v for v in chosen if v in self.models]
        with ThreadPoolExecutor(max_workers=max(1, min(WORKERS, len(ready)))) as pool:
            futures = {v: pool.submit(self._decode, source, v, settings) for v in ready}
        missing = {v: f"The {v} model is not installed, so it cannot translate." for v in chosen if v not in ready}
        return Comparison(source, settings, {v: futures[v].result() for v in ready}, missing)

    def translate(self, text, variant: str, method: str = "greedy", beam: int = 5, n_best: int = 1,
                  temperature: float = DEFAULT_TEMPERATURE, seed: int = 0) -> Translation:
        """One variant: ``translate_many`` for a single name; a variant that is not installed is an error."""
        check_variant(variant)
        if variant not in self.models:
            raise InputError(f"The {variant!r} model is not installed.")
        return self.translate_many(text, [variant], method, beam, n_best, temperature, seed).translations[variant]
