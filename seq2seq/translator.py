"""The entry point for applications: load the shipped models once, check user
text, translate it with any variant and decoding method, and return pieces,
log-probabilities and attention. The CLI and every tab of the web demo go through here.

Text is prepared once (``Translator.prepare`` → ``Source``; ``prepare_target`` for a
translation to force) and settings are checked once (``DecodingSettings.check``, and
``check_number`` / ``check_positions`` for everything else); then every method takes the
prepared source and raises ``InputError``, with a message safe to show, for bad input:

* ``decode``, ``translate_many``, ``translate``   translations, any decoding method
* ``score``          forced decoding: every variant on one given translation
* ``continue_from``  force a prefix, then decode freely
* ``knock_out``, ``force_alpha``, ``delete_word``   interventions, re-decoded (``Intervened``)
* ``beam_tree``      beam search with every extension it ranked (``BeamTree``)
* ``attribute``      gradient × input on the forced translation
"""
from __future__ import annotations

import math
import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import checkpoint as ckpt
from .attention import VARIANTS
from .attribution import contrastive_x_input, gradient_x_input
from .language import suggested_direction
from .search import (NO_INTERVENTION, BeamNode, Hypothesis, Intervention, beam_search, beam_tree, continue_decode,
                     force_decode, greedy, node_path, sample)
from .tokenizer import (DEFAULT_DIRECTION, DIRECTIONS, EOS_ID, SPECIAL_IDS, UNK_ID, Tokenizer, word_groups,
                        words_from_pieces)

LANGUAGES = {"de": "German", "en": "English"}
ENDONYMS = {"de": "Deutsch", "en": "English"}       # how the direction switch names each language

# Limits on user input, enforced here for the CLI, the page and the API alike (one source of truth).
MAX_CHARS = 500          # characters, checked before tokenising
MAX_PIECES = 120         # sentencepiece pieces, checked after
MAX_OUTPUT = 150         # output pieces per hypothesis
MAX_BEAM = 10
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-3, 10.0
DEFAULT_TEMPERATURE = 0.3    # chosen on dev: scripts/choose_temperature.py
MAX_SEED = 2**31 - 1
METHODS = ("greedy", "beam", "sample")
WORKERS = min(2, os.cpu_count() or 1)   # variants decoded side by side (``Translator.each``)


class InputError(ValueError):
    """User input that cannot be translated; the message is safe to show."""


def direction_name(direction: str) -> str:
    """"German → English" for "de-en"."""
    src, tgt = direction.split("-")
    return f"{LANGUAGES.get(src, src)} → {LANGUAGES.get(tgt, tgt)}"


def direction_label(direction: str) -> str:
    """"Deutsch → English" for "de-en": each language by its own name, as a switch shows it."""
    src, tgt = direction.split("-")
    return f"{ENDONYMS.get(src, src)} → {ENDONYMS.get(tgt, tgt)}"


def check_direction(value, supported: tuple[str, ...] = DIRECTIONS) -> str:
    """A direction these models translate, or InputError naming what they do translate."""
    if not isinstance(value, str) or value not in DIRECTIONS:
        raise InputError(f"Unknown direction {_shown(value)}; choose from {', '.join(DIRECTIONS)}.")
    if value not in supported:
        raise InputError(f"The installed models translate {' and '.join(map(direction_name, supported))} "
                         f"only, not {direction_name(value)}.")
    return value


def _a(word: str) -> str:
    return ("an " if word[:1] in "AEIOU" else "a ") + word


def clean_input(text, language: str = "German") -> str:
    """Validate and normalise user text, or raise InputError with a clear message.

    Control and format characters become spaces, lone surrogates are refused,
    and the text is NFC-normalised. Emoji and right-to-left scripts pass through
    (they become unknown pieces).
    """
    if text is None:
        raise InputError(f"No text was given. Type {_a(language)} sentence.")
    if not isinstance(text, str):
        raise InputError(f"Text must be a string, not {type(text).__name__}.")
    if len(text) > MAX_CHARS:
        raise InputError(f"The text is {len(text)} characters long; the limit is {MAX_CHARS}.")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise InputError("The text contains invalid Unicode (a lone surrogate).")
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    text = " ".join(unicodedata.normalize("NFC", text).split())
    if not text:
        raise InputError(f"The text is empty. Type {_a(language)} sentence.")
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


def check_number(value, name: str, lo: float, hi: float, integer: bool = False):
    """``value`` as a number in [lo, hi], or InputError: the one number check of the library, for
    the CLI, every tab of the page and the API. With ``integer`` it must be whole (7.0 is 7; 7.5 is
    refused). Booleans, strings, None, containers, NaN, infinities and integers beyond float range
    are refused with the same message as any number out of range."""
    bounds = (f"{int(lo):,}", f"{int(hi):,}") if integer else (f"{lo:g}", f"{hi:g}")
    message = f"{name} must be a number between {bounds[0]} and {bounds[1]}{' (a whole number)' if integer else ''}."
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise InputError(message)
    if isinstance(value, int) and not lo <= value <= hi:      # also integers no float can hold
        raise InputError(message)
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(message) from None
    if not math.isfinite(x) or not lo <= x <= hi or integer and x != int(x):
        raise InputError(message)
    return int(x) if integer else x


def check_positions(value, n: int, what: str) -> list[int]:
    """Positions chosen from a list of ``n`` (a piece, a word), counted from 0: one or several
    whole numbers, each at most once, in order; None is none. ``what`` names one ("Source piece")."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        value = [value]
    if len(value) > n:
        raise InputError(f"{len(value)} positions were given; the source has {n}.")
    out = set()
    for x in value:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x != int(x):
            raise InputError(f"{what} must be given by position; {_shown(x)} is not one.")
        if not 0 <= x < n:
            raise InputError(f"{what} {int(x) + 1} does not exist: the source has {n}.")
        out.add(int(x))
    return sorted(out)


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
            width = check_number(beam, "Beam width", 1, MAX_BEAM, integer=True)
            return cls("beam", beam=width, n_best=min(check_number(n_best, "n-best", 1, MAX_BEAM, integer=True), width))
        if method == "sample":
            return cls("sample", temperature=check_number(temperature, "Temperature", MIN_TEMPERATURE, MAX_TEMPERATURE),
                       seed=check_number(seed, "Seed", 0, MAX_SEED, integer=True))
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
    ids: list[int]                   # a two-direction model's start with the target-language tag
    pieces: list[str]                # one per id; an unknown piece reads as the text it stands for
    unknown: list[str]               # characters the vocabulary lacks, in typed order, each once
    notes: list[str] = field(default_factory=list)   # what the cleaning changed or the models cannot read
    direction: str = DEFAULT_DIRECTION
    suggested_direction: str | None = None   # the text is plainly in the target language: offer this one
    tags: int = 0                    # leading ids that are direction tags, not text

    @property
    def words(self) -> list[list[int]]:
        """Piece positions of each word of the text (the tag, if any, is no word)."""
        return [[self.tags + i for i in g] for g in word_groups(self.pieces[self.tags:])]


@dataclass
class Translation:
    variant: str
    source_pieces: list[str]         # an unknown piece reads as the text it stands for
    hypotheses: list[Hypothesis]
    target_pieces: list[list[str]]   # per hypothesis, EOS shown as "</s>"
    texts: list[str]                 # per hypothesis, detokenised, unknown pieces filled in (fill_unknown)
    forced: int = 0                  # how many leading tokens were given (forced decoding), not chosen

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


@dataclass
class Intervened:
    """One variant's own greedy translation before and after a change to its attention or its
    input (``Translator.knock_out``, ``force_alpha``, ``delete_word``)."""
    variant: str
    before: Translation              # greedy on the unchanged source
    after: Translation | None        # greedy under the change; None: no attention to change (``none``)
    delta: np.ndarray | None         # (T,) log p of ``before``'s tokens under the change, minus without it


@dataclass
class BeamTree:
    """Beam search for one sentence with every extension it ranked (``Translator.beam_tree``)."""
    variant: str
    settings: DecodingSettings
    source: Source
    best: Translation                # the n-best, as ``translate`` returns them
    nodes: list[BeamNode]            # nodes[0] is the root
    pieces: list[str]                # per node: its token's piece, "<s>" for the root
    paths: list[str]                 # per node: the text from the root to it
    candidates: list[list[tuple[str, float]]]   # per node: the parent's top-5 (piece, p) at its step


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
            self._check_tokenizer(name, weights, tok_path)
            if half:
                self.models[name].half()

    def _check_tokenizer(self, name: str, weights: Path, tok_path: Path) -> None:
        """A model from another folder would read this tokenizer's ids as other pieces: refuse it
        (by its vocabulary size, and by the tokenizer's sha256 where its config records one)."""
        vocab = self.models[name].cfg.vocab_size
        recorded = (self.info[name].get("data") or {}).get("tokenizer") if isinstance(self.info[name], dict) else None
        recorded = recorded.get("sha256") if isinstance(recorded, dict) else None
        if vocab != self.tok.vocab_size or (isinstance(recorded, str) and recorded != ckpt.sha256_file(tok_path)):
            raise ckpt.CheckpointError(f"{weights} was trained with another tokenizer than {tok_path} "
                                       f"({vocab} pieces; this one has {self.tok.vocab_size})")

    @property
    def variants(self) -> list[str]:
        return list(self.models)

    @property
    def directions(self) -> tuple[str, ...]:
        """The directions every loaded model translates (those of the first direction only, if none)."""
        configs = [m.cfg.directions for m in self.models.values()] or [(DEFAULT_DIRECTION,)]
        return tuple(d for d in configs[0] if all(d in c for c in configs))

    def source_ids(self, text: str, direction: str = DEFAULT_DIRECTION) -> list[int]:
        """The ids the models read for ``text``: its pieces, opened by the direction's tag
        where the models translate several directions."""
        return self.tok.source_prefix(self.directions, check_direction(direction, self.directions)) + self._text_ids(text)

    def _text_ids(self, text: str) -> list[int]:
        ids = self.tok.encode(text)
        if len(ids) > MAX_PIECES:
            raise InputError(f"The text has {len(ids)} pieces after tokenising; the limit is {MAX_PIECES}.")
        if not ids:
            raise InputError("The text is empty after tokenising.")
        return ids

    def _read(self, text, direction: str, side: str) -> Source:
        """``text`` cleaned, checked and tokenised as the ``side`` ("source" or "target") of
        ``direction``, with notes on what the models cannot read. Only a source has the tag."""
        language = LANGUAGES.get(direction.split("-")[0 if side == "source" else 1], side)
        cleaned = clean_input(text, language)
        prefix = self.tok.source_prefix(self.directions, direction) if side == "source" else []
        ids = prefix + self._text_ids(cleaned)
        notes = []
        if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") and c not in "\t\n\r" for c in text):
            notes.append("Control or invisible formatting characters were replaced by spaces.")
        unknown = []
        if UNK_ID in ids:
            unknown = list(dict.fromkeys(c for c in cleaned if c.strip() and UNK_ID in self.tok.encode(c)))
            notes.append(unknown_note(unknown) if unknown else unknown_note(["some characters"]))
        if any(unicodedata.bidirectional(c) in ("R", "AL") for c in cleaned):
            notes.append("The text contains right-to-left script; the models were trained on German and English only.")
        return Source(cleaned, ids, self.tok.pieces(prefix) + self.tok.text_pieces(cleaned), unknown, notes,
                      direction, tags=len(prefix))

    def prepare(self, text, direction: str = DEFAULT_DIRECTION) -> Source:
        """Clean, check and tokenise user text once, with notes on what the models cannot read."""
        direction = check_direction(direction, self.directions)
        source = self._read(text, direction, "source")
        suggestion = suggested_direction(source.text, direction)
        if suggestion:
            language, other = (LANGUAGES[d.split("-")[0]] for d in (direction, suggestion))
            source.notes.append(f"This looks like {other}, but the models read it as {language} "
                                f"({direction_name(direction)})." + (
                                    f" Switch to {direction_name(suggestion)}?" if suggestion in self.directions
                                    else f" These models translate {direction_name(direction)} only."))
            source.suggested_direction = suggestion if suggestion in self.directions else None
        return source

    def prepare_target(self, text, direction: str = DEFAULT_DIRECTION) -> Source:
        """A translation to force on the models (``score``, ``continue_from``, ``attribute``),
        cleaned and checked like the source text (in the target language, with no tag), with room
        for </s> within ``MAX_OUTPUT``."""
        direction = check_direction(direction, self.directions)
        if text is None or isinstance(text, str) and not text.strip():
            raise InputError(f"No translation to force was given: type one in {LANGUAGES[direction[-2:]]}.")
        try:
            target = self._read(text, direction, "target")
        except InputError as exc:
            raise InputError(f"Translation: {exc}") from None
        if len(target.ids) + 1 > MAX_OUTPUT:
            raise InputError(f"Translation: it has {len(target.ids)} pieces; at most {MAX_OUTPUT - 1} can be forced.")
        return target

    def installed(self, variants) -> list[str]:
        """``check_variants``, each of them installed, or InputError."""
        chosen = check_variants(variants)
        for v in chosen:
            if v not in self.models:
                raise InputError(f"The {v} model is not installed.")
        return chosen

    def each(self, variants: list[str], fn) -> dict:
        """{variant: fn(variant)}, side by side: the models are independent and torch releases the
        GIL inside its kernels, so the variants run on the machine's cores at once."""
        if len(variants) <= 1:
            return {v: fn(v) for v in variants}
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(variants))) as pool:
            return dict(zip(variants, pool.map(fn, variants)))

    def detokenise(self, ids: list[int]) -> str:
        """Output ids as text (special tokens dropped)."""
        return self.tok.decode(ids)

    def _pieces(self, ids: list[int]) -> list[str]:
        return ["</s>" if i == EOS_ID else p for i, p in zip(ids, self.tok.pieces(ids))]

    def _translation(self, variant: str, source: Source, hyps: list[Hypothesis]) -> Translation:
        return Translation(variant, source.pieces, hyps, [self._pieces(h.tokens) for h in hyps],
                           [fill_unknown(h.tokens, h.attention, source.pieces, self.tok) for h in hyps])

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
        return self._translation(variant, source, hyps)

    def decode(self, source: Source, variants,
               settings: DecodingSettings = DecodingSettings()) -> dict[str, Translation]:
        """A prepared source decoded by each chosen variant, all installed, with checked settings."""
        chosen = self.installed(variants)
        _check(source, settings=settings)
        return self.each(chosen, lambda v: self._decode(source, v, settings))

    def translate_many(self, text, variants, method="greedy", beam=5, n_best=1, temperature=DEFAULT_TEMPERATURE,
                       seed=0, direction: str = DEFAULT_DIRECTION) -> Comparison:
        """Check everything first, tokenise once, then decode with each chosen variant that is
        installed (the others are reported in ``missing``)."""
        chosen = check_variants(variants)
        settings = (method if isinstance(method, DecodingSettings)
                    else DecodingSettings.check(method, beam, n_best, temperature, seed))
        source = self.prepare(text, direction)
        ready = [v for v in chosen if v in self.models]
        missing = {v: f"The {v} model is not installed, so it cannot translate." for v in chosen if v not in ready}
        return Comparison(source, settings, self.each(ready, lambda v: self._decode(source, v, settings)), missing)

    def translate(self, text, variant: str, method: str = "greedy", beam: int = 5, n_best: int = 1,
                  temperature: float = DEFAULT_TEMPERATURE, seed: int = 0, direction: str = DEFAULT_DIRECTION) -> Translation:
        """One variant: ``translate_many`` for a single name; a variant that is not installed is an error."""
        check_variant(variant)
        if variant not in self.models:
            raise InputError(f"The {variant!r} model is not installed.")
        return self.translate_many(text, [variant], method, beam, n_best, temperature, seed,
                                   direction).translations[variant]

    # ---- questions to the models: forced decoding, continuation, interventions, the beam tree ----

    @torch.no_grad()
    def score(self, source: Source, target: Source, variants) -> dict[str, Translation]:
        """Forced decoding: every chosen variant scored on the same translation ``target`` (from
        ``prepare_target``, </s> appended), with log p(y_t | y_<t, x), α and the top-5 at each step,
        so every variant's α has the same axes."""
        chosen = self.installed(variants)
        _check(source, target)
        ids, pieces = target.ids + [EOS_ID], target.pieces + ["</s>"]

        def run(v):
            return Translation(v, source.pieces, [force_decode(self.models[v], source.ids, ids)], [pieces],
                               [target.text], forced=len(ids))

        return self.each(chosen, run)

    @torch.no_grad()
    def continue_from(self, source: Source, target: Source, k, variants) -> dict[str, Translation]:
        """Force the first ``k`` pieces of ``target``, then let each variant decode the rest greedily
        (k = 0: its own greedy translation)."""
        chosen = self.installed(variants)
        _check(source, target)
        prefix = target.ids[: check_number(k, "The prefix length k", 0, len(target.ids), integer=True)]

        def run(v):
            t = self._translation(v, source, [continue_decode(self.models[v], source.ids, prefix, max_len=MAX_OUTPUT)])
            t.forced = len(prefix)
            return t

        return self.each(chosen, run)

    def knock_out(self, source: Source, variants, pieces, own: dict[str, Translation] | None = None
                  ) -> dict[str, Intervened]:
        """Mask source ``pieces`` (positions from 0) out of the softmax at every output step.
        ``own``: the variants' greedy translations of ``source`` (``decode``), if already made."""
        chosen = self.installed(variants)
        _check(source)
        out = check_positions(pieces, len(source.ids), "Source piece")
        if not out:
            raise InputError("Choose at least one source piece to knock out.")
        return self._intervene(source, chosen, Intervention(knockout=tuple(out)), own=own)

    def force_alpha(self, source: Source, variants, step, piece, own: dict[str, Translation] | None = None
                    ) -> dict[str, Intervened]:
        """Put all of step ``step``'s attention (counted from 1) on one source ``piece`` (from 0)."""
        chosen = self.installed(variants)
        _check(source)
        t = check_number(step, "The step t", 1, MAX_OUTPUT, integer=True)
        j = check_positions(piece, len(source.ids), "Source piece")
        if len(j) != 1:
            raise InputError("Choose the one source piece to force α_t onto.")
        return self._intervene(source, chosen, Intervention(force_step=t - 1, force_source=j[0]), own=own)

    def delete_word(self, source: Source, variants, word, own: dict[str, Translation] | None = None
                    ) -> dict[str, Intervened]:
        """Remove one source word's pieces (``word``: its position from 0) from the input."""
        chosen = self.installed(variants)
        _check(source)
        groups = source.words
        k = check_positions(word, len(groups), "Source word")
        if len(k) != 1:
            raise InputError("Choose the one source word to delete.")
        if len(groups) == 1:
            raise InputError("The sentence has only one word; deleting it leaves nothing to translate.")
        keep = [i for i in range(len(source.ids)) if i not in set(groups[k[0]])]
        pieces = [source.pieces[i] for i in keep]
        shorter = Source(" ".join(words_from_pieces(pieces[source.tags:])), [source.ids[i] for i in keep], pieces,
                         source.unknown, direction=source.direction, tags=source.tags)
        return self._intervene(source, chosen, NO_INTERVENTION, shorter, own)

    @torch.no_grad()
    def _intervene(self, source: Source, variants: list[str], change: Intervention,
                   changed: Source | None = None, own: dict[str, Translation] | None = None) -> dict[str, Intervened]:
        """Each variant's own greedy translation (from ``own`` where given), then greedy decoding
        under ``change`` (of the ``changed`` source where given), and Δ log p of the variant's own tokens."""
        altered = changed or source
        try:
            change.check(len(altered.ids))
        except ValueError as exc:                 # a message safe to show
            raise InputError(str(exc)) from None
        own = own or {}
        for v, t in own.items():
            if not (isinstance(t, Translation) and t.variant == v and t.source_pieces == source.pieces
                    and len(t.hypotheses) == 1 and t.forced == 0):
                raise InputError("The greedy translations given are not this source's (Translator.decode).")

        def run(v):
            model = self.models[v]
            before = own.get(v) or self._translation(v, source, greedy(model, [source.ids], max_len=MAX_OUTPUT))
            if changed is None and not model.has_attention:
                return Intervened(v, before, None, None)
            tokens, logprobs = before.best.tokens, before.best.logprobs
            after = greedy(model, [altered.ids], max_len=MAX_OUTPUT, intervention=change)[0]
            rescored = force_decode(model, altered.ids, tokens, change)
            delta = np.array(rescored.logprobs[: len(logprobs)]) - np.array(logprobs)
            return Intervened(v, before, self._translation(v, altered, [after]), delta)

        return self.each(variants, run)

    @torch.no_grad()
    def beam_tree(self, source: Source, variant, settings: DecodingSettings) -> BeamTree:
        """Beam search with ``settings`` (method "beam") that records every extension it ranked."""
        (variant,) = self.installed([check_variant(variant)])
        _check(source, settings=settings)
        if settings.method != "beam":
            raise InputError("The beam tree needs beam search: decoding settings with method 'beam'.")
        hyps, nodes = beam_tree(self.models[variant], source.ids, beam=settings.beam, n_best=settings.n_best,
                                max_len=MAX_OUTPUT)
        pieces = self._pieces([n.token for n in nodes])
        pieces[0] = "<s>"
        names = self._pieces([c for n in nodes for c, _ in n.candidates])
        candidates, at = [], 0
        for n in nodes:
            candidates.append([(names[at + k], p) for k, (_, p) in enumerate(n.candidates)])
            at += len(n.candidates)
        return BeamTree(variant, settings, source, self._translation(variant, source, hyps), nodes, pieces,
                        [self.detokenise(node_path(nodes, n.id)) for n in nodes], candidates)

    def attribute(self, source: Source, target: Source, variants) -> dict[str, np.ndarray]:
        """Gradient × input attribution (``seq2seq/attribution.py``), (T, S) per chosen variant, on
        the forced translation ``target`` (</s> appended): the axes of ``score``'s α."""
        chosen = self.installed(variants)
        _check(source, target)
        ids = target.ids + [EOS_ID]
        return self.each(chosen, lambda v: gradient_x_input(self.models[v], source.ids, ids))

    def contrast(self, source: Source, target: Source, step, alternative, variants) -> dict[str, dict]:
        """Why ``target``'s token at ``step`` (counted from 1; </s> appended) and not ``alternative``
        (a piece id, or text whose first piece is taken), with the steps before it forced: per
        variant, log p of both, their difference and the contrastive gradient × input over the
        source (``attribution.contrastive_x_input``), beside α_t of forced decoding."""
        chosen = self.installed(variants)
        _check(source, target)
        ids = target.ids + [EOS_ID]
        t = check_number(step, "The step t", 1, len(ids), integer=True) - 1
        if isinstance(alternative, str):
            text = clean_input(alternative, LANGUAGES.get(source.direction.split("-")[1], "target"))
            pieces = self.tok.encode(text)
            if not pieces:
                raise InputError("The alternative is empty after tokenising.")
            other = pieces[0]
        else:
            other = check_number(alternative, "The alternative token", 0, self.tok.vocab_size - 1, integer=True)
        if other == ids[t]:
            raise InputError(f"The alternative is the chosen token itself ({self._pieces([other])[0]}); pick another.")

        def run(v):
            model = self.models[v]
            forced = force_decode(model, source.ids, ids)
            out = contrastive_x_input(model, source.ids, ids, t, other)
            return {**out, "alpha": None if forced.attention is None else np.asarray(forced.attention[t]),
                    "chosen_piece": self._pieces([ids[t]])[0], "alternative_piece": self._pieces([other])[0]}

        return self.each(chosen, run)


def _check(*sources, settings: DecodingSettings | None = None) -> None:
    """What the methods on a prepared source are given was made by the library (``prepare``,
    ``prepare_target``, ``DecodingSettings.check``), so it has been checked."""
    if not all(isinstance(s, Source) for s in sources):
        raise InputError("Prepare the text first (Translator.prepare).")
    if settings is not None and not isinstance(settings, DecodingSettings):
        raise InputError("Check the decoding settings first (DecodingSettings.check).")
