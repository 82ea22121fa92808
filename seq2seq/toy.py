"""Toy tasks: copy, reverse or sort a sequence of digits, with tiny versions of
the real encoder–decoder (``seq2seq/model.py``), one per attention variant.

On these tasks the right alignment is known, so one can watch attention form:

    copy      y_t = x_t               α_t should peak at i = t        (the diagonal)
    reverse   y_t = x_{S+1-t}         α_t should peak at i = S+1-t    (the anti-diagonal)
    sort      y = sorted(x)           α_t should peak on a source digit equal to y_t
                                      (an alignment no fixed diagonal describes)

``none`` must squeeze the whole sequence into the final encoder states; it
copies short sequences but fails on long ones, which is the point.

The trainer is deterministic: the model, its initialisation and every batch
follow from ``ToyConfig`` alone (one CPU thread, dropout 0), so a run that
finishes its steps gives the same weights on the command line and in the
browser. ``train_toy`` is a generator that yields ``Progress`` (loss, greedy
output and α on a fixed probe sequence) and can be stopped or capped in time.
"""
from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from . import checkpoint as ckpt
from .attention import VARIANTS
from .model import ModelConfig, Seq2Seq
from .search import greedy, pad_batch
from .tokenizer import BOS_ID, EOS_ID, PAD_ID, SPECIAL_IDS
from .translator import InputError, check_number

SYMBOLS = "0123456789"
FIRST_SYMBOL_ID = len(SPECIAL_IDS)           # ids 0–3 are the special ids of tokenizer.py
VOCAB_SIZE = FIRST_SYMBOL_ID + len(SYMBOLS)
TASKS = ("copy", "reverse", "sort")
SHIPPED_TASKS = ("copy", "reverse")           # assets/toy; sort is trained live only
MIN_LEN, MAX_LEN = 1, 15                      # training lengths, and the longest input accepted
LONG = 11                                     # sequences this long or longer count as long in reports
MAX_INPUT_CHARS = 200                         # raw text, before spaces and commas are dropped
PROBE = "4902718365"                          # the fixed probe: ten distinct digits, so every alignment is readable
TEST_SEED, TEST_SIZE = 987_654, 600           # the held-out test sequences of the sanity bar
MAX_SEED = 2**31 - 1
LIVE_CAP_S = 30.0                             # a live training in the browser stops after this
REPORT_EVERY_S = 1.0                          # progress at least this often (wall clock)
TOY_ASSETS = ckpt.ASSETS / "toy"
MANIFEST = ckpt.MANIFEST


class ToyInputError(InputError):
    """Input the toy models cannot take; the message is safe to show."""


class TrainerBusy(RuntimeError):
    """A live training is already running."""


@dataclass
class ToyConfig:
    task: str = "copy"
    variant: str = "additive"
    seed: int = 0
    steps: int = 1200
    batch_size: int = 32
    lr: float = 5e-3
    emb_size: int = 16
    enc_hidden: int = 16          # per direction; small, so α cannot lean on neighbours' states
    dec_hidden: int = 32          # = 2 × enc_hidden, as in the real models: ``dot`` needs no projection
    min_len: int = MIN_LEN
    max_len: int = MAX_LEN

    def __post_init__(self):
        check_task(self.task)
        if not isinstance(self.variant, str) or self.variant not in VARIANTS:
            raise ToyInputError(f"Unknown variant {self.variant!r}; choose one of {', '.join(VARIANTS)}.")
        if not 1 <= self.min_len <= self.max_len <= MAX_LEN:
            raise ToyInputError(f"Lengths must satisfy 1 ≤ min_len ≤ max_len ≤ {MAX_LEN}.")

    def model_config(self) -> ModelConfig:
        return ModelConfig(variant=self.variant, vocab_size=VOCAB_SIZE, emb_size=self.emb_size,
                           enc_hidden=self.enc_hidden, dec_hidden=self.dec_hidden, dropout=0.0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ToyConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# ---- sequences ------------------------------------------------------------------------------

def parse_sequence(text) -> str:
    """User text → a digit string, or ToyInputError. Spaces and commas between digits are allowed."""
    if text is None or (isinstance(text, str) and not text.strip()):
        raise ToyInputError("Type a sequence of digits, e.g. 4 9 0 2 7.")
    if not isinstance(text, str):
        raise ToyInputError(f"The sequence must be text, not {type(text).__name__}.")
    if len(text) > MAX_INPUT_CHARS:
        raise ToyInputError(f"The text is {len(text)} characters long; type at most {MAX_LEN} digits.")
    seq = "".join(ch for ch in text if not ch.isspace() and ch != ",")
    bad = sorted({ch for ch in seq if ch not in SYMBOLS})
    if bad:
        shown = " ".join(repr(ch) for ch in bad[:5])
        raise ToyInputError(f"Only the digits 0–9 are symbols here, not {shown}.")
    if not seq:
        raise ToyInputError("Type a sequence of digits, e.g. 4 9 0 2 7.")
    if len(seq) > MAX_LEN:
        raise ToyInputError(f"The sequence has {len(seq)} digits; the toy models take at most {MAX_LEN}.")
    return seq


def check_task(task) -> str:
    if not isinstance(task, str) or task not in TASKS:
        raise ToyInputError(f"Unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    return task


def check_seed(seed) -> int:
    """A seed from a form: a whole number in [0, MAX_SEED] (2.0 is 2; True, 2.5 and NaN are refused),
    checked by the library's one number check."""
    try:
        return check_number(seed, "The seed", 0, MAX_SEED, integer=True)
    except InputError as exc:
        raise ToyInputError(str(exc)) from None


def target(task: str, seq: str) -> str:
    if check_task(task) == "copy":
        return seq
    if task == "reverse":
        return seq[::-1]
    return "".join(sorted(seq))


def aligned_positions(task: str, seq: str) -> list[set[int]]:
    """For each output step t, the source positions that α_t should peak on."""
    S = len(seq)
    if task == "copy":
        return [{t} for t in range(S)]
    if task == "reverse":
        return [{S - 1 - t} for t in range(S)]
    return [{i for i in range(S) if seq[i] == y} for y in target(task, seq)]


def encode(seq: str) -> list[int]:
    return [FIRST_SYMBOL_ID + SYMBOLS.index(ch) for ch in seq]


def decode(ids) -> str:
    """Output ids → digits, up to the first EOS; a special id other than EOS shows as '?'."""
    out = []
    for i in ids:
        i = int(i)
        if i == EOS_ID:
            break
        out.append(SYMBOLS[i - FIRST_SYMBOL_ID] if i >= FIRST_SYMBOL_ID else "?")
    return "".join(out)


def random_sequence(rng: random.Random, min_len: int = MIN_LEN, max_len: int = MAX_LEN) -> str:
    return "".join(rng.choice(SYMBOLS) for _ in range(rng.randint(min_len, max_len)))


def test_sequences(n: int = TEST_SIZE, seed: int = TEST_SEED) -> list[str]:
    """Held-out sequences, lengths spread evenly over MIN_LEN..MAX_LEN."""
    rng = random.Random(seed)
    return [random_sequence(rng, L, L) for k in range(n) for L in [MIN_LEN + k % (MAX_LEN - MIN_LEN + 1)]]


def make_batch(cfg: ToyConfig, gen: torch.Generator):
    """One training batch (src, src_len, tgt_in, tgt_out) drawn from ``gen``."""
    lens = torch.randint(cfg.min_len, cfg.max_len + 1, (cfg.batch_size,), generator=gen).tolist()
    digits = torch.randint(0, len(SYMBOLS), (cfg.batch_size, cfg.max_len), generator=gen).tolist()
    seqs = ["".join(SYMBOLS[d] for d in row[:n]) for row, n in zip(digits, lens)]
    src, src_len = pad_batch([encode(s) for s in seqs])
    tgt_in, _ = pad_batch([[BOS_ID] + encode(target(cfg.task, s)) for s in seqs])
    tgt_out, _ = pad_batch([encode(target(cfg.task, s)) + [EOS_ID] for s in seqs])
    return src, src_len, tgt_in, tgt_out


# ---- model and training ---------------------------------------------------------------------

def new_model(cfg: ToyConfig) -> Seq2Seq:
    """The initial weights follow from ``cfg.seed`` alone; torch's global generator is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return Seq2Seq(cfg.model_config())


@dataclass
class Progress:
    step: int
    steps: int
    loss: float | None            # mean training loss since the last report
    seconds: float
    output: str                   # greedy output on the probe
    alpha: np.ndarray | None      # (T, S) α on the probe, teacher-forced on its target; None for ``none``
    losses: list[tuple[int, float]]   # (step, loss) of every report so far
    done: bool = False
    reason: str = ""              # when done: "finished", "time cap" or "stopped"
    model: Seq2Seq | None = None  # when done: the trained model


@torch.no_grad()
def probe(model: Seq2Seq, task: str, seq: str = PROBE) -> tuple[str, np.ndarray | None]:
    """(greedy output, α (T, S) under teacher forcing on the correct output) for one sequence.

    Teacher forcing keeps the heatmap's rows fixed (the correct output digits) while the
    model learns, so one sees the same grid sharpen; the greedy output shows what it says."""
    was_training = model.training
    model.eval()
    src, src_len = pad_batch([encode(seq)])
    hyp = greedy(model, [encode(seq)], max_len=2 * MAX_LEN)[0]
    tgt = encode(target(task, seq))
    _, weights = model(src, src_len, torch.tensor([[BOS_ID] + tgt]))
    model.train(was_training)
    alpha = None if weights is None else weights[0, : len(tgt)].float().mean(1).numpy()  # (T, S)
    return decode(hyp.tokens), alpha


def train_toy(cfg: ToyConfig, *, time_cap: float | None = None, stop: threading.Event | None = None,
              report_every: float = REPORT_EVERY_S, stop_after: int | None = None) -> Iterator[Progress]:
    """Train a tiny model from scratch, yielding Progress at step 0, at least every
    ``report_every`` seconds, and once at the end (``done``, with the model).

    It ends after ``cfg.steps`` steps, after ``time_cap`` seconds, when ``stop`` is set, or
    after ``stop_after`` steps. The weights after k steps depend on ``cfg`` and k only, never
    on the clock or the reports: a run cut short at step k is ``stop_after=k``'s run."""
    start = time.monotonic()
    with _one_thread():
        model = new_model(cfg)
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        gen = torch.Generator().manual_seed(cfg.seed)
        losses: list[tuple[int, float]] = []
        output, alpha = probe(model, cfg.task)
        yield Progress(0, cfg.steps, None, 0.0, output, alpha, [])
        last_report, window, reason = time.monotonic(), [], "finished"
        step = 0
        while step < cfg.steps:
            if stop_after is not None and step >= stop_after:
                reason = "stopped"
                break
            if stop is not None and stop.is_set():
                reason = "stopped"
                break
            if time_cap is not None and time.monotonic() - start >= time_cap:
                reason = "time cap"
                break
            for g in optimizer.param_groups:   # linear decay to a tenth: the last steps settle the weights
                g["lr"] = cfg.lr * (1.0 - 0.9 * step / cfg.steps)
            src, src_len, tgt_in, tgt_out = make_batch(cfg, gen)
            logits, _ = model(src, src_len, tgt_in)                       # (B, T, V)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt_out.reshape(-1), ignore_index=PAD_ID)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            window.append(loss.item())
            if time.monotonic() - last_report >= report_every and step < cfg.steps:
                losses.append((step, sum(window) / len(window)))
                output, alpha = probe(model, cfg.task)
                yield Progress(step, cfg.steps, losses[-1][1], time.monotonic() - start, output, alpha, list(losses))
                last_report, window = time.monotonic(), []
        if window:
            losses.append((step, sum(window) / len(window)))
        output, alpha = probe(model, cfg.task)
        model.eval()
        yield Progress(step, cfg.steps, losses[-1][1] if losses else None, time.monotonic() - start, output, alpha,
                       list(losses), done=True, reason=reason, model=model)


class _one_thread:
    """Train on one intra-op thread (determinism; and the page's requests keep the other core)."""

    def __enter__(self):
        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.threads)


def train_model(cfg: ToyConfig, stop_after: int | None = None) -> tuple[Seq2Seq, dict]:
    """Train to the end, or ``stop_after`` steps, with no time cap: what ``scripts/train_toy.py`` ships."""
    for p in train_toy(cfg, report_every=float("inf"), stop_after=stop_after):
        if p.done:
            return p.model, {"steps": p.step, "seconds": round(p.seconds, 1), "final_loss": round(p.loss, 4)}
    raise AssertionError("train_toy ended without a final report")


class LiveTrainer:
    """Runs one training at a time for the page: a second run while one is going raises
    ``TrainerBusy``. ``stop(owner)`` ends the running training if ``owner`` started it."""

    def __init__(self, time_cap: float = LIVE_CAP_S, report_every: float = REPORT_EVERY_S):
        self.time_cap, self.report_every = time_cap, report_every
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._owner = None

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def run(self, cfg: ToyConfig, owner=None) -> Iterator[Progress]:
        if not self._lock.acquire(blocking=False):
            raise TrainerBusy("Another live training is running; only one runs at a time. Try again when it ends.")
        try:
            self._stop.clear()
            self._owner = owner
            yield from train_toy(cfg, time_cap=self.time_cap, stop=self._stop, report_every=self.report_every)
        finally:
            self._owner = None
            self._lock.release()

    def stop(self, owner=None) -> bool:
        """Stop the running training if ``owner`` started it; whether one was stopped."""
        if self.busy and self._owner == owner:
            self._stop.set()
            return True
        return False


# ---- evaluation -----------------------------------------------------------------------------

@torch.no_grad()
def predict(model: Seq2Seq, seqs: list[str]) -> list[tuple[str, np.ndarray | None]]:
    """Greedy output and α (T_out, S) for each sequence (α None for ``none``)."""
    model.eval()
    hyps = greedy(model, [encode(s) for s in seqs], max_len=2 * MAX_LEN)
    return [(decode(h.tokens), h.attention) for h in hyps]


def evaluate(model: Seq2Seq, task: str, seqs: list[str]) -> dict:
    """Exact match (all, short, long) and the share of output steps whose α peaks on an
    aligned source position (``aligned_positions``), over steps up to the target length."""
    results = predict(model, seqs)
    exact = [out == target(task, s) for s, (out, _) in zip(seqs, results)]
    long = [len(s) >= LONG for s in seqs]
    peaks = hits = 0
    for s, (out, alpha) in zip(seqs, results):
        if alpha is None:
            continue
        for t, ok in enumerate(aligned_positions(task, s)[: alpha.shape[0]]):
            peaks += 1
            hits += int(alpha[t].argmax()) in ok
    share = lambda flags: round(sum(flags) / len(flags), 4) if flags else None  # noqa: E731
    lengths = sorted({len(s) for s in seqs})
    return {"exact_match": share(exact),
            "exact_match_by_length": {L: share([e for e, s in zip(exact, seqs) if len(s) == L]) for L in lengths},
            "exact_match_short": share([e for e, lo in zip(exact, long) if not lo]),
            "exact_match_long": share([e for e, lo in zip(exact, long) if lo]),
            "attention_on_alignment": round(hits / peaks, 4) if peaks else None,
            "sequences": len(seqs), "long_from": LONG}


# ---- shipped models -------------------------------------------------------------------------

def model_paths(task: str, variant: str, assets: Path = TOY_ASSETS) -> tuple[Path, Path]:
    return assets / f"{task}-{variant}.safetensors", assets / f"{task}-{variant}.json"


def save(model: Seq2Seq, cfg: ToyConfig, info: dict, assets: Path = TOY_ASSETS) -> None:
    weights, config = model_paths(cfg.task, cfg.variant, assets)
    # fp32: the file holds exactly the weights the trainer made (a few hundred kB at most)
    ckpt.save_model(model, weights, config, {"toy": cfg.to_dict(), **info}, half=False)


def load(task: str, variant: str, assets: Path = TOY_ASSETS) -> tuple[Seq2Seq, dict]:
    """A shipped toy model, verified against ``assets/toy/manifest.json``."""
    weights, config = model_paths(task, variant, assets)
    return ckpt.load_model(weights, config, assets)


def load_all(assets: Path = TOY_ASSETS) -> tuple[dict[tuple[str, str], Seq2Seq], list[str]]:
    """Every shipped toy model by (task, variant), and a message per one that is missing or broken."""
    models, problems = {}, []
    for task in TASKS:
        for variant in VARIANTS:
            if not model_paths(task, variant, assets)[0].exists():
                continue
            try:
                models[(task, variant)] = load(task, variant, assets)[0]
            except ckpt.CheckpointError as exc:
                problems.append(f"{task}/{variant}: {exc}")
    return models, problems


def read_manifest(assets: Path = TOY_ASSETS) -> dict:
    return json.loads((assets / MANIFEST).read_text())
