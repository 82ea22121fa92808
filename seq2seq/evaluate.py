"""Corpus translation and sacreBLEU metrics (BLEU and chrF, with signatures),
overall, on pairs with ≥ 4 source words, and by source-length bucket."""
from __future__ import annotations

from sacrebleu.metrics import BLEU, CHRF

from .model import Seq2Seq
from .search import LENGTH_PENALTY, beam_search_batch, greedy
from .tokenizer import Tokenizer

LENGTH_BUCKETS = ((1, 3), (4, 6), (7, 9), (10, 14), (15, 19), (20, 29), (30, 10_000))
MIN_WORDS = 4
LONG_WORDS = 10


def translate_corpus(model: Seq2Seq, tok: Tokenizer, sources: list[str], beam: int = 1,
                     batch_size: int = 128, max_len: int = 100, alpha: float = LENGTH_PENALTY,
                     direction: str | None = None) -> list[str]:
    """Translate many sentences in length-sorted batches (greedy, or beam search when beam > 1),
    in ``direction`` (default: the model's first)."""
    prefix = tok.source_prefix(model.cfg.directions, direction or model.cfg.directions[0])
    ids = [prefix + (x if x else [tok.sp.unk_id()]) for x in tok.encode_batch(sources)]
    out: list[str] = [""] * len(ids)
    if beam > 1:
        batch_size = max(1, batch_size // beam)  # each sentence takes ``beam`` rows
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        batch = [ids[i] for i in chunk]
        hyps = (greedy(model, batch, max_len=max_len) if beam == 1
                else [n_best[0] for n_best in beam_search_batch(model, batch, beam=beam, alpha=alpha, max_len=max_len)])
        for i, hyp in zip(chunk, hyps):
            out[i] = tok.decode(hyp.tokens)
    return out


def corpus_scores(hyps: list[str], refs: list[str]) -> dict:
    bleu, chrf = BLEU(), CHRF()
    if not hyps:
        # sacreBLEU only signs a metric that has seen references (one per sentence here), so an
        # empty subset (e.g. a length bucket with no pairs) scores a placeholder just for that.
        bleu.corpus_score(["-"], [["-"]])
        chrf.corpus_score(["-"], [["-"]])
        return {"n": 0, "bleu": None, "chrf": None,
                "bleu_signature": str(bleu.get_signature()), "chrf_signature": str(chrf.get_signature())}
    b, c = bleu.corpus_score(hyps, [refs]), chrf.corpus_score(hyps, [refs])
    return {"n": len(hyps), "bleu": round(b.score, 2), "chrf": round(c.score, 2),
            "bleu_signature": str(bleu.get_signature()), "chrf_signature": str(chrf.get_signature())}


def chrf(hyps: list[str], refs: list[str]) -> float:
    return CHRF().corpus_score(hyps, [refs]).score


def bleu(hyps: list[str], refs: list[str]) -> float:
    return BLEU().corpus_score(hyps, [refs]).score


def report(sources: list[str], hyps: list[str], refs: list[str]) -> dict:
    """All figures of one evaluation: overall, ≥ 4 words, ≥ 10 words, and by length."""
    words = [len(s.split()) for s in sources]

    def subset(pred):
        idx = [i for i, w in enumerate(words) if pred(w)]
        return corpus_scores([hyps[i] for i in idx], [refs[i] for i in idx])

    return {
        "all": corpus_scores(hyps, refs),
        f"min{MIN_WORDS}words": subset(lambda w: w >= MIN_WORDS),
        f"min{LONG_WORDS}words": subset(lambda w: w >= LONG_WORDS),
        "by_length": [{"words": f"{lo}-{hi}" if hi < 10_000 else f"{lo}+", **subset(lambda w, lo=lo, hi=hi: lo <= w <= hi)}
                      for lo, hi in LENGTH_BUCKETS],
    }
