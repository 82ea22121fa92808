"""One joint sentencepiece model per language pair, shared by every variant,
so all heatmaps of a sentence have identical source axes.

The special ids are defined here and nowhere else.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable

import sentencepiece as spm

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SPECIAL_IDS = (PAD_ID, UNK_ID, BOS_ID, EOS_ID)

# Translation directions, "source-target". The corpora store pairs German first, so
# "de-en" reads them as written and "en-de" reads them reversed.
DIRECTIONS = ("de-en", "en-de")
DEFAULT_DIRECTION = "de-en"


def direction_tag(direction: str) -> str:
    """The target-language token that steers a model trained on several directions
    (Johnson et al. 2017): it opens the source, ``<2en> Ich habe …``."""
    return f"<2{direction.split('-')[-1]}>"


# Control symbols: they have ids, but no text ever encodes to them, so a visitor who
# types "<2de>" gets ordinary pieces, not the steering token.
DIRECTION_TAGS = tuple(direction_tag(d) for d in DIRECTIONS)


def train_tokenizer(sentences: Iterable[str], model_path: Path | str, vocab_size: int = 8000,
                    seed: int = 1234) -> None:
    """Train a unigram sentencepiece model deterministically (fixed seed, one thread)."""
    model_path = Path(model_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    spm.set_random_generator_seed(seed)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(sentences)),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=0.9999,
        pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
        control_symbols=list(DIRECTION_TAGS),
        num_threads=1,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        normalization_rule_name="nmt_nfkc",
        minloglevel=2,
    )
    model_path.write_bytes(model.getvalue())


class Tokenizer:
    """Text ↔ ids. Pieces are what the heatmaps label their axes with."""

    def __init__(self, model_path: Path | str):
        self.path = Path(model_path)
        if not self.path.is_file():
            raise FileNotFoundError(f"tokenizer model not found: {self.path}")
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.load(str(self.path))
        except Exception as exc:  # sentencepiece raises OSError/RuntimeError on garbage
            raise ValueError(f"tokenizer model is unreadable: {self.path}") from exc
        assert (self.sp.pad_id(), self.sp.unk_id(), self.sp.bos_id(), self.sp.eos_id()) == SPECIAL_IDS

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text, out_type=int)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return self.sp.encode(texts, out_type=int)

    def pieces(self, ids: Iterable[int]) -> list[str]:
        return [self.sp.id_to_piece(int(i)) for i in ids]

    def text_pieces(self, text: str) -> list[str]:
        """The pieces of ``text``, one per id of ``encode(text)``, where an unknown piece reads
        as the (normalised) text it stands for: ``▁ 東京``, not ``▁ <unk>``. The axes a reader
        sees then show what they typed."""
        return self.sp.encode(text, out_type=str)

    def decode(self, ids: Iterable[int]) -> str:
        return self.sp.decode([int(i) for i in ids if int(i) not in SPECIAL_IDS])

    def tag_id(self, direction: str) -> int:
        """The id of ``direction``'s tag; ValueError if this tokenizer was trained without it."""
        tag = direction_tag(direction)
        i = self.sp.piece_to_id(tag)
        if i == UNK_ID or self.sp.id_to_piece(i) != tag:
            raise ValueError(f"the tokenizer {self.path.name} has no {tag} token: it was trained for one "
                             "direction only (train a new one with `python -m seq2seq prepare`)")
        return i

    def source_prefix(self, directions: tuple[str, ...], direction: str) -> list[int]:
        """The ids that open a source for a model trained on ``directions``: its tag where the
        model knows several directions, nothing for a one-direction model."""
        if direction not in directions:
            raise ValueError(f"this model translates {', '.join(directions)}, not {direction}")
        return [self.tag_id(direction)] if len(directions) > 1 else []


def word_groups(pieces: list[str]) -> list[list[int]]:
    """Group piece positions into words: a piece starting with '▁' opens a word."""
    groups: list[list[int]] = []
    for i, p in enumerate(pieces):
        if p.startswith("▁") or not groups:
            groups.append([i])
        else:
            groups[-1].append(i)
    return groups


def words_from_pieces(pieces: list[str]) -> list[str]:
    return ["".join(pieces[i] for i in g).replace("▁", "") or "▁" for g in word_groups(pieces)]
