"""The shipped joint sentencepiece model, deterministic training, and piece grouping."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from conftest import SHIPPED_TOKENIZER
from seq2seq.tokenizer import (BOS_ID, DIRECTIONS, EOS_ID, PAD_ID, SPECIAL_IDS, UNK_ID, Tokenizer, direction_tag,
                               train_tokenizer,
                               word_groups, words_from_pieces)

PROPS = settings(deadline=None, max_examples=50, derandomize=True)


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return Tokenizer(SHIPPED_TOKENIZER)


def test_special_ids(tok):
    assert SPECIAL_IDS == (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)
    sp = tok.sp
    assert (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id()) == SPECIAL_IDS
    assert tok.pieces(SPECIAL_IDS) == ["<pad>", "<unk>", "<s>", "</s>"]
    assert tok.vocab_size == 8000


def test_encode_is_deterministic_and_batch_agrees(tok):
    texts = ["Das Haus ist schön.", "Ich gehe morgen nach Hause.", "Straße", "Grüße aus Köln!"]
    once = [tok.encode(t) for t in texts]
    assert once == [tok.encode(t) for t in texts]
    assert tok.encode_batch(texts) == once
    assert Tokenizer(SHIPPED_TOKENIZER).encode_batch(texts) == once  # a fresh load gives the same ids
    assert all(ids and all(i not in (PAD_ID, BOS_ID, EOS_ID) for i in ids) for ids in once)


def test_round_trip_of_ordinary_text(tok):
    for text in ["Das Haus ist schön.", "the nuts and bolts", "Grüße aus Köln"]:
        assert tok.decode(tok.encode(text)) == text


def test_decode_drops_special_ids(tok):
    ids = tok.encode("Guten Morgen")
    assert tok.decode([BOS_ID] + ids + [EOS_ID, PAD_ID, PAD_ID]) == "Guten Morgen"


def test_unknown_characters_become_unk(tok):
    ids = tok.encode("Haus 😀")
    assert UNK_ID in ids


def test_text_pieces_spell_out_unknown_pieces(tok):
    text = "Ich mag 東京 und $$ sehr 😀."
    ids, pieces = tok.encode(text), tok.text_pieces(text)
    assert len(pieces) == len(ids) and ids.count(UNK_ID) >= 3
    assert [p for i, p in zip(ids, pieces) if i != UNK_ID] == [p for i, p in zip(ids, tok.pieces(ids)) if i != UNK_ID]
    assert "<unk>" not in pieces and {"東京", "$$", "😀"} <= set(pieces)
    assert words_from_pieces(pieces) == ["Ich", "mag", "東京", "und", "$$", "sehr", "😀."]


@PROPS
@given(st.text(max_size=40))
def test_encode_never_yields_pad_bos_eos(text):
    tok = _shipped()
    ids = tok.encode(text)
    assert all(0 <= i < tok.vocab_size and i not in (PAD_ID, BOS_ID, EOS_ID) for i in ids)
    assert ids == tok.encode(text)
    assert len(tok.pieces(ids)) == len(ids) == len(tok.text_pieces(text))


_SHIPPED: list[Tokenizer] = []


def _shipped() -> Tokenizer:
    if not _SHIPPED:
        _SHIPPED.append(Tokenizer(SHIPPED_TOKENIZER))
    return _SHIPPED[0]


def _corpus(n: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    de = "der die das Haus Baum Katze Hund läuft schnell langsam groß klein heute morgen Straße grün".split()
    en = "the a house tree cat dog runs quickly slowly big small today tomorrow street green".split()
    return [" ".join(rng.choice(de if i % 2 else en) for _ in range(rng.randint(2, 8))) for i in range(n)]


def test_training_is_deterministic(tmp_path):
    sentences = _corpus()
    a, b = tmp_path / "a" / "spm.model", tmp_path / "b" / "spm.model"
    train_tokenizer(sentences, a, vocab_size=60)
    train_tokenizer(iter(sentences), b, vocab_size=60)  # any iterable, even a one-shot one
    assert a.read_bytes() == b.read_bytes()
    trained = Tokenizer(a)
    assert trained.vocab_size == 60
    assert trained.pieces(SPECIAL_IDS) == ["<pad>", "<unk>", "<s>", "</s>"]
    assert trained.decode(trained.encode("the big dog runs")) == "the big dog runs"


def test_different_data_gives_a_different_model(tmp_path):
    train_tokenizer(_corpus(seed=0), tmp_path / "a.model", vocab_size=60)
    train_tokenizer(_corpus(seed=1), tmp_path / "b.model", vocab_size=60)
    assert (tmp_path / "a.model").read_bytes() != (tmp_path / "b.model").read_bytes()


def test_missing_and_unreadable_models(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        Tokenizer(tmp_path / "nope.model")
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"this is not a sentencepiece model")
    with pytest.raises(ValueError, match="unreadable"):
        Tokenizer(bad)


# ---- word grouping ----------------------------------------------------------------------

def test_word_groups_examples():
    assert word_groups([]) == []
    assert word_groups(["▁Das", "▁Haus", "tür", "▁ist", "▁zu", "."]) == [[0], [1, 2], [3], [4, 5]]
    assert word_groups(["Haus", "tür", "▁zu"]) == [[0, 1], [2]]  # a first piece without ▁ still opens a word
    assert words_from_pieces(["▁Das", "▁Haus", "tür", "▁ist", "▁zu", "."]) == ["Das", "Haustür", "ist", "zu."]
    assert words_from_pieces(["▁", "<unk>", "▁a"]) == ["<unk>", "a"]
    assert words_from_pieces(["▁"]) == ["▁"]  # never an empty label


def test_word_groups_of_real_pieces(tok):
    pieces = tok.pieces(tok.encode("Die Haustürschlüssel liegen auf dem Küchentisch."))
    words = words_from_pieces(pieces)
    assert words == ["Die", "Haustürschlüssel", "liegen", "auf", "dem", "Küchentisch."]


_piece = st.one_of(st.text(alphabet="abcä.", min_size=1, max_size=4),
                   st.text(alphabet="abcä.", max_size=4).map(lambda s: "▁" + s))


@PROPS
@given(st.lists(_piece, max_size=12))
def test_word_groups_partition_the_pieces(pieces):
    groups = word_groups(pieces)
    assert [i for g in groups for i in g] == list(range(len(pieces)))  # contiguous, in order, complete
    assert all(g for g in groups)
    assert all(pieces[g[0]].startswith("▁") or g[0] == 0 for g in groups)
    assert all(not pieces[i].startswith("▁") for g in groups for i in g[1:])
    words = words_from_pieces(pieces)
    assert len(words) == len(groups)
    assert all(w and "▁" not in w or w == "▁" for w in words)
    assert "".join(words).replace("▁", "") == "".join(pieces).replace("▁", "")


def test_direction_tags_are_ids_no_text_can_produce(two_way_tokenizer):
    tok = Tokenizer(two_way_tokenizer)
    tags = [tok.tag_id(d) for d in DIRECTIONS]
    assert len(set(tags)) == len(DIRECTIONS) and not set(tags) & set(SPECIAL_IDS)
    assert tok.pieces(tags) == [direction_tag(d) for d in DIRECTIONS] == ["<2en>", "<2de>"]
    typed = tok.encode("<2de> <2en> das Haus")
    assert not set(tags) & set(typed)                  # a visitor cannot steer the model by typing a tag
    assert tok.decode(tags + tok.encode("das Haus")) == "das Haus"
    assert tok.source_prefix(("de-en", "en-de"), "en-de") == [tok.tag_id("en-de")]
    assert tok.source_prefix(("de-en",), "de-en") == []          # a one-direction model reads plain text
    with pytest.raises(ValueError, match="not en-de"):
        tok.source_prefix(("de-en",), "en-de")


def test_a_one_direction_tokenizer_has_no_tags():
    tok = Tokenizer(SHIPPED_TOKENIZER)
    with pytest.raises(ValueError, match="no <2de> token"):
        tok.tag_id("en-de")
