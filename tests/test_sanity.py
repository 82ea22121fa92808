"""Attention must be real: on synthetic copy and reverse tasks every attention
variant learns the task and looks where it should (the diagonal for copy, the
anti-diagonal for reverse), while ``none`` — one fixed vector for the whole
source — fails on long inputs.

Each model trains for a fixed number of steps on one thread (seeded, so the
run is reproducible); the whole file takes a few minutes of CPU.
"""
from __future__ import annotations

import functools
import random
import time

import numpy as np
import pytest
import torch

from seq2seq.model import ModelConfig, Seq2Seq
from seq2seq.search import greedy
from seq2seq.tokenizer import EOS_ID
from seq2seq.train import batch_tensors, train_step

N_SYMBOLS = 20
FIRST = 4                      # ids 0..3 are the special ids
VOCAB = FIRST + N_SYMBOLS
MIN_LEN, MAX_LEN = 3, 12
LONG = 10                      # "long" inputs for the no-attention comparison
STEPS, BATCH, LR = 1000, 64, 5e-3
N_TEST = 300
ATTENTION = ["dot", "general", "additive", "multihead"]
TASKS = {"copy": lambda s: list(s), "reverse": lambda s: s[::-1]}


def sequences(rng: random.Random, n: int) -> list[list[int]]:
    return [[rng.randrange(FIRST, VOCAB) for _ in range(rng.randint(MIN_LEN, MAX_LEN))] for _ in range(n)]


@functools.lru_cache(maxsize=None)
def trained(variant: str, task: str) -> dict:
    """Train one small model and measure it on held-out sequences."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = random.Random(0)
    f = TASKS[task]
    cfg = ModelConfig(variant=variant, vocab_size=VOCAB, emb_size=32, enc_hidden=16, dec_hidden=32, dropout=0.0)
    model = Seq2Seq(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    # constant rate for the first half, then linear decay: the last steps sharpen the attention
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 1.0 if i < STEPS // 2 else max(0.05, (STEPS - i) / (STEPS - STEPS // 2)))
    cpu0 = time.process_time()
    model.train()
    seen: set[tuple[int, ...]] = set()
    for _ in range(STEPS):
        src = sequences(rng, BATCH)
        seen.update(map(tuple, src))
        loss, _ = train_step(model, opt, batch_tensors(src, [f(x) for x in src], range(BATCH), "cpu"), 0.0, 1.0)
        sched.step()
    cpu = time.process_time() - cpu0

    model.eval()
    test_rng, test = random.Random(12345), []
    while len(test) < N_TEST:  # held out: never seen in training
        test += [x for x in sequences(test_rng, N_TEST) if tuple(x) not in seen][: N_TEST - len(test)]
    hyps = greedy(model, test, max_len=3 * MAX_LEN)
    exact, exact_long, on_line, steps = [], [], 0, 0
    for src, hyp in zip(test, hyps):
        ok = hyp.tokens == f(src) + [EOS_ID]
        exact.append(ok)
        if len(src) >= LONG:
            exact_long.append(ok)
        if hyp.attention is not None:
            att = hyp.attention                               # (T, S), mean over heads
            for t in range(min(len(src), att.shape[0])):       # target steps, EOS step excluded
                where = t if task == "copy" else len(src) - 1 - t
                on_line += int(np.argmax(att[t]) == where)
                steps += 1
    return {"exact": float(np.mean(exact)), "exact_long": float(np.mean(exact_long)),
            "on_line": on_line / steps if steps else None, "cpu_s": cpu, "loss": loss}


def _describe(variant, task, r):
    return (f"{variant}/{task}: exact {r['exact']:.3f}, exact on ≥{LONG} {r['exact_long']:.3f}, "
            f"argmax on the {'diagonal' if task == 'copy' else 'anti-diagonal'} "
            f"{'n/a' if r['on_line'] is None else format(r['on_line'], '.3f')}, "
            f"loss {r['loss']:.3f}, {r['cpu_s']:.0f} s CPU")


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("variant", ATTENTION)
def test_attention_learns_and_aligns(variant, task):
    r = trained(variant, task)
    print(_describe(variant, task, r))
    assert r["exact"] >= 0.95, _describe(variant, task, r)
    assert r["on_line"] >= 0.90, _describe(variant, task, r)


def test_no_attention_is_worse_on_long_inputs():
    none = trained("none", "copy")
    print(_describe("none", "copy", none))
    assert none["on_line"] is None
    worst_attention = min(trained(v, "copy")["exact_long"] for v in ATTENTION)
    assert worst_attention >= 0.9
    assert none["exact_long"] <= 0.5
    assert none["exact_long"] <= worst_attention - 0.4, (none, worst_attention)
