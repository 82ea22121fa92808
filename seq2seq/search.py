"""Decoding: greedy, beam search and sampling; forced decoding and interventions.

Every hypothesis carries its tokens, per-token log-probabilities, the
attention matrix α (target steps × source pieces, per head and averaged) and
the top-k next-token candidates at every step. Beam search keeps all of this
for every hypothesis it returns, not only the best one, and can record its
whole search tree (``beam_tree``).

Forced decoding (``force_decode``: score a given output; ``continue_decode``:
force a prefix, then decode freely) and interventions on attention
(``Intervention``: knock-out, forced α_t) run the same loop as greedy
decoding, so with nothing forced they are greedy decoding.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .model import Seq2Seq
from .tokenizer import BOS_ID, EOS_ID, PAD_ID

TOP_CANDIDATES = 5
# Beam search ranks Σ log p / T^alpha. Chosen on the dev split by chrF on ≥ 4-word pairs, beam 5,
# `python -m seq2seq evaluate --split dev --variant V --beam 5 --alpha A`, at A = 0.6 / 1.0 / 1.4 / 1.8 / 2.5:
#   models of commit c2963f1   dot 28.23 / 29.04 / 29.38 / 29.28 / 29.21   additive – / 30.06 / 30.41 / 30.45 / –
#   shipped models             dot 30.04 / 31.16 / 31.42 / 31.70 / 31.46   additive 30.25 / 31.65 / 31.92 / 31.84 / 31.68
# On all dev pairs 1.0 scores best (dot 35.82, additive 35.97; 35.53 and 35.75 at 1.4): a larger alpha
# favours longer hypotheses, which chrF rewards on longer sentences, while BLEU drops slightly.
LENGTH_PENALTY = 1.4


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


@dataclass(frozen=True)
class Intervention:
    """A change to what attention may look at, for one sentence; positions are source pieces and
    steps output steps, both counted from 0. It acts through ``Decoder.step(attend=...)``, inside
    the same step code as normal decoding.

    * ``knockout``: pieces masked out of the softmax at every step (their α is 0, the rest renormalise);
    * ``force_step``, ``force_source``: at that one step α_t is put entirely on that piece.
    """
    knockout: tuple[int, ...] = ()
    force_step: int | None = None
    force_source: int | None = None

    def check(self, src_len: int) -> None:
        """Raise ValueError (message safe to show) unless this applies to a source of ``src_len`` pieces."""
        for i in self.knockout:
            if not 0 <= i < src_len:
                raise ValueError(f"Source piece {i + 1} does not exist: the source has {src_len} pieces.")
        if len(set(self.knockout)) >= src_len:
            raise ValueError("Every source piece is knocked out: attention needs at least one piece to look at.")
        if (self.force_step is None) != (self.force_source is None):
            raise ValueError("Forcing α needs both a step and a source piece.")
        if self.force_source is not None:
            if not 0 <= self.force_source < src_len:
                raise ValueError(f"Source piece {self.force_source + 1} does not exist: "
                                 f"the source has {src_len} pieces.")
            if self.force_step < 0:
                raise ValueError("The step to force must be 1 or later.")
            if self.force_source in self.knockout:
                raise ValueError("α cannot be forced onto a piece that is knocked out.")

    def attend(self, t: int, mask: torch.Tensor) -> torch.Tensor | None:
        """(B, S) where attention may look at step t, or None where nothing changes."""
        if not self.knockout and self.force_step != t:
            return None
        attend = torch.ones_like(mask)
        if self.knockout:
            attend[:, list(self.knockout)] = False
        if self.force_step == t:
            attend[:] = False
            attend[:, self.force_source] = True
        return attend


NO_INTERVENTION = Intervention()


@torch.no_grad()
def _decode_batch(model: Seq2Seq, sources: list[list[int]], max_len: int, pick,
                  prefixes: list[list[int]] | None = None, free: bool = True,
                  intervention: Intervention = NO_INTERVENTION) -> list[Hypothesis]:
    """Step all sentences together; ``pick(logp) -> (B,) ids`` chooses each next token.

    ``prefixes``: per sentence, tokens forced at the first steps (teacher forcing) whatever ``pick``
    says; with ``free=False`` decoding stops there, so the hypothesis is exactly the forced text.
    ``intervention`` applies to every sentence of the batch."""
    src, lens = pad_batch(sources)
    for n in lens:
        intervention.check(int(n))
    dev = next(model.parameters()).device
    memory, mask, (s, feed, keys) = model.encode(src.to(dev), lens)
    B = src.size(0)
    prefixes = prefixes or [[] for _ in range(B)]
    forced_len = [len(p) for p in prefixes]
    if free:
        limits = [max(max_output_len(int(n), max_len), k) for n, k in zip(lens, forced_len)]
    else:
        limits = forced_len
    prev = torch.full((B,), BOS_ID, dtype=torch.long, device=dev)
    done = torch.zeros(B, dtype=torch.bool, device=dev)
    steps_ids, steps_lp, steps_alpha, steps_top = [], [], [], []
    for t in range(max(limits)):
        s, feed, alpha = model.decoder.step(prev, s, feed, memory, mask, keys, intervention.attend(t, mask))
        logp = F.log_softmax(model.decoder.logits(feed).float(), dim=-1)   # (B, V), fp32 whatever the model
        nxt = pick(logp)
        for b, prefix in enumerate(prefixes):
            if t < len(prefix):
                nxt[b] = prefix[t]
        steps_ids.append(nxt)
        steps_lp.append(logp.gather(1, nxt[:, None]).squeeze(1))
        steps_alpha.append(alpha)
        steps_top.append(_top(logp, TOP_CANDIDATES))
        done |= nxt == EOS_ID
        if not free:
            done |= torch.tensor([t + 1 >= k for k in limits], device=dev)
        prev = nxt
        if bool(done.all()):
            break
    ids = torch.stack(steps_ids, 1).tolist()
    lps = torch.stack(steps_lp, 1).tolist()
    alphas = None if steps_alpha[0] is None else torch.stack(steps_alpha, 1).float().cpu().numpy()  # (B, T, k, S)
    hyps = []
    for b in range(B):
        own_limit = limits[b]
        T = ids[b].index(EOS_ID) + 1 if EOS_ID in ids[b][:own_limit] else own_limit
        heads = None if alphas is None else alphas[b, :T, :, : int(lens[b])]
        hyps.append(Hypothesis(ids[b][:T], lps[b][:T], heads, [st[b] for st in steps_top[:T]],
                               score=float(sum(lps[b][:T]))))
    return hyps


def _argmax(logp: torch.Tensor) -> torch.Tensor:
    return logp.argmax(-1)


def greedy(model: Seq2Seq, sources: list[list[int]], max_len: int = 100,
           intervention: Intervention = NO_INTERVENTION) -> list[Hypothesis]:
    return _decode_batch(model, sources, max_len, _argmax, intervention=intervention)


def force_decode(model: Seq2Seq, source: list[int], target: list[int],
                 intervention: Intervention = NO_INTERVENTION) -> Hypothesis:
    """Score a given output by teacher forcing: the hypothesis has exactly ``target`` as tokens (EOS
    appended if missing), log p(y_t | y_<t, x) of each, α and the top-5 the model preferred at
    each step. Runs the greedy loop with every token forced, so forcing a model's own greedy
    output reproduces its greedy log p and α exactly."""
    target = list(target) if target and target[-1] == EOS_ID else list(target) + [EOS_ID]
    if EOS_ID in target[:-1]:
        raise ValueError("The forced output has an end-of-sentence token before its end.")
    return _decode_batch(model, [source], len(target), _argmax, [target], free=False,
                         intervention=intervention)[0]


def continue_decode(model: Seq2Seq, source: list[int], prefix: list[int], max_len: int = 100,
                    intervention: Intervention = NO_INTERVENTION) -> Hypothesis:
    """Force the first ``len(prefix)`` output tokens, then decode the rest greedily."""
    if EOS_ID in prefix[:-1]:
        raise ValueError("The forced prefix has an end-of-sentence token before its end.")
    return _decode_batch(model, [source], max_len, _argmax, [list(prefix)], intervention=intervention)[0]


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


def beam_search(model: Seq2Seq, source: list[int], beam: int = 5, n_best: int = 1,
                alpha: float = LENGTH_PENALTY, max_len: int = 100) -> list[Hypothesis]:
    """Beam search for one sentence; see ``beam_search_batch``."""
    return beam_search_batch(model, [source], beam, n_best, alpha, max_len)[0]


@dataclass
class BeamNode:
    """One hypothesis the search considered: the root (BOS), or a parent extended by one token."""
    id: int
    parent: int                    # -1 for the root
    step: int                      # output step t of ``token`` (0-based); -1 for the root
    token: int
    logprob: float                 # log p(token | parent's tokens, x)
    total: float                   # Σ log p along the path
    status: str                    # see BEAM_STATUSES
    alpha: np.ndarray | None = None   # α_t (S,) the parent attended with at this step (mean over heads)
    candidates: list[tuple[int, float]] = field(default_factory=list)  # the parent's top-5 (id, p) at t
    score: float | None = None     # ranking score Σ log p / T^alpha, for finished hypotheses
    rank: int | None = None        # 1-based place in the returned n-best


BEAM_STATUSES = {
    "root": "the start (BOS)",
    "kept": "among the beam best unfinished extensions: survived to the next step",
    "pruned": "among the 2·beam best extensions considered, but not kept",
    "finished": "ended with </s>: a finished hypothesis",
    "length limit": "still unfinished at the length limit, counted as finished",
}


def beam_tree(model: Seq2Seq, source: list[int], beam: int = 5, n_best: int = 1,
              alpha: float = LENGTH_PENALTY, max_len: int = 100) -> tuple[list[Hypothesis], list[BeamNode]]:
    """Beam search for one sentence that also records the search: every extension it ranked at
    each step, kept, pruned or finished, with its score, α_t and top-5. Returns (n-best, nodes);
    the n-best are what ``beam_search`` returns, and their nodes carry ``rank``."""
    nodes: list[BeamNode] = []
    hyps = beam_search_batch(model, [source], beam, n_best, alpha, max_len, record=nodes)[0]
    return hyps, nodes


def node_path(nodes: list[BeamNode], node_id: int) -> list[int]:
    """The tokens from the root to a node (the root's BOS excluded)."""
    path = []
    while nodes[node_id].parent >= 0:
        path.append(nodes[node_id].token)
        node_id = nodes[node_id].parent
    return path[::-1]


@torch.no_grad()
def beam_search_batch(model: Seq2Seq, sources: list[list[int]], beam: int = 5, n_best: int = 1,
                      alpha: float = LENGTH_PENALTY, max_len: int = 100,
                      record: list[BeamNode] | None = None) -> list[list[Hypothesis]]:
    """Beam search over a batch of sentences, ``beam`` hypotheses each, stepped together.

    Scores are length-normalised: Σ log p / T^alpha (``LENGTH_PENALTY`` by default). A sentence is done once
    ``beam`` hypotheses have ended in EOS (or it reaches its length limit).
    Returns, per sentence, up to ``n_best`` hypotheses, best first, each with
    its own attention and candidates, rebuilt by following back-pointers.
    ``record`` (one sentence only): a list that receives the search tree (see ``beam_tree``).
    """
    if beam < 1:
        raise ValueError("beam width must be ≥ 1")
    if record is not None and len(sources) != 1:
        raise ValueError("the beam tree is recorded for one sentence at a time")
    n_best = max(1, min(n_best, beam))
    K, B = beam, len(sources)
    src, lens = pad_batch(sources)
    dev = next(model.parameters()).device
    memory, mask, (s, feed, keys) = model.encode(src.to(dev), lens)
    rows = torch.arange(B, device=dev).repeat_interleave(K)                 # (B·K,) sentence of each row
    memory, mask, s, feed = memory[rows], mask[rows], s[rows], feed[rows]
    keys = None if keys is None else (keys[:, rows] if keys.dim() == 5 else keys[rows])
    limits = [max_output_len(int(n), max_len) for n in lens]

    scores = torch.full((B, K), float("-inf"), device=dev)
    scores[:, 0] = 0.0                                                      # one live hypothesis to start
    prev = torch.full((B * K,), BOS_ID, dtype=torch.long, device=dev)
    # Per step: back-pointers and tokens of the live slots, and what each parent row saw.
    parents, tokens, token_lps, alphas, top_ids, top_ps = [], [], [], [], [], []
    finished: list[list[tuple[float, int, int, int, float]]] = [[] for _ in range(B)]  # (score, t, row, tok, lp)
    done = [False] * B
    if record is not None:
        record.append(BeamNode(0, -1, -1, BOS_ID, 0.0, 0.0, "root"))
        live = [0] + [-1] * (K - 1)                      # node id of each slot of sentence 0
        ended: dict[tuple[int, int, int], int] = {}      # (t, row, tok) of a finished entry → node id
    for t in range(max(limits)):
        s, feed, att = model.decoder.step(prev, s, feed, memory, mask, keys)
        logp = F.log_softmax(model.decoder.logits(feed).float(), dim=-1)   # (B·K, V)
        V = logp.size(1)
        p, ids = logp.exp().topk(min(TOP_CANDIDATES, V), dim=-1)
        top_ids.append(ids.cpu().numpy())
        top_ps.append(p.cpu().numpy())
        alphas.append(None if att is None else att.float().cpu().numpy())  # (B·K, k, S)
        totals = (scores.view(-1, 1) + logp).view(B, K * V)
        cand_scores, cand_idx = totals.topk(min(2 * K, K * V), dim=-1)     # (B, 2K)
        cand_lp = logp.view(B, K * V).gather(1, cand_idx)
        new_scores = torch.full((B, K), float("-inf"))
        new_parent = torch.zeros((B, K), dtype=torch.long)
        new_tok = torch.full((B, K), PAD_ID, dtype=torch.long)
        new_lp = torch.zeros((B, K))
        for b, (cs, ci, cl) in enumerate(zip(cand_scores.tolist(), cand_idx.tolist(), cand_lp.tolist())):
            if done[b]:
                continue
            filled = 0
            fates = []                                   # per candidate considered: (status, slot filled)
            for sc, idx, lp in zip(cs, ci, cl):
                if sc == float("-inf"):
                    break
                slot, tok = divmod(idx, V)
                if tok == EOS_ID:
                    finished[b].append((sc / (t + 1) ** alpha, t, b * K + slot, tok, lp))
                    fates.append(("finished", None))
                else:
                    new_scores[b, filled], new_parent[b, filled] = sc, slot
                    new_tok[b, filled], new_lp[b, filled] = tok, lp
                    fates.append(("kept", filled))
                    filled += 1
                    if filled == K:
                        break
            if record is not None:
                live = _record_step(record, live, ended, t, cs, ci, cl, fates, V, alphas[t], top_ids[t],
                                    top_ps[t], alpha)
            if len(finished[b]) >= K or filled == 0:
                done[b] = True
            elif t + 1 >= limits[b]:
                done[b] = True
                if len(finished[b]) < n_best:  # out of length: the best unfinished ones count too
                    for k in range(filled):
                        sc = float(new_scores[b, k])
                        finished[b].append((sc / (t + 1) ** alpha, t, b * K + int(new_parent[b, k]),
                                            int(new_tok[b, k]), float(new_lp[b, k])))
                        if record is not None:
                            node = record[live[k]]
                            node.status, node.score = "length limit", finished[b][-1][0]
                            ended[finished[b][-1][1:4]] = node.id
        parents.append(new_parent.numpy())
        tokens.append(new_tok.numpy())
        token_lps.append(new_lp.numpy())
        if all(done):
            break
        scores = new_scores.to(dev)
        for b in range(B):
            if done[b]:
                scores[b] = float("-inf")
        gather = (torch.arange(B)[:, None] * K + new_parent).view(-1).to(dev)  # (B·K,) parent rows
        s, feed = s[gather], feed[gather]
        prev = new_tok.view(-1).to(dev)

    def rebuild(t: int, row: int, tok: int, lp: float, score: float) -> Hypothesis:
        b = row // K
        toks, lps, heads, cands = [tok], [lp], [], []
        while True:
            heads.append(None if alphas[t] is None else alphas[t][row, :, : int(lens[b])])
            cands.append(list(zip(top_ids[t][row].tolist(), top_ps[t][row].tolist())))
            if t == 0:
                break
            slot = row - b * K                  # this row held slot ``slot`` after step t-1
            toks.append(int(tokens[t - 1][b, slot]))
            lps.append(float(token_lps[t - 1][b, slot]))
            row, t = b * K + int(parents[t - 1][b, slot]), t - 1
        heads = None if heads[0] is None else np.stack(heads[::-1])        # (T, k, S)
        return Hypothesis(toks[::-1], lps[::-1], heads, cands[::-1], score=score)

    out = []
    for b in range(B):
        best = sorted(finished[b], key=lambda f: -f[0])[:n_best]
        out.append([rebuild(t, row, tok, lp, sc) for sc, t, row, tok, lp in best])
        if record is not None:
            for rank, (_, t, row, tok, _) in enumerate(best, 1):
                record[ended[(t, row, tok)]].rank = rank
    return out


def _record_step(record: list[BeamNode], live: list[int], ended: dict, t: int, cs, ci, cl, fates, V: int,
                 alphas_t, top_ids_t, top_ps_t, alpha: float) -> list[int]:
    """Add one step's candidates of sentence 0 to the beam tree; → the node id of each new slot."""
    new_live = [-1] * len(live)
    for j, (sc, idx, lp) in enumerate(zip(cs, ci, cl)):
        if sc == float("-inf"):
            break
        slot, tok = divmod(idx, V)
        status, filled = fates[j] if j < len(fates) else ("pruned", None)
        parent = record[live[slot]]
        node = BeamNode(len(record), parent.id, t, tok, lp, sc, status,
                        None if alphas_t is None else alphas_t[slot].mean(axis=0),
                        list(zip(top_ids_t[slot].tolist(), top_ps_t[slot].tolist())))
        if status == "finished":
            node.score = sc / (t + 1) ** alpha
            ended[(t, slot, tok)] = node.id
        elif status == "kept":
            new_live[filled] = node.id
        record.append(node)
    return new_live
