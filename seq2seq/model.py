"""The encoder–decoder, identical for every attention variant:

    encoder  h_i = f(x_i, h_{i-1})          bidirectional GRU, packed sequences
    decoder  s_t = GRU([E y_{t-1} ; s̃_{t-1}], s_{t-1})          (input feeding)
             (c_t, α_t) = attention(s_t, h)
             s̃_t = tanh(W_c [s_t ; c_t ; E y_{t-1}])
             p(y_t | y_<t, x) = softmax(E s̃_t + b)   i.e. g(y_{t-1}, s_t, c_t)

One embedding E (joint vocabulary) serves source, target and output layer.
"""
from __future__ import annotations

from dataclasses import dataclass, asdict, fields

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .attention import make_attention
from .tokenizer import DEFAULT_DIRECTION, DIRECTIONS, PAD_ID


@dataclass
class ModelConfig:
    variant: str = "additive"
    vocab_size: int = 8000
    emb_size: int = 256
    enc_hidden: int = 192        # per direction; memory size is 2 × this
    dec_hidden: int = 384        # = 2 × enc_hidden, so ``dot`` needs no projection
    dropout: float = 0.2
    # One direction: the source is plain text. Two: one model translates both ways, each
    # source opened by its target-language tag (``Tokenizer.source_prefix``).
    directions: tuple[str, ...] = ("de-en",)

    def __post_init__(self):
        self.directions = tuple(self.directions)
        if not self.directions or len(set(self.directions)) != len(self.directions) or len(self.directions) > 2:
            raise ValueError(f"directions must be one or two distinct directions, got {self.directions}")
        if len(self.directions) == 2 and self.directions[1] != reverse(self.directions[0]):
            raise ValueError(f"two directions must be one language pair both ways, got {self.directions}")
        for d in self.directions:
            if d.count("-") != 1 or not all(d.split("-")):
                raise ValueError(f"a direction reads 'source-target', e.g. {DIRECTIONS[0]}; got {d!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["directions"] = list(self.directions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**d)


def reverse(direction: str) -> str:
    src, tgt = direction.split("-")
    return f"{tgt}-{src}"


def orient(pairs: list[tuple[str, str]], direction: str, directions: tuple[str, ...]) -> list[tuple[str, str]]:
    """(source, target) pairs for ``direction``: data files hold pairs German first (as
    ``DEFAULT_DIRECTION`` reads them), so the reverse direction reads them reversed."""
    if direction not in directions:
        raise ValueError(f"this model translates {', '.join(directions)}, not {direction}")
    return [(t, s) for s, t in pairs] if direction == reverse(DEFAULT_DIRECTION) else list(pairs)


class Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig, embed: nn.Embedding):
        super().__init__()
        self.embed = embed
        self.rnn = nn.GRU(cfg.emb_size, cfg.enc_hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, src: torch.Tensor, src_len: torch.Tensor, embedded: torch.Tensor | None = None):
        """src (B, S) ids, src_len (B,) → memory (B, S, 2H), final (B, 2H) = [→h_S ; ←h_1].

        ``embedded`` (B, S, E) replaces the looked-up embeddings E x_i: gradient attribution
        differentiates with respect to them."""
        x = self.dropout(self.embed(src) if embedded is None else embedded)  # (B, S, E)
        if bool((src_len == src.size(1)).all()):
            # No padding (one sentence, always): packing would give the same numbers, but its
            # backward pass zero-fills the whole input once per step, and it has no forward mode.
            memory, h_n = self.rnn(x)                                       # h_n (2, B, H)
        else:
            packed = pack_padded_sequence(x, src_len.cpu(), batch_first=True, enforce_sorted=False)
            out, h_n = self.rnn(packed)
            memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        return self.dropout(memory), torch.cat([h_n[0], h_n[1]], dim=-1)


class Decoder(nn.Module):
    def __init__(self, cfg: ModelConfig, embed: nn.Embedding):
        super().__init__()
        mem = 2 * cfg.enc_hidden
        self.embed = embed
        self.bridge = nn.Linear(mem, cfg.dec_hidden)
        self.cell = nn.GRUCell(cfg.emb_size + cfg.emb_size, cfg.dec_hidden)
        self.attention = make_attention(cfg.variant, cfg.dec_hidden, mem)
        self.combine = nn.Linear(cfg.dec_hidden + mem + cfg.emb_size, cfg.emb_size)
        self.out_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.dropout = nn.Dropout(cfg.dropout)
        self.emb_size = cfg.emb_size

    def init_state(self, memory, final, mask):
        """(s_0, s̃_0, keys): keys are the attention's per-sentence precomputation."""
        s0 = torch.tanh(self.bridge(final))                                 # (B, D)
        feed0 = memory.new_zeros(memory.size(0), self.emb_size)             # (B, E)
        return s0, feed0, self.attention.prepare(memory)

    def step(self, prev: torch.Tensor, s, feed, memory, mask, keys, attend: torch.Tensor | None = None):
        """One decoder step. prev (B,) → s_t (B, D), s̃_t (B, E), α_t (B, heads, S) or None.

        ``attend`` (B, S), True where attention may look (default: ``mask``), is how interventions
        enter: a knocked-out piece is False at every step (masked out of the softmax), and forcing
        α_t onto piece j leaves only j True at step t, so α_t is exactly one-hot. ``none`` has no
        softmax to mask and ignores it."""
        y = self.dropout(self.embed(prev))                                  # (B, E)
        s = self.cell(torch.cat([y, feed], dim=-1), s)                      # (B, D)
        if attend is not None and self.attention.heads > 0:
            mask = mask & attend
        c, alpha = self.attention(s, memory, mask, keys)                   # (B, M), (B, k, S)
        feed = torch.tanh(self.combine(torch.cat([s, c, y], dim=-1)))       # (B, E)
        return s, self.dropout(feed), alpha

    def logits(self, feed: torch.Tensor) -> torch.Tensor:
        return F.linear(feed, self.embed.weight, self.out_bias)             # (..., V)


class Seq2Seq(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.emb_size, padding_idx=PAD_ID)
        nn.init.normal_(self.embed.weight, std=cfg.emb_size ** -0.5)
        with torch.no_grad():
            self.embed.weight[PAD_ID].zero_()
        self.encoder = Encoder(cfg, self.embed)
        self.decoder = Decoder(cfg, self.embed)

    @property
    def has_attention(self) -> bool:
        return self.decoder.attention.heads > 0

    def encode(self, src, src_len, embedded=None):
        """→ memory (B, S, 2H), mask (B, S), decoder start state. ``embedded``: see ``Encoder``."""
        memory, final = self.encoder(src, src_len, embedded)
        mask = src != PAD_ID
        return memory, mask, self.decoder.init_state(memory, final, mask)

    def forward(self, src, src_len, tgt_in):
        """Teacher forcing. tgt_in (B, T) starts with BOS → logits (B, T, V), α (B, T, k, S) or None."""
        memory, mask, (s, feed, keys) = self.encode(src, src_len)
        feeds, alphas = [], []
        for t in range(tgt_in.size(1)):
            s, feed, alpha = self.decoder.step(tgt_in[:, t], s, feed, memory, mask, keys)
            feeds.append(feed)
            alphas.append(alpha)
        logits = self.decoder.logits(torch.stack(feeds, dim=1))            # (B, T, V)
        weights = None if alphas[0] is None else torch.stack(alphas, dim=1)
        return logits, weights

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
