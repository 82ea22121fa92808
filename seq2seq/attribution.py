"""Gradient × input attribution beside attention, and how far the two agree.

Attention says where the decoder looked; a gradient says what the output is
sensitive to. For output step t and source piece i with embedding x_i = E x_i:

    g_{t,i} = | (∂ log p(y_t | y_<t, x) / ∂ x_i) · x_i |          gradient × input, one value per piece
    a_{t,i} = g_{t,i} / Σ_j g_{t,j}                               each row sums to 1, like α_t

Every variant has it, ``none`` included: it has no α, but its output does depend
on the source. The target is teacher-forced (the same tokens as the α it is
set beside), so both matrices have identical axes.

Agreement of one sentence, over its output steps t (``</s>`` included):

    ρ     = mean_t Spearman(α_t, a_t)                  rank correlation over source pieces
    share = mean_t [argmax_i α_{t,i} = argmax_i a_{t,i}]

A step whose α_t or a_t is constant (e.g. a one-piece source) has no rank
correlation and is left out of ρ.
"""
from __future__ import annotations

import copy
import weakref

import numpy as np
import torch
import torch.nn.functional as F

from .model import Seq2Seq
from .tokenizer import BOS_ID, EOS_ID

_FLOAT_COPIES: "weakref.WeakKeyDictionary[Seq2Seq, Seq2Seq]" = weakref.WeakKeyDictionary()


def float_model(model: Seq2Seq) -> Seq2Seq:
    """The model in fp32: gradients of an fp16 model on a CPU are slow and coarse. One copy per
    model object, made on first use and dropped with it."""
    if next(model.parameters()).dtype == torch.float32:
        return model
    if model not in _FLOAT_COPIES:
        _FLOAT_COPIES[model] = copy.deepcopy(model).float().eval()
    return _FLOAT_COPIES[model]


ROWS_PER_PASS = 16      # target rows attributed together: memory grows with it, passes shrink


def gradient_x_input(model: Seq2Seq, source: list[int], target: list[int],
                     rows_per_pass: int = ROWS_PER_PASS) -> np.ndarray:
    """(T, S) attribution a_{t,i} of each target token (EOS appended if missing) to each source piece.

    The sentence is repeated once per target row in a batch, and row t back-propagates only
    log p(y_t), so row t of the gradient is ∂ log p(y_t) / ∂ x. Rows go ``rows_per_pass`` at a
    time, one forward and one backward pass each, so the tape holds at most that many copies of
    the sentence (all T at once grew as T² × S and took gigabytes for a paragraph). Row t needs
    only the decoder steps up to t, so a pass drops a row after its step."""
    if model.training:
        raise ValueError("attribution needs the model in eval mode (dropout off)")
    model = float_model(model)
    target = list(target) if target and target[-1] == EOS_ID else list(target) + [EOS_ID]
    T = len(target)
    rows = [_rows(model, source, target, a, min(a + max(1, int(rows_per_pass)), T)) for a in range(0, T, max(1, int(rows_per_pass)))]
    return normalise_rows(np.concatenate(rows))


def _rows(model: Seq2Seq, source: list[int], target: list[int], first: int, last: int) -> np.ndarray:
    """|∂ log p(y_t)/∂x_i · x_i| for t in [first, last): the batch's row k is target row first + k."""
    K, S = last - first, len(source)
    src = torch.tensor([source] * K)                                        # (K, S)
    tgt = torch.tensor(target)                                              # (T,)
    with torch.enable_grad():
        x = model.embed(src).detach().requires_grad_(True)                 # (K, S, E)
        memory, mask, (s, feed, keys) = model.encode(src, torch.full((K,), S), embedded=x)
        prev = torch.full((K,), BOS_ID, dtype=torch.long)
        picked = []
        for t in range(last):
            s, feed, _ = model.decoder.step(prev, s, feed, memory, mask, keys)
            if t >= first:
                # Row t (now the first left) ends here, so the batch shrinks by one a step.
                logp = F.log_softmax(model.decoder.logits(feed[:1]), dim=-1)    # (1, V)
                picked.append(logp[0, tgt[t]])
                s, feed, memory, mask = s[1:], feed[1:], memory[1:], mask[1:]
                keys = None if keys is None else (keys[:, 1:] if keys.dim() == 5 else keys[1:])
            prev = tgt[t].expand(s.size(0))                                # y_t feeds step t+1
        (grad,) = torch.autograd.grad(torch.stack(picked).sum(), x)          # (K, S, E)
    return (grad * x.detach()).sum(-1).abs().double().numpy()                # (K, S)


def normalise_rows(g: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to 1; an all-zero row (no sensitivity at all) becomes uniform."""
    g = np.asarray(g, dtype=np.float64)
    total = g.sum(-1, keepdims=True)
    uniform = np.full_like(g, 1.0 / g.shape[-1])
    return np.where(total > 0, g / np.where(total > 0, total, 1.0), uniform)


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their mean rank (as Spearman's ρ needs)."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    r[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):
        tied = x == value
        r[tied] = r[tied].mean()
    return r


def spearman(a, b) -> float:
    """Spearman's rank correlation of two vectors; NaN where either is constant."""
    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else float("nan")


def agreement(attention: np.ndarray, attribution: np.ndarray) -> dict:
    """Per-sentence agreement of α (T, S) and attribution (T, S): see the module's docstring.

    → {"spearman": mean ρ over steps where defined (NaN if none), "argmax": share of steps whose
    argmax agree, "steps": T, "rho_steps": the number of steps ρ is defined on}."""
    attention, attribution = np.asarray(attention), np.asarray(attribution)
    if attention.shape != attribution.shape or attention.ndim != 2 or attention.shape[0] == 0:
        raise ValueError(f"α {attention.shape} and attribution {attribution.shape} must be the same (T, S)")
    rhos = [spearman(a, b) for a, b in zip(attention, attribution)]
    defined = [r for r in rhos if not np.isnan(r)]
    same = attention.argmax(-1) == attribution.argmax(-1)
    return {"spearman": float(np.mean(defined)) if defined else float("nan"),
            "argmax": float(same.mean()), "steps": len(rhos), "rho_steps": len(defined)}


# ---- contrastive questions ------------------------------------------------------------------
#
# Why y_t and not y'_t? (Yin & Neubig 2022, "Interpreting Language Models with Contrastive
# Explanations"). The contrast is the log-odds of the two tokens at step t, with y_<t forced:
#
#     Δ_t = log p(y_t | y_<t, x) − log p(y'_t | y_<t, x)        the softmax's normaliser cancels
#     c_{t,i} = (∂ Δ_t / ∂ x_i) · x_i                             signed: > 0 pushes towards y_t
#
# Unlike a_{t,i} it keeps its sign, since a source piece can speak for the chosen token or for
# the alternative. Every variant has it, ``none`` included.

def contrastive_x_input(model: Seq2Seq, source: list[int], target: list[int], step: int,
                        alternative: int) -> dict:
    """Why ``target[step]`` and not ``alternative``, with ``target[:step]`` forced.

    → {"chosen": log p(y_t), "alternative": log p(y'_t), "difference": Δ_t,
       "attribution": c_t (S,) signed, "share": |c_t| / Σ_i |c_{t,i}| (S,)}."""
    if model.training:
        raise ValueError("attribution needs the model in eval mode (dropout off)")
    if not 0 <= step < len(target):
        raise ValueError(f"step {step} is outside the target's {len(target)} tokens")
    model = float_model(model)
    src = torch.tensor([source])                                               # (1, S)
    with torch.enable_grad():
        x = model.embed(src).detach().requires_grad_(True)                    # (1, S, E)
        memory, mask, (s, feed, keys) = model.encode(src, torch.tensor([len(source)]), embedded=x)
        for prev in [BOS_ID, *target[:step]]:                                  # steps 0..t, teacher-forced
            s, feed, _ = model.decoder.step(torch.tensor([prev]), s, feed, memory, mask, keys)
        logp = F.log_softmax(model.decoder.logits(feed), dim=-1)[0]            # (V,)
        difference = logp[target[step]] - logp[alternative]
        (grad,) = torch.autograd.grad(difference, x)                           # (1, S, E)
    c = (grad * x.detach()).sum(-1)[0].double().numpy()                        # (S,)
    total = np.abs(c).sum()
    share = np.abs(c) / total if total > 0 else np.full(len(c), 1.0 / len(c))
    logp = logp.detach()
    return {"chosen": float(logp[target[step]]), "alternative": float(logp[alternative]),
            "difference": float(difference.detach()), "attribution": c, "share": share}
