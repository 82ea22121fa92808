"""Training: length-bucketed batches, periodic dev chrF, best checkpoint, early
stopping, a time budget, and resuming.

Resuming: a run keeps its full state (weights, their moving average, optimizer,
step, clock) in ``runs/<variant>/``. If that is gone, training warm-starts from
the shipped weights in ``assets/`` and adds to the training time their card
recorded. ``lr`` given on resume restarts the learning rate there (a warm
restart), otherwise the saved rate goes on.

Dev evaluation, and so the best checkpoint, uses an exponential moving average
of the weights (``ema``): it smooths the step-to-step noise of the updates, so
the checkpoint kept depends less on which step an evaluation happened to hit.

Under torchrun the same function runs once per rank (``distributed``): each rank
steps on its shard of every global batch, and rank 0 alone reads the saved run and
writes files.
"""
from __future__ import annotations

import fcntl
import hashlib
import platform
import random
import signal
import sys
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import checkpoint as ckpt
from . import distributed
from .evaluate import bleu, chrf, translate_corpus
from .model import ModelConfig, Seq2Seq, orient
from .search import pad_batch
from .tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer


@dataclass
class TrainConfig:
    max_tokens: int = 2500        # target tokens per batch
    lr: float = 2e-3
    clip: float = 1.0
    label_smoothing: float = 0.1
    max_src_len: int = 60         # pieces; longer training pairs are skipped
    eval_every: int = 250
    dev_sample: int = 1000
    patience: int = 8             # evals without improvement before stopping
    halve_after: int = 2          # halve the rate after this many evals in a row without improvement
    ema: float = 0.998            # decay of the weights' moving average used for evaluation; 0: none
    seed: int = 1234
    threads: int = 1
    precision: str = "fp32"       # "bf16": matmuls under bfloat16 autocast; weights and Adam stay fp32


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def hardware() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}), {torch.get_num_threads()} thread(s)"


def make_batches(src: list[list[int]], tgt: list[list[int]], max_tokens: int,
                 rng: random.Random) -> list[list[int]]:
    """Group pair indices into batches of similar length, so little of a batch is
    padding; the batch order is shuffled, lengths within a batch are close.

    Pairs are ordered by the longer side, then by target length: the decoder runs
    one step per target position of the longest target, so target padding costs
    most (ordering by source length alone left over half of the decoder's
    positions padding on this dictionary). Ties are broken at random per epoch."""
    order = sorted(range(len(src)), key=lambda i: (max(len(src[i]), len(tgt[i]) + 1), len(tgt[i]), rng.random()))
    batches, cur, longest = [], [], 0
    for i in order:
        longest_if = max(longest, len(tgt[i]) + 1, len(src[i]))
        if cur and longest_if * (len(cur) + 1) > max_tokens:
            batches.append(cur)
            cur, longest_if = [], max(len(tgt[i]) + 1, len(src[i]))
        cur.append(i)
        longest = longest_if
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def batch_tensors(src, tgt, idx, device):
    s, s_len = pad_batch([src[i] for i in idx])
    t_in, _ = pad_batch([[BOS_ID] + tgt[i] for i in idx])
    t_out, _ = pad_batch([tgt[i] + [EOS_ID] for i in idx])
    return s.to(device), s_len, t_in.to(device), t_out.to(device)


def loss_fn(logits, t_out, label_smoothing, reduction: str = "mean"):
    """Label-smoothed cross-entropy over the non-padding target tokens: their mean, or their sum."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), t_out.reshape(-1),
                           ignore_index=PAD_ID, label_smoothing=label_smoothing, reduction=reduction)


PRECISIONS = ("fp32", "bf16")


def native_precision(device: str = "cpu") -> str:
    """The faster of PRECISIONS here: "bf16" where the hardware has bfloat16 matrix products
    (AVX-512 BF16 on a CPU, or a CUDA card that supports it), else "fp32". Without them torch
    emulates bfloat16, and a training step runs many times slower than in fp32."""
    if device == "cuda":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    supported = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)  # private: absent means unknown
    return "bf16" if supported() else "fp32"


def train_step(model: Seq2Seq, optimizer: torch.optim.Optimizer, batch, label_smoothing: float,
               clip: float, precision: str = "fp32", scale: float | None = None) -> tuple[float, int]:
    """One update on a batch (src, src_len, tgt_in, tgt_out) → (loss, non-padding target tokens).

    The loss is the mean over the batch's target tokens, or with ``scale`` their sum times
    ``scale`` (a shard of a global batch, see ``global_step``).

    ``precision="bf16"`` runs the forward pass under bfloat16 autocast (on CPUs with
    AVX-512 BF16 the matrix products run about a third faster); the loss, the
    gradients' accumulation into fp32 weights and the optimizer stay in fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    s, s_len, t_in, t_out = batch
    with torch.autocast(s.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        logits, _ = model(s, s_len, t_in)
    if scale is None:
        loss = loss_fn(logits.float(), t_out, label_smoothing)
    else:
        loss = loss_fn(logits.float(), t_out, label_smoothing, reduction="sum") * scale
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item(), int((t_out != PAD_ID).sum())


def global_step(model, optimizer: torch.optim.Optimizer, src, tgt, batch: list[int],
                ranks: distributed.Ranks, cfg: TrainConfig) -> tuple[float, int]:
    """One update on one global batch → (this rank's part of its mean loss, its target tokens).

    Alone, a process steps on the whole batch. One rank of several steps on its shard, with
    its loss summed and scaled by ranks / (the global batch's target tokens): DDP averages the
    gradients over the ranks, so the update is a single process's on the whole batch. A rank
    whose shard is empty (a batch of fewer pairs than ranks) steps on a stand-in pair with
    weight 0, because every rank must take part in DDP's gradient all-reduce."""
    if not ranks.distributed:
        return train_step(model, optimizer, batch_tensors(src, tgt, batch, ranks.device),
                          cfg.label_smoothing, cfg.clip, cfg.precision)
    global_tokens = sum(len(tgt[i]) + 1 for i in batch)                 # + EOS, as in batch_tensors
    mine = distributed.shard(batch, ranks.rank, ranks.world)
    scale = ranks.world / global_tokens if mine else 0.0
    loss, _ = train_step(model, optimizer, batch_tensors(src, tgt, mine or batch[:1], ranks.device),
                         cfg.label_smoothing, cfg.clip, cfg.precision, scale=scale)
    return loss / ranks.world, global_tokens


class WeightAverage:
    """θ̄ ← decay · θ̄ + (1 − decay) · θ after every step. ``swapped_in`` puts θ̄
    into the model for evaluation and puts θ back afterwards."""

    def __init__(self, model: Seq2Seq, decay: float, saved: dict | None = None):
        self.decay, self.params = decay, list(model.parameters())
        self.avg = [saved[i].to(p) if saved and i in saved else p.detach().clone() for i, p in enumerate(self.params)]

    @torch.no_grad()
    def update(self) -> None:
        torch._foreach_lerp_(self.avg, [p.detach() for p in self.params], 1.0 - self.decay)

    @contextmanager
    def swapped_in(self):
        kept = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            for p, a in zip(self.params, self.avg):
                p.copy_(a)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, k in zip(self.params, kept):
                    p.copy_(k)

    def tensors(self) -> dict:
        return {i: a for i, a in enumerate(self.avg)}


def train(variant: str, train_pairs, dev_pairs, tok: Tokenizer, run_dir: Path, assets: Path,
          model_cfg: ModelConfig, cfg: TrainConfig, minutes: float | None = None,
          max_steps: int | None = None, restart: bool = False, export: bool = True,
          command: str = "", data_info: dict | None = None, lr: float | None = None,
          history=None) -> dict:
    """Train ``variant`` (or go on training it) and ship its best weights.

    ``history`` (a ``seq2seq.history.HistoryRecorder``) records α and outputs at its steps;
    the time it takes is not counted against ``minutes``.

    ``lr`` sets the rate after loading: on a resumed or warm-started run it replaces the saved
    rate (a warm restart); without it a resumed run goes on at its saved rate.

    Under torchrun every rank calls this; each returns when rank 0 has written everything."""
    # 1) processes: this one alone, or one rank of several
    ranks = distributed.start()
    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    with distributed.stop_clearly(ranks, run_dir):
        meta = _train(variant, train_pairs, dev_pairs, tok, run_dir, assets, model_cfg, cfg, ranks, minutes,
                      max_steps, restart, export, command, data_info, lr, history)
        if ranks.distributed:
            torch.distributed.barrier()       # the others wait until rank 0 has saved and exported
    return meta


def new_meta() -> dict:
    return {"step": 0, "epoch": 0, "train_seconds": 0.0, "best_chrf": -1.0, "bad_evals": 0,
            "target_tokens": 0, "history": [], "hardware": [], "commands": []}


def load_start(variant: str, run_dir: Path, assets: Path, model: Seq2Seq, optimizer: torch.optim.Optimizer,
               meta: dict, restart: bool) -> dict:
    """Where the run starts (rank 0 only): its saved state, else the shipped weights, else
    nothing. Fills ``meta``; returns the saved moving average of the weights (maybe empty)."""
    weights, config = ckpt.model_paths(variant, assets)
    saved_average: dict = {}
    if (run_dir / "state.json").exists() and not restart:
        meta.update(ckpt.load_training_state(run_dir, model, optimizer, saved_average))
        print(f"resumed {variant} from {run_dir} at step {meta['step']}", file=sys.stderr)
    elif weights.exists() and not restart:
        shipped, info = ckpt.load_model(weights, config, assets)
        model.load_state_dict(shipped.state_dict())
        for key in ("step", "epoch", "train_seconds", "target_tokens", "best_chrf", "hardware", "dev_fingerprint"):
            meta[key] = info.get("training", {}).get(key, meta.get(key))
        meta["history"] = info.get("history", [])
        # Shipped weights that were themselves warm-started keep that first record: the card says
        # where training on today's data began, and ``commands`` lists every stretch since.
        meta["warm_start"] = info.get("training", {}).get("warm_start") or {
            "from": ckpt.shown_path(weights), "sha256": ckpt.sha256_file(weights), "step": meta["step"],
            "train_seconds": meta["train_seconds"]}
        meta["commands"] = info.get("commands") or ([info["command"]] if info.get("command") else [])
        # The shipped weights are the best so far: continuing only replaces them if dev chrF improves.
        ckpt.save_model(model, run_dir / "best.safetensors", run_dir / "best.json", half=False)
        print(f"warm-started {variant} from {weights} (step {meta['step']})", file=sys.stderr)
    return saved_average


def encode_pairs(tok: Tokenizer, pairs, max_src_len: int,
                 directions: tuple[str, ...] = ("de-en",)) -> tuple[list[list[int]], list[list[int]]]:
    """Piece ids of the training pairs in every direction of the model (each source opened by
    its tag where there are several), without empty sides and over-long pairs."""
    src, tgt = [], []
    for direction in directions:
        oriented = orient(pairs, direction, directions)
        prefix = tok.source_prefix(directions, direction)
        s_ids, t_ids = tok.encode_batch([p[0] for p in oriented]), tok.encode_batch([p[1] for p in oriented])
        keep = [i for i in range(len(s_ids)) if 0 < len(s_ids[i]) <= max_src_len and 0 < len(t_ids[i]) <= 2 * max_src_len]
        src += [prefix + s_ids[i] for i in keep]
        tgt += [t_ids[i] for i in keep]
    return src, tgt


def dev_runs(dev_sets: dict[str, list], directions: tuple[str, ...]) -> dict[str, tuple[str, list]]:
    """Each dev set in each direction of the model: name → (direction, (source, target) pairs).
    A one-direction model keeps the corpus names alone, as its earlier runs recorded them."""
    if len(directions) == 1:
        return {name: (directions[0], orient(pairs, directions[0], directions)) for name, pairs in dev_sets.items()}
    return {f"{name} {d}": (d, orient(pairs, d, directions)) for d in directions for name, pairs in dev_sets.items()}


def _train(variant, train_pairs, dev_pairs, tok, run_dir, assets, model_cfg, cfg, ranks, minutes, max_steps,
           restart, export, command, data_info, lr, history) -> dict:
    # 2) where the run starts: rank 0 reads it, every rank gets its weights, optimizer and counters
    model = Seq2Seq(model_cfg).to(ranks.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    meta, saved_average = new_meta(), {}
    if ranks.main:
        saved_average = load_start(variant, run_dir, assets, model, optimizer, meta, restart)
    model.to(ranks.device)
    net = distributed.wrap(model, ranks)                 # copies rank 0's weights to every rank
    meta = distributed.share_start(ranks, optimizer, meta)
    if ranks.rank:
        torch.manual_seed(cfg.seed + ranks.rank)         # dropout masks of its own on each rank
    if command:
        meta["commands"] = record_commands(meta.get("commands", []), (data_info or {}).get("command"), command)
    if lr is not None:
        for g in optimizer.param_groups:
            g["lr"] = lr
        meta["bad_evals"] = 0
    # Only rank 0 evaluates, so only rank 0 keeps the average.
    average = WeightAverage(model, cfg.ema, saved_average) if cfg.ema > 0 and ranks.main else None
    hw = hardware() + (f" × {ranks.describe()}" if ranks.distributed else "")
    if hw not in meta["hardware"]:
        meta["hardware"] = meta["hardware"] + [hw]

    # 3) data: every rank builds the same global batches and steps on its shard of each
    src, tgt = encode_pairs(tok, train_pairs, cfg.max_src_len, model_cfg.directions)
    dev_sets = dev_pairs if isinstance(dev_pairs, dict) else {"dev": dev_pairs}
    dev_sets = dev_runs({name: pairs[: cfg.dev_sample] for name, pairs in dev_sets.items()}, model_cfg.directions)
    fingerprint = dev_fingerprint({name: pairs for name, (_, pairs) in dev_sets.items()})
    if meta.get("dev_fingerprint") != fingerprint:
        # A best score measured on other dev sentences is no bar for this dev set.
        meta["best_chrf"], meta["bad_evals"], meta["dev_fingerprint"] = -1.0, 0, fingerprint

    def evaluate_and_keep_best() -> float:
        """Dev chrF (which picks the best checkpoint) and BLEU, recorded in the history. With
        several dev sets (one per corpus) the score is their mean, so each corpus counts alike."""
        model.eval()
        by_set = {}
        with average.swapped_in() if average else nullcontext():
            for name, (direction, dev) in dev_sets.items():
                hyps = translate_corpus(model, tok, [p[0] for p in dev], direction=direction)
                refs = [p[1] for p in dev]
                by_set[name] = {"chrf": round(chrf(hyps, refs), 2), "bleu": round(bleu(hyps, refs), 2)}
            score = sum(r["chrf"] for r in by_set.values()) / len(by_set)
            if score > meta["best_chrf"]:
                ckpt.save_model(model, run_dir / "best.safetensors", run_dir / "best.json", half=False)
        model.train()
        point = {"step": meta["step"], "dev_chrf": round(score, 2),
                 "dev_bleu": round(sum(r["bleu"] for r in by_set.values()) / len(by_set), 2),
                 "train_seconds": round(meta["train_seconds"], 1), "lr": optimizer.param_groups[0]["lr"]}
        if len(by_set) > 1:
            point["dev_by_corpus"] = by_set
        meta["history"].append(point)
        if score > meta["best_chrf"]:
            meta["best_chrf"], meta["bad_evals"] = score, 0
        else:
            meta["bad_evals"] += 1
            if meta["bad_evals"] % cfg.halve_after == 0:
                for g in optimizer.param_groups:  # halve the rate on a plateau
                    g["lr"] = max(g["lr"] * 0.5, cfg.lr / 32)
        return score

    def save_state() -> None:
        ckpt.save_training_state(run_dir, model, optimizer, {**meta, "train_config": asdict(cfg)},
                                 average.tensors() if average else None)

    def evaluate_and_save() -> bool:
        """Rank 0 scores dev, keeps the best checkpoint and saves the state; every rank then
        takes the (maybe halved) rate. Returns whether to stop early."""
        early_stop = False
        if ranks.main:
            t_eval = time.time()
            score = evaluate_and_keep_best()
            meta["train_seconds"] += time.time() - t_eval
            tqdm.write(f"[{variant}] step {meta['step']} dev chrF {score:.2f} BLEU "
                       f"{meta['history'][-1]['dev_bleu']:.2f} (best chrF {meta['best_chrf']:.2f})", file=sys.stderr)
            save_state()
            early_stop = meta["bad_evals"] >= cfg.patience
        return distributed.share_decision(ranks, optimizer, early_stop)

    # 4) steps until early stopping, the time budget, max steps or Ctrl-C; rank 0 evaluates and saves
    start, stop_reason = time.time(), "epochs"
    budget = None if minutes is None else minutes * 60
    model.train()
    bar = tqdm(desc=f"train {variant}", unit="step", file=sys.stderr, dynamic_ncols=True,
               mininterval=5, initial=meta["step"], disable=not ranks.main)
    rng = random.Random(cfg.seed + meta["epoch"])
    if ranks.main:
        run_dir.mkdir(parents=True, exist_ok=True)
    done = False
    interrupted = []
    previous_handlers = _on_stop_signals(lambda: interrupted.append(True))
    if history is not None and ranks.main and history.due(meta["step"]):
        start += history.record(meta["step"], model, meta["train_seconds"])
    try:
        while not done:
            batches = make_batches(src, tgt, cfg.max_tokens, rng)
            # Skip the batches this epoch already saw before an interruption.
            for b_idx in range(meta.get("batch_in_epoch", 0), len(batches)):
                t0 = time.time()
                loss, n_tok = global_step(net, optimizer, src, tgt, batches[b_idx], ranks, cfg)
                if average:
                    average.update()
                meta["step"] += 1
                meta["batch_in_epoch"] = b_idx + 1
                meta["target_tokens"] += n_tok
                step_seconds = time.time() - t0
                meta["train_seconds"] += step_seconds
                if history is not None and ranks.main and history.due(meta["step"]):
                    start += history.record(meta["step"], model, meta["train_seconds"])
                if meta["step"] % cfg.eval_every == 0 and evaluate_and_save():
                    stop_reason, done = "early stop", True
                    break
                # Every rank stops after the same step: a signal or the clock on any one of them counts.
                over_budget = budget is not None and time.time() - start >= budget
                loss, (stop_now, over_budget) = distributed.agree(ranks, loss, bool(interrupted), over_budget)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{n_tok / max(step_seconds, 1e-6):.0f}",
                                best=f"{meta['best_chrf']:.1f}", refresh=False)
                if stop_now:
                    interrupted.append(True)
                    stop_reason, done = "interrupted", True
                    break
                if over_budget:
                    stop_reason, done = "time budget", True
                    break
                if max_steps is not None and meta["step"] >= max_steps:
                    stop_reason, done = "max steps", True
                    break
            else:
                meta["epoch"] += 1
                meta["batch_in_epoch"] = 0
                rng = random.Random(cfg.seed + meta["epoch"])
    finally:
        bar.close()
        _restore_signals(previous_handlers)

    if history is not None and ranks.main:
        history.record(meta["step"], model, meta["train_seconds"])

    # 5) rank 0: the last evaluation, the state (saved once, also when interrupted) and the export
    if not ranks.main:
        return meta
    if meta["step"] % cfg.eval_every != 0 and not interrupted:
        t_eval = time.time()
        evaluate_and_keep_best()
        meta["train_seconds"] += time.time() - t_eval
    save_state()
    print(f"{variant}: stopped ({stop_reason}) at step {meta['step']}, best dev chrF {meta['best_chrf']:.2f}"
          + (f", {ranks.describe()}" if ranks.distributed else ""), file=sys.stderr)
    if export and (run_dir / "best.safetensors").exists():
        export_best(variant, run_dir, assets, meta, cfg, command, data_info or {})
    elif export:  # interrupted before the first evaluation: nothing better than what is shipped
        print(f"{variant}: no evaluated checkpoint yet, nothing exported", file=sys.stderr)
    if history is not None:
        if export and (run_dir / "best.safetensors").exists():   # the history ends on the weights exported
            best, _ = ckpt.load_model(run_dir / "best.safetensors", run_dir / "best.json", None)
            history.record(meta["step"], best, meta["train_seconds"], shipped=True)
        history.finish(steps=meta["step"], train_minutes=round(meta["train_seconds"] / 60, 1), stopped=stop_reason)
    return meta


PREPARE = "python -m seq2seq prepare"


def dev_fingerprint(dev_sets: dict[str, list]) -> str:
    """Which dev sentences a best score was measured on (a short sha256)."""
    h = hashlib.sha256()
    for name in sorted(dev_sets):
        h.update(name.encode("utf-8") + b"\0")
        for src, tgt in dev_sets[name]:
            h.update(f"{src}\t{tgt}\n".encode("utf-8"))
    return h.hexdigest()[:16]


def record_commands(commands: list[str], prepare_command: str | None, train_command: str) -> list[str]:
    """Every command that made these weights, in order: what reproduces them. The data's
    ``prepare`` command goes in before a training command whenever the data changed."""
    last_prepare = next((c for c in reversed(commands) if c.startswith(PREPARE)), None)
    new = [prepare_command] if prepare_command and prepare_command != last_prepare else []
    return commands + new + [train_command]


def _on_stop_signals(callback) -> dict:
    """Ctrl-C or SIGTERM ends training after the current step, and the state is saved, so an
    interrupted run loses nothing and resumes where it stopped. Returns the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        old[sig] = signal.signal(sig, lambda *_: callback())
    return old


def _restore_signals(old: dict) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)


def export_best(variant: str, run_dir: Path, assets: Path, meta: dict, cfg: TrainConfig,
                command: str, data_info: dict) -> None:
    """Ship the best weights (fp16) with a config that records how they were trained."""
    model, _ = ckpt.load_model(run_dir / "best.safetensors", run_dir / "best.json", assets=None)
    training = {k: meta[k] for k in ("step", "epoch", "train_seconds", "target_tokens", "best_chrf", "hardware",
                                     "dev_fingerprint", "warm_start") if meta.get(k) is not None}
    training["best_chrf"] = round(training["best_chrf"], 2)
    training["train_seconds"] = round(training["train_seconds"], 1)
    weights, config = ckpt.model_paths(variant, assets)
    info = {"variant": variant, "parameters": model.num_parameters(), "training": training,
            "train_config": asdict(cfg), "data": data_info, "command": command,
            "commands": meta.get("commands", []),
            "history": meta["history"][-50:]}
    ckpt.save_model(model, weights, config, info, half=True)
    with open(assets / ".manifest.lock", "w") as lock:  # several variants may train at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        ckpt.write_manifest(assets)
    print(f"exported {weights} ({weights.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)


def throughput_note(meta: dict) -> str:
    secs = max(meta["train_seconds"], 1e-9)
    return f"{meta['target_tokens'] / secs:.0f} target tokens/s over {secs / 60:.1f} min"

