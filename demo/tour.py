"""The tour: a few steps through the page, each with one claim and the page set up to show it.

Each step is data: the sentence, direction, variants, unit, decoding, the step t and the tool,
two or three plain sentences, and ``check(tr)``, which asserts on the loaded models exactly what
the sentences claim. tests/test_tour.py runs every check on the shipped models: when a retrained
model no longer shows a step, the step is rewritten, not the test. Sentences are the project's own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlencode

import numpy as np

from seq2seq.attribution import agreement
from seq2seq.tokenizer import DEFAULT_DIRECTION, UNK_ID
from seq2seq.translator import Translator

# Where a step's figure lives: the maps at step t, the line view on every step (page.js), or a
# section of the question tab, which a link with that tool sets up and runs (question_tab.set_up).
TOOLS = ("maps", "lines", "knock-out", "attribution")
QUESTION_TOOLS = ("knock-out", "attribution")


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    text: str
    variants: tuple[str, ...]
    says: str                                   # two or three plain sentences: what to see, and why
    check: Callable[[Translator], None] = field(repr=False, compare=False)
    direction: str = DEFAULT_DIRECTION
    unit: str = "words"
    method: str = "greedy"
    t: int = 1                                  # the output step shown, from 1 as on the step bar
    tool: str = "maps"

    def permalink(self) -> str:
        """The Translate tab's permalink query (``views.permalink``) plus the step t and the tool."""
        query = {"text": self.text, "variants": ",".join(self.variants), "method": self.method,
                 "unit": self.unit, "t": self.t, "tool": self.tool}
        if self.direction != DEFAULT_DIRECTION:
            query["direction"] = self.direction
        return "?" + urlencode(query)


# ---- what each step claims, asserted on the loaded models -----------------------------------

def _greedy(tr: Translator, text: str, variants, direction: str = DEFAULT_DIRECTION) -> dict:
    return tr.translate_many(text, list(variants), direction=direction).translations


def _argmax_piece(source_pieces: list[str], attention, t: int) -> str:
    return source_pieces[int(np.asarray(attention)[t].argmax())]


def check_reordering(tr: Translator) -> None:
    # In words: "wrote" is the second English word; the German participle "geschrieben" stands last.
    from seq2seq import analysis

    for v, out in _greedy(tr, REORDER_TEXT, ("dot", "general", "additive")).items():
        assert out.texts[0] == "He wrote the letter.", (v, out.texts[0])
        alpha, rows, cols = analysis.view(out.best.attention, out.source_pieces, out.target_pieces[0], True)
        assert rows[1] == "wrote" and cols[-1] == "geschrieben.", (rows, cols)
        assert int(alpha[1].argmax()) == len(cols) - 1, (v, alpha[1])


def check_reordering_en_de(tr: Translator) -> None:
    # The other way round: "forgotten" is the third English word, "vergessen" the last German one.
    from seq2seq import analysis

    for v, out in _greedy(tr, REORDER_EN_TEXT, ("dot", "general", "additive"), "en-de").items():
        assert out.texts[0] == "Ich habe meinen Schlüssel vergessen.", (v, out.texts[0])
        alpha, rows, cols = analysis.view(out.best.attention, out.source_pieces, out.target_pieces[0], True)
        assert rows[-1] == "vergessen.", rows
        assert cols[int(alpha[-1].argmax())] == "forgotten", (v, cols, alpha[-1])


def check_compound(tr: Translator) -> None:
    from seq2seq import analysis

    out = _greedy(tr, COMPOUND_TEXT, ("dot", "general"))
    for v, t in out.items():
        assert t.source_pieces[1:3] == ["▁Haus", "tür"], (v, t.source_pieces)
        assert t.texts[0] == "The house door is open.", (v, t.texts[0])
        _, _, cols = analysis.view(t.best.attention, t.source_pieces, t.target_pieces[0], True)
        assert "Haustür" in cols, cols               # the words view joins the pieces again


def check_unknown(tr: Translator) -> None:
    out = _greedy(tr, UNKNOWN_TEXT, ("none", "additive", "multihead"))
    for v in ("additive", "multihead"):
        assert UNK_ID in out[v].best.tokens, (v, out[v].target_pieces[0])
    for v in ("additive", "multihead"):
        assert out[v].texts[0] == "I'm going to go to 東京.", (v, out[v].texts[0])
    assert "東京" not in out["none"].texts[0], out["none"].texts[0]   # nothing to copy by


def check_long(tr: Translator) -> None:
    out = _greedy(tr, LONG_TEXT, ("none", "additive"))
    att, plain = out["additive"].texts[0], out["none"].texts[0]
    for word in ("friend", "garden", "weather"):
        assert word in att, att
    for word in ("friend", "garden"):
        assert word not in plain, plain


def check_knock_out(tr: Translator) -> None:
    src = tr.prepare(KNOCK_TEXT)
    book = src.pieces.index("▁Buch")
    before = _greedy(tr, KNOCK_TEXT, ("additive",))["additive"]
    t = before.target_pieces[0].index("▁book")
    assert t == KNOCK_STEP - 1 and before.texts[0] == "I read the book yesterday.", before.texts[0]
    assert _argmax_piece(before.source_pieces, before.best.attention, t) == "▁Buch"
    after = tr.knock_out(src, ["additive"], [book])["additive"].after
    a, b = after.target_pieces[0], before.target_pieces[0]
    assert a[:t] == b[:t] and "▁book" not in a, a    # same up to step t, where "book" goes missing
    assert after.texts[0] == "I read the yesterday.", after.texts[0]


def check_attribution(tr: Translator) -> None:
    src, tgt = tr.prepare(KNOCK_TEXT), tr.prepare_target("I read the book yesterday.")
    alpha = np.asarray(tr.score(src, tgt, ["additive"])["additive"].best.attention)
    grad = np.abs(tr.attribute(src, tgt, ["additive"])["additive"])
    t = ATTRIBUTION_STEP - 1
    assert src.pieces[int(alpha[t].argmax())] == "stern", src.pieces[int(alpha[t].argmax())]
    assert src.pieces[int(grad[t].argmax())] == "lesen", src.pieces[int(grad[t].argmax())]
    assert src.pieces[int(alpha[3].argmax())] == src.pieces[int(grad[3].argmax())] == "▁Buch"
    assert agreement(alpha, grad)["argmax"] < 1.0


REORDER_TEXT = "Er hat den Brief geschrieben."
REORDER_EN_TEXT = "I have forgotten my key."
COMPOUND_TEXT = "Die Haustür ist offen."
UNKNOWN_TEXT = "Ich fahre nach 東京."
LONG_TEXT = ("Ich habe heute Morgen im Garten einen alten Freund getroffen und wir haben lange über das "
             "Wetter gesprochen.")
KNOCK_TEXT = "Ich habe gestern das Buch gelesen."
KNOCK_STEP = 4                  # "book", from 1
ATTRIBUTION_STEP = 7            # the piece "e" of "yesterday", from 1

STEPS = (
    Step("reordering", "The verb at the end", REORDER_TEXT, ("dot", "general", "additive"),
         "German puts the participle last: “geschrieben” ends the sentence, yet “wrote” is the second English "
         "word. Step through to t = 2: in dot, general and additive the brightest cell of that row sits on "
         "“geschrieben”, the last column. Attention lets the decoder reach across the sentence instead of "
         "copying it in order.", check_reordering, t=2),
    Step("reordering-en-de", "The verb at the end, the other way", REORDER_EN_TEXT, ("dot", "general", "additive"),
         "Into German the verb moves the other way: “forgotten” is the third English word, and “vergessen” ends "
         "the German sentence. At the last step, t = 5, the brightest cell sits on “forgotten”: the decoder "
         "holds the verb back and fetches it when German wants it.", check_reordering_en_de,
         direction="en-de", t=5),
    Step("compound", "A compound in pieces", COMPOUND_TEXT, ("dot", "general"),
         "The tokeniser splits “Haustür” (front door) into two pieces, “Haus” and “tür”: in pieces they are two "
         "columns. dot and general write “The house door is open.” Tick “Words, not pieces” and the words view "
         "sums the two columns back into one, “Haustür”.", check_compound, unit="pieces", t=3),
    Step("unknown", "A name in another script", UNKNOWN_TEXT, ("none", "additive", "multihead"),
         "The vocabulary has no piece for 東京, so additive and multihead write <unk> at that step. The page "
         "replaces each <unk> by the source piece its step attended to most: “I'm going to go to 東京.” none has "
         "no attention to copy by, and its translation has no 東京.", check_unknown, t=6),
    Step("long", "A long sentence without attention", LONG_TEXT, ("none", "additive"),
         "none squeezes the whole sentence into one vector, and on a long input it loses most of it: its "
         "translation has no friend and no garden. additive looks back at the source at every step and keeps "
         "the friend, the garden and the weather.", check_long, t=1),
    Step("knock-out", "Knock out what attention pointed at", KNOCK_TEXT, ("additive",),
         "At t = 4 additive writes “book” and attends most to “Buch”. In the question tab, knock out “Buch” "
         "(mask it out of the softmax at every step): the output stays the same up to step 4 and then loses "
         "the word, “I read the yesterday.”", check_knock_out, t=KNOCK_STEP, tool="knock-out"),
    Step("attribution", "Attention is not attribution", KNOCK_TEXT, ("additive",),
         "Gradient × input asks which source pieces the output's log-probability is most sensitive to. On "
         "“book” (t = 4) both point at “Buch”, but at t = 7, inside “yesterday”, attention points at “stern” and "
         "attribution at “lesen”. Neither is the true cause: attribution is a local, linear estimate, and "
         "attention is only one path through the network.", check_attribution, unit="pieces",
         t=ATTRIBUTION_STEP, tool="attribution"),
)


def served_steps(directions: tuple[str, ...]) -> tuple[Step, ...]:
    """The steps the loaded models can show: those in a direction they translate."""
    return tuple(s for s in STEPS if s.direction in directions)


def tour_markdown(steps) -> str:
    """The tour as Markdown: one linked title per step (its permalink) and what it says."""
    lines = []
    for n, s in enumerate(steps, 1):
        where = f" Then open the question tab's {s.tool}." if s.tool in QUESTION_TOOLS else ""
        lines.append(f"{n}. [**{s.title}**]({s.permalink()}): {s.says}{where}")
    return "\n".join(lines)


NUMBER_WORDS = {5: "five", 6: "six", 7: "seven"}


def tour_title(steps) -> str:
    count = NUMBER_WORDS.get(len(steps), str(len(steps)))
    return f"Tour: {count} steps through attention (each link sets up the page)"


def build_tour(directions: tuple[str, ...]) -> None:
    """An accordion of the steps the models can show, each title a permalink that sets the page up
    and runs it."""
    import gradio as gr

    steps = served_steps(directions)
    with gr.Accordion(tour_title(steps), open=False, elem_id="tour"):
        gr.Markdown(tour_markdown(steps), latex_delimiters=[], elem_id="tour-steps")
