"""Attention score functions. The variants differ only in the score e_{t,i}:

    α_{t,i} = softmax_i(e_{t,i})        c_t = Σ_i α_{t,i} h_i

Shapes: query s_t is (B, Q); memory h is (B, S, M); mask is (B, S), True on
real source pieces. Every variant returns ``(context, weights)`` with context
(B, M) and weights (B, heads, S), or ``(context, None)`` for ``none``.
``prepare(memory)`` computes whatever depends only on h once per sentence;
the result is returned to the caller, never stored on the module.

Adding a variant: write one class and add it to ``VARIANTS``.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """softmax over the last axis with padded positions at exactly 0.  (B, *, S)

    Always in fp32, so the weights shown sum to 1 even for a half-precision model."""
    mask = mask.view(mask.size(0), *([1] * (scores.dim() - 2)), mask.size(-1))
    return F.softmax(scores.float().masked_fill(~mask, float("-inf")), dim=-1)


class Attention(nn.Module):
    """Single-head attention: subclasses define ``score`` (and maybe ``prepare``)."""

    heads = 1

    def __init__(self, query_size: int, memory_size: int):
        super().__init__()
        self.query_size, self.memory_size = query_size, memory_size

    def prepare(self, memory: torch.Tensor) -> torch.Tensor:
        return memory

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, query, memory, mask, keys=None):
        keys = self.prepare(memory) if keys is None else keys
        e = self.score(query, keys).unsqueeze(1)                   # (B, 1, S)
        alpha = masked_softmax(e, mask)                            # (B, 1, S)
        context = torch.bmm(alpha.to(memory.dtype), memory).squeeze(1)  # (B, M)
        return context, alpha


class NoAttention(Attention):
    """No attention (the classic encoder–decoder): c_t = [→h_S ; ←h_1] for every t.

    The decoder sees only the final encoder states, the same vector at every
    step; there are no weights to show.
    """

    heads = 0

    def forward(self, query, memory, mask, keys=None):
        half = memory.size(-1) // 2
        last = mask.long().sum(1) - 1                              # (B,)
        fwd = memory[torch.arange(memory.size(0)), last, :half]    # (B, M/2) last real step
        bwd = memory[:, 0, half:]                                  # (B, M/2)
        return torch.cat([fwd, bwd], dim=-1), None


class DotAttention(Attention):
    """Dot-product score: e_{t,i} = s_tᵀ h_i  (h_i projected to the query size if they differ)."""

    def __init__(self, query_size, memory_size):
        super().__init__(query_size, memory_size)
        self.proj = None if query_size == memory_size else nn.Linear(memory_size, query_size, bias=False)

    def prepare(self, memory):
        return memory if self.proj is None else self.proj(memory)

    def score(self, query, keys):
        return torch.bmm(keys, query.unsqueeze(2)).squeeze(2)     # (B, S)


class GeneralAttention(Attention):
    """Bilinear ("general") score: e_{t,i} = s_tᵀ W h_i."""

    def __init__(self, query_size, memory_size):
        super().__init__(query_size, memory_size)
        self.W = nn.Linear(memory_size, query_size, bias=False)

    def prepare(self, memory):
        return self.W(memory)                                      # (B, S, Q) = W h_i

    def score(self, query, keys):
        return torch.bmm(keys, query.unsqueeze(2)).squeeze(2)     # (B, S)


class AdditiveAttention(Attention):
    """Additive (Bahdanau) score: e_{t,i} = vᵀ tanh(W s_t + U h_i)."""

    def __init__(self, query_size, memory_size, attention_size: int | None = None):
        super().__init__(query_size, memory_size)
        attention_size = attention_size or query_size
        self.W = nn.Linear(query_size, attention_size, bias=False)
        self.U = nn.Linear(memory_size, attention_size, bias=True)
        self.v = nn.Linear(attention_size, 1, bias=False)

    def prepare(self, memory):
        return self.U(memory)                                      # (B, S, A) = U h_i

    def score(self, query, keys):
        return self.v(torch.tanh(self.W(query).unsqueeze(1) + keys)).squeeze(2)  # (B, S)


class MultiHeadAttention(Attention):
    """Multi-head scaled dot product over k projected heads:

        e^k_{t,i} = (W^k_q s_t)ᵀ (W^k_k h_i) / √d      α^k_{t,i} = softmax_i(e^k_{t,i})
        c_t = W_o [Σ_i α^1_{t,i} W^1_v h_i ; … ; Σ_i α^k_{t,i} W^k_v h_i]

    Returns the per-head weights (B, k, S); their mean over k is the α shown.
    """

    def __init__(self, query_size, memory_size, heads: int = 4):
        super().__init__(query_size, memory_size)
        assert heads >= 2 and memory_size % heads == 0
        self.heads, self.d = heads, memory_size // heads
        self.q = nn.Linear(query_size, memory_size, bias=False)
        self.kv = nn.Linear(memory_size, 2 * memory_size, bias=False)
        self.o = nn.Linear(memory_size, memory_size, bias=False)

    def prepare(self, memory):
        B, S, _ = memory.shape
        k, v = self.kv(memory).view(B, S, 2, self.heads, self.d).unbind(2)
        return torch.stack([k.transpose(1, 2), v.transpose(1, 2)])  # (2, B, k, S, d)

    def forward(self, query, memory, mask, keys=None):
        B = query.size(0)
        k, v = (self.prepare(memory) if keys is None else keys).unbind(0)  # W^k_k h_i, W^k_v h_i: (B, k, S, d)
        q = self.q(query).view(B, self.heads, 1, self.d)                  # W^k_q s_t: (B, k, 1, d)
        e = (q @ k.transpose(2, 3)).squeeze(2) / math.sqrt(self.d)       # e^k_{t,i}: (B, k, S)
        alpha = masked_softmax(e, mask)                                  # α^k_{t,i}: (B, k, S)
        c = (alpha.unsqueeze(2).to(v.dtype) @ v).squeeze(2)             # Σ_i α^k_{t,i} W^k_v h_i: (B, k, d)
        return self.o(c.reshape(B, -1)), alpha                           # W_o [c^1 ; … ; c^k]: (B, M)


VARIANTS: dict[str, type[Attention]] = {
    "none": NoAttention,
    "dot": DotAttention,
    "general": GeneralAttention,
    "additive": AdditiveAttention,
    "multihead": MultiHeadAttention,
}

# The score of each variant as shown in the UI and README.
FORMULAS: dict[str, str] = {
    "none": "no attention: c_t = [→h_S ; ←h_1] (final encoder states)",
    "dot": "e_{t,i} = s_tᵀ h_i",
    "general": "e_{t,i} = s_tᵀ W h_i",
    "additive": "e_{t,i} = vᵀ tanh(W s_t + U h_i)",
    "multihead": "e^k_{t,i} = (W^k_q s_t)ᵀ (W^k_k h_i) / √d,  α_{t,i} = mean_k α^k_{t,i}",
}

# The same, typeset (LaTeX) for the page's About tab.
FORMULAS_TEX: dict[str, str] = {
    "none": r"c_t = [\overrightarrow{h}_S ; \overleftarrow{h}_1] \quad \text{(no } \alpha \text{)}",
    "dot": r"e_{t,i} = s_t^\top h_i",
    "general": r"e_{t,i} = s_t^\top W h_i",
    "additive": r"e_{t,i} = v^\top \tanh(W s_t + U h_i)",
    "multihead": r"e^k_{t,i} = \frac{(W^k_q s_t)^\top (W^k_k h_i)}{\sqrt{d}}, \quad "
                 r"\alpha_{t,i} = \frac{1}{K} \sum_k \alpha^k_{t,i}",
}


def make_attention(name: str, query_size: int, memory_size: int) -> Attention:
    if name not in VARIANTS:
        raise ValueError(f"unknown attention variant {name!r}; choose one of {', '.join(VARIANTS)}")
    return VARIANTS[name](query_size, memory_size)
