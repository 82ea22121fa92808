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
from .tokenizer import BOS_ID, EOS_ID, PAD_ID

_FLOAT_COPIES: "weakref.WeakKeyDictionary[Seq2Seq, Seq2Seq]" = weakref.WeakKeyDictionary()


def float_model(model: Seq2Seq) -> Seq2Seq:
    """The model in fp32: gradients of an fp16 model on a CPU are slow and coarse. One copy per
    model object, made on first use and dropped with it."""
    if next(model.parameters()).dtype == torch.float32:
        return model
    if model not in _FLOAT_COPIES:
        _FLOAT_COPIES[model] = copy.deepcopy(model).float().eval()
    return _FLOAT_COPIES[model]


ROWS_PER_PASS = 16      # target rows per batched backward pass through the decoder


def gradient_x_input(model: Seq2Seq, source: list[int], target: list[int],
                     rows_per_pass: int | None = None) -> np.ndarray:
    """(T, S) attribution a_{t,i} of each target token (EOS appended if missing) to each source piece.

    One teacher-forced forward pass of the sentence alone keeps the tape; row t's cotangent at
    s̃_t is ∂ log p(y_t) / ∂ s̃_t (``_Tape.x_input``), so no row needs a copy of the sentence."""
    if model.training:
        raise ValueError("attribution needs the model in eval mode (dropout off)")
    model = float_model(model)
    target = list(target) if target and target[-1] == EOS_ID else list(target) + [EOS_ID]
    with torch.enable_grad():
        tape = _Tape(model, source, target)
        feeds = tape.feeds.detach()                                         # (T, E)
        with torch.no_grad():
            p = F.softmax(model.decoder.logits(feeds), dim=-1)              # (T, V)
            # log p(y_t) = E_{y_t} · s̃_t + b_{y_t} − log Σ_v exp(E_v · s̃_t + b_v), so
            # ∂ log p(y_t) / ∂ s̃_t = E_{y_t} − Σ_v p_t(v) E_v
            weight = model.embed.weight
            cotangents = weight[torch.tensor(target)] - p @ weight          # (T, E)
        g = tape.x_input(range(len(target)), cotangents, rows_per_pass)      # (T, S)
    return normalise_rows(g.abs().double().numpy())


class _Tape:
    """One teacher-forced forward pass, batch of one, on the tape. The decoder starts from copies
    of the encoder's outputs (leaves), so its backward passes stop there and the encoder's runs
    once for all rows."""

    def __init__(self, model: Seq2Seq, source: list[int], target: list[int]):
        src = torch.tensor([source])                                           # (1, S)
        self.x = model.embed(src).detach().requires_grad_(True)               # (1, S, E)
        self.encoded = model.encoder(src, torch.tensor([len(source)]), embedded=self.x)  # (1, S, M), (1, M)
        self.leaves = tuple(t.detach().requires_grad_(True) for t in self.encoded)
        memory, final = self.leaves
        mask = src != PAD_ID                                                   # as ``Seq2Seq.encode``
        s, feed, keys = model.decoder.init_state(memory, final, mask)
        feeds = []
        for prev in [BOS_ID, *target[:-1]]:                                    # y_{t-1} feeds step t
            s, feed, _ = model.decoder.step(torch.tensor([prev]), s, feed, memory, mask, keys)
            feeds.append(feed)
        self.feeds = torch.cat(feeds)                                          # s̃_t: (T, E)

    def x_input(self, steps, cotangents: torch.Tensor, rows_per_pass: int | None = None) -> torch.Tensor:
        """(R, S) signed: row r is (∂ (cotangent_r · s̃_{steps[r]}) / ∂ x_i) · x_i.

        The rows go back through the decoder ``rows_per_pass`` at a time, each pass batched
        over its rows and reaching only the steps up to its last (row t needs no later step),
        then all rows go back through the encoder in one batched pass."""
        steps, n = list(steps), max(1, int(rows_per_pass or ROWS_PER_PASS))
        E = self.feeds.size(1)
        at_leaves = []
        for a in range(0, len(steps), n):
            rows = steps[a:a + n]
            last = max(rows) + 1
            seed = self.feeds.new_zeros(len(rows), last, E)                   # (K, last, E)
            seed[torch.arange(len(rows)), torch.tensor(rows)] = cotangents[a:a + n]
            at_leaves.append(torch.autograd.grad(self.feeds[:last], self.leaves, seed, retain_graph=True,
                                                 is_grads_batched=True, materialize_grads=True))
        seeds = tuple(torch.cat(parts) for parts in zip(*at_leaves))         # (R, 1, S, M), (R, 1, M)
        (grad,) = torch.autograd.grad(self.encoded, self.x, seeds, is_grads_batched=True)  # (R, 1, S, E)
        return (grad[:, 0] * self.x.detach()[0]).sum(-1)                       # (R, S)


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
    with torch.enable_grad():
        tape = _Tape(model, source, target[:step + 1])                          # steps 0..t, teacher-forced
        with torch.no_grad():
            logp = F.log_softmax(model.decoder.logits(tape.feeds[-1]), dim=-1)   # (V,)
            # Δ_t = (E_{y_t} − E_{y'}) · s̃_t + b_{y_t} − b_{y'}: its gradient at s̃_t
            weight = model.embed.weight
            cotangent = (weight[target[step]] - weight[alternative]).unsqueeze(0)  # (1, E)
        c = tape.x_input([step], cotangent)[0].double().numpy()                 # (S,)
    difference = logp[target[step]] - logp[alternative]
    total = np.abs(c).sum()
    share = np.abs(c) / total if total > 0 else np.full(len(c), 1.0 / len(c))
    return {"chosen": float(logp[target[step]]), "alternative": float(logp[alternative]),
            "difference": float(difference), "attribution": c, "share": share}
