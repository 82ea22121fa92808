"""The page's examples: "Try these" are everyday sentences that every shipped variant
translates right today (checked with the models in assets/), and the placeholder is the first."""
from __future__ import annotations

import re

import pytest

from demo import state
from seq2seq import checkpoint as ckpt
from seq2seq.attention import VARIANTS


def words(s: str) -> list[str]:
    """A translation compared word by word: case, punctuation and the typographic apostrophe aside."""
    return re.findall(r"[a-z0-9']+", s.lower().replace("’", "'"))


def test_try_these_are_everyday_sentences_with_translations():
    tries = state.load_try_examples()
    assert 6 <= len(tries) <= 12
    hard = {s for s, _ in state.load_examples()}
    for src, refs in tries:
        assert 2 <= len(src.split()) <= 8 and refs and src not in hard


@pytest.mark.skipif(not all(ckpt.model_paths(v, ckpt.ASSETS)[0].is_file() for v in VARIANTS),
                    reason="the shipped models are not in assets/")
@pytest.mark.parametrize("tr", ["shipped"], indirect=True)
def test_every_shipped_variant_translates_every_try_sentence_right(tr):
    wrong = []
    for src, refs in state.load_try_examples():
        r = state.translate(tr, src, list(VARIANTS))
        for v, e in r["variants"].items():
            out = e["hypotheses"][0]["text"]
            if words(out) not in [words(ref) for ref in refs]:
                wrong.append((src, v, out))
    assert wrong == []


def test_placeholder_is_the_first_try_sentence(demo):
    box = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "source-text")
    assert state.load_try_examples()[0][0] in box.placeholder
