"""Which language a text is plainly in, German or English, by the short function words
each language uses in nearly every sentence. Local and instant: the page uses it to say
"this looks like English; switch to English → Deutsch?".

A word that is common in both languages ("in", "so", "was", "die", "also", "man", "will", "am", "her",
"hat", "war", "an", "bad") is in neither list, so it counts for neither."""
from __future__ import annotations

import re

from .tokenizer import DIRECTIONS

FUNCTION_WORDS = {
    "de": frozenset("""der den dem des das ein eine einen einem einer ist sind bin bist nicht und oder aber ich du er
        sie wir ihr mich mir dich dir uns euch sich mein meine meinen dein deine sein seine ihre unser zu zum zur
        mit von bei nach aus auf für über unter vor hinter ist noch schon auch nur sehr gern gerne heute morgen
        gestern hier dort wo wie warum wer wen wem welche welcher habe hast haben hatte wird werden wurde kann
        können muss müssen soll sollte möchte ja nein doch dass weil wenn ob kein keine nichts etwas""".split()),
    "en": frozenset("""the a of and or but not i you he she we they me him us them my your his our their
        is are were be been being have has had do does did to from with at by for on into about this
        that these those what who why where how which it its very here there today tomorrow yesterday can
        could would should must shall may might no yes because if than then just only some any""".split()),
}
# Both lists drop the words the other language spells alike.
_SHARED = FUNCTION_WORDS["de"] & FUNCTION_WORDS["en"]
FUNCTION_WORDS = {lang: words - _SHARED for lang, words in FUNCTION_WORDS.items()}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def language_votes(text: str) -> dict[str, int]:
    """How many of the text's words are function words of each language."""
    words = [w.lower() for w in _WORD.findall(text)]
    return {lang: sum(w in vocab for w in words) for lang, vocab in FUNCTION_WORDS.items()}


def suggested_direction(text: str, direction: str) -> str | None:
    """The other direction, where the text is plainly in its source language: some of its
    function words and none of the chosen source language's. Else None."""
    source, target = direction.split("-")
    other = f"{target}-{source}"
    if other not in DIRECTIONS or source not in FUNCTION_WORDS or target not in FUNCTION_WORDS:
        return None
    votes = language_votes(text)
    return other if votes[target] >= 1 and votes[source] == 0 else None
