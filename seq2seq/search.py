"""Decoding: greedy, beam search and sampling.

Every hypothesis carries its tokens, per-token log-probabilities, the
attention matrix α (target steps × source pieces, per head and averaged) and
the top-k next-token candidates at every step. Beam search keeps all of this
for every hypothesis it returns, not only the best one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .model import Seq2Seq
from .tokenizer import BOS_ID, EOS_ID, PAD_ID

TOP_CANDIDATES = 5


@dataclass
class Hypothesis:
    tokens: list[int]                         # output ids, ending with EOS when finished
    logprobs: list[float]                     # log p(y_t | y_<t, x) of each token
    heads: np.ndarray | None                  # (T, k, S) per-head α, None without attention
    candidates: list[list[tuple[int, float]]] = field(default_factory=list)  # per step: (id, p)
    score: float = 0.0                        # ranking score (length-normalised under beam)

    @property
    def attention(self) -> np.ndarray | None:
        """α_{t,i}: (T, S), the mean over heads."""
        return None if self.heads is None else self.heads.mean(axis=1)

    @property
    def logprob(self) -> float:
        return float(sum(self.logprobs))

    @property
    def finished(self) -> bool:
        return bool(self.tokens) and self.tokens[-1] == EOS_ID


def pad_batch(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    lens = torch.tensor([len(s) for s in seqs])
    out = torch.full((len(seqs), int(lens.max())), PAD_ID, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out, lens


def max_output_len(src_len: int, cap: int) -> int:
    return min(cap, 2 * src_len + 10)


def _top(logp: torch.Tensor, k: int) -> list[list[tuple[int, float]]]:
    p, ids = logp.exp().topk(min(k, logp.size(-1)), dim=-1)
    return [list(zip(i.tolist(), q.tolist())) for i, q in zip(ids, p)]


@torch.no_grad()
def _decode_batch(model: Seq2Seq, sources: list[list[int]], max_len: int, pick) -> list[Hypothesis]:
    """Step all sentences together; ``pick(logp) -> (B,) ids`` chooses each next token."""
    src, lens = pad_batch(sources)
    dev = next(model.parameters()).device
    memory, mask, (s, feed, keys) = model.encode(src.to(dev), lens)
    B = src.size(0)
    prev = torch.full((B,), BOS_ID, dtype=torch.long, device=dev)
    done = torch.zeros(B, dtype=torch.bool, device=dev)
    steps_ids, steps_lp, steps_alpha, steps_top = [], [], [], []
    limit = max(max_output_len(int(n), max_len) for n in lens)
    for _ in range(limit):
        s, feed, alpha = model.decoder.step(prev, s, feed, memory, mask, keys)
        logp = F.log_softmax(model.decoder.logits(feed), dim=-1)           # (B, V)
        nxt = pick(logp)
        steps_ids.append(nxt)
        steps_lp.append(logp.gather(1, nxt[:, None]).squeeze(1))
        steps_alpha.append(alpha)
        steps_top.append(_top(logp, TOP_CANDIDATES))
        done |= nxt == EOS_ID
        prev = nxt
        if bool(done.all()):
            break
    ids = torch.stack(steps_ids, 1).tolist()
    lps = torch.stack(steps_lp, 1).tolist()
    alphas = None if steps_alpha[0] is None else torch.stack(steps_alpha, 1).cpu().numpy()  # (B, T, k, S)
    hyps = []
    for b in range(B):
        own_limit = max_output_len(int(lens[b]), max_len)
        T = ids[b].index(EOS_ID) + 1 if EOS_ID in ids[b][:own_limit] else own_limit
        heads = None if alphas is None else alphas[b, :T, :, : int(lens[b])]
        hyps.append(Hypothesis(ids[b][:T], lps[b][:T], heads, [st[b] for st in steps_top[:T]],
                               score=float(sum(lps[b][:T]))))
    return hyps


def greedy(model: Seq2Seq, sources: list[list[int]], max_len: int = 100) -> list[Hypothesis]:
    return _decode_batch(model, sources, max_len, lambda logp: logp.argmax(-1))


def sample(model: Seq2Seq, sources: list[list[int]], temperature: float = 1.0, top_k: int = 0,
           seed: int = 0, max_len: int = 100) -> list[Hypothesis]:
    """Ancestral sampling from p^(1/τ), optionally restricted to the top-k tokens."""
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    gen = torch.Generator().manual_seed(seed)

    def pick(logp):
        logits = logp / temperature
        if top_k > 0:
            kth = logits.topk(min(top_k, logits.size(-1)), dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        return torch.multinomial(F.softmax(logits, -1), 1, generator=gen).squeeze(1)

    return _decode_batch(model, sources, max_len, pick)


@torch.no_grad()
def beam_search(model: Seq2Seq, source: list[int], beam: int = 5, n_best: int = 1,
                alpha: float = 1.0, max_len: int = 100) -> list[Hypothesis]:
    """Beam search for one sentence. Scores are length-normalised: Σ log p / T^alpha.

    Returns up to ``n_best`` hypotheses, best first, each with its own attention.
    """
    if beam < 1:
        raise ValueError("beam width must be ≥ 1")
    n_best = max(1, min(n_best, beam))
    src, lens = pad_batch([source])
    dev = next(model.parameters()).device
    memory, mask, (s, feed, keys) = model.encode(src.to(dev), lens)
    limit = max_output_len(len(source), max_len)

    def norm(score: float, length: int) -> float:
        return score / (length ** alpha)

    # Live beams: history tuples (tokens, logprobs, alphas, tops) and summed log-prob.
    live = [([], [], [], [], 0.0)]
    finished: list[Hypothesis] = []
    for step in range(limit):
        K = len(live)
        prev = torch.tensor([h[0][-1] if h[0] else BOS_ID for h in live], device=dev)
        mem_k = memory.expand(K, -1, -1)
        mask_k = mask.expand(K, -1)
        keys_k = _expand_keys(keys, K)
        s, feed, att = model.decoder.step(prev, s, feed, mem_k, mask_k, keys_k)
        logp = F.log_softmax(model.decoder.logits(feed), dim=-1)            # (K, V)
        totals = torch.tensor([h[4] for h in live], device=dev)[:, None] + logp         # (K, V)
        top_scores, top_idx = totals.view(-1).topk(min(2 * beam, totals.numel()))
        tops = _top(logp, TOP_CANDIDATES)
        att_rows = None if att is None else att.cpu().numpy()                # (K, k, S)
        new_live, parents = [], []
        for sc, idx in zip(top_scores.tolist(), top_idx.tolist()):
            k, tok = divmod(idx, logp.size(1))
            toks, lps, als, tps, _ = live[k]
            entry = (toks + [tok], lps + [float(logp[k, tok])],
                     als + [None if att_rows is None else att_rows[k]], tps + [tops[k]], sc)
            if tok == EOS_ID:
                finished.append(_to_hyp(entry, norm(sc, len(entry[0]))))
            else:
                new_live.append(entry)
                parents.append(k)
            if len(new_live) == beam:
                break
        if len(finished) >= beam or not new_live:
            break
        idx = torch.tensor(parents, device=dev)
        s, feed = s[idx], feed[idx]
        live = new_live
    if len(finished) < n_best:  # ran out of length: keep the best unfinished ones too
        finished += [_to_hyp(e, norm(e[4], len(e[0]))) for e in live]
    finished.sort(key=lambda h: -h.score)
    return finished[:n_best]


def _expand_keys(keys, K):
    if keys is None:
        return None
    if keys.dim() == 5:  # multi-head (2, B, k, S, d)
        return keys.expand(-1, K, -1, -1, -1)
    return keys.expand(K, *keys.shape[1:])


def _to_hyp(entry, score) -> Hypothesis:
    toks, lps, als, tps, _ = entry
    heads = None if als[0] is None else np.stack(als)                       # (T, k, S)
    return Hypothesis(toks, lps, heads, tps, score=score)
