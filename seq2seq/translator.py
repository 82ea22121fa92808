"""The entry point for applications: load the shipped models once, check user
text, translate it with any variant and decoding method, and return pieces,
log-probabilities and attention. The CLI and the web demo both go through here.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import torch

from . import checkpoint as ckpt
from .attention import VARIANTS
from .search import Hypothesis, beam_search, greedy, sample
from .tokenizer import EOS_ID, SPECIAL_IDS, UNK_ID, Tokenizer

# Limits on user input, enforced on the server (one source of truth).
MAX_CHARS = 500          # characters, checked before tokenising
MAX_PIECES = 120         # sentencepiece pieces, checked after
MAX_OUTPUT = 150         # output pieces per hypothesis
MAX_BEAM = 10
METHODS = ("greedy", "beam", "sample")


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
        raise InputError(f"Unknown variant {name!r}; choose from {', '.join(VARIANTS)}.")
    return name


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
class Translation:
    variant: str
    source_pieces: list[str]         # an unknown piece reads as the text it stands for
    hypotheses: list[Hypothesis]
    target_pieces: list[list[str]]   # per hypothesis, EOS shown as "</s>"
    texts: list[str]                 # per hypothesis, detokenised, unknown pieces filled in (fill_unknown)

    @property
    def best(self) -> Hypothesis:
        return self.hypotheses[0]


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

    def _pieces(self, ids: list[int]) -> list[str]:
        return ["</s>" if i == EOS_ID else p for i, p in zip(ids, self.tok.pieces(ids))]

    @torch.no_grad()
    def translate(self, text, variant: str, method: str = "greedy", beam: int = 5, n_best: int = 1,
                  temperature: float = 1.0, top_k: int = 0, seed: int = 0) -> Translation:
        text = clean_input(text)
        check_variant(variant)
        if variant not in self.models:
            raise InputError(f"The {variant!r} model is not installed.")
        if method not in METHODS:
            raise InputError(f"Unknown decoding method {method!r}; choose from {', '.join(METHODS)}.")
        ids = self.source_ids(text)
        model = self.models[variant]
        if method == "beam":
            if not 1 <= int(beam) <= MAX_BEAM:
                raise InputError(f"Beam width must be between 1 and {MAX_BEAM}.")
            hyps = beam_search(model, ids, beam=int(beam), n_best=max(1, int(n_best)), max_len=MAX_OUTPUT)
        elif method == "sample":
            if not 0 < float(temperature) <= 10:
                raise InputError("Temperature must be in (0, 10].")
            hyps = sample(model, [ids], temperature=float(temperature), top_k=int(top_k), seed=int(seed),
                          max_len=MAX_OUTPUT)
        else:
            hyps = greedy(model, [ids], max_len=MAX_OUTPUT)
        source = self.tok.text_pieces(text)
        return Translation(variant, source, hyps, [self._pieces(h.tokens) for h in hyps],
                           [fill_unknown(h.tokens, h.attention, source, self.tok) for h in hyps])
