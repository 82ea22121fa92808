"""Training on several processes: one per GPU, or per CPU core or machine, started by torchrun.

    torchrun --nproc_per_node 4 -m seq2seq train --variant additive          # one machine
    torchrun --nnodes 2 --nproc_per_node 4 --rdzv-backend c10d \\
             --rdzv-endpoint HOST:29400 -m seq2seq train --variant additive  # on each machine

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them (plain
``python -m seq2seq train``) there is one process and no process group at all.
The backend follows the device: ``nccl`` on CUDA, ``gloo`` on CPU.

Every rank builds the same global batches (same seed, same epoch) and takes its
own share of each one's pairs (``shard``). The loss of a shard is summed over its
target tokens and divided by the global batch's: the gradients DistributedDataParallel
sums over ranks are then those of one process on the whole batch, so a step, and a
run, means the same whatever the number of ranks.

Rank 0 alone reads the saved run (or the shipped weights) and alone writes
anything: checkpoints, training state, logs, dev scores, exported weights. It
hands the other ranks what they need to start (``share_start``: weights via DDP,
the optimizer's state and the run's counters here) and what an evaluation decided
(``share_decision``: the rate, and whether to stop early).
"""
from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load as load_tensors, save as save_tensors

DEFAULT_TIMEOUT_MINUTES = 30.0   # how long a rank waits for the others at a collective (rank 0 evaluating, a hung peer)


@dataclass(frozen=True)
class Ranks:
    """Where this process stands among the processes of one training run."""
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")
    backend: str | None = None            # None: a single process, no process group

    @property
    def main(self) -> bool:
        """Rank 0: the one process that reads the saved run and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def describe(self) -> str:
        return f"{self.world} processes ({self.backend})" if self.distributed else "1 process"


def start(timeout_minutes: float = DEFAULT_TIMEOUT_MINUTES) -> Ranks:
    """Join the run's process group if torchrun started this process, else run alone."""
    cuda = torch.cuda.is_available()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks(device=torch.device("cuda" if cuda else "cpu"))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cpu")
    if cuda:
        if local_rank >= torch.cuda.device_count():
            raise SystemExit(f"error: process {local_rank} on this machine has no GPU of its own "
                             f"({torch.cuda.device_count()} found): start at most that many per machine "
                             f"(torchrun --nproc_per_node {torch.cuda.device_count()})")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=timedelta(minutes=timeout_minutes))
    return Ranks(rank=rank, world=world, device=device, backend=backend)


def finish(ranks: Ranks) -> None:
    """Leave the process group once every rank has got here (rank 0 may still be exporting)."""
    if ranks.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def shard(batch: list[int], rank: int, world: int) -> list[int]:
    """This rank's pairs of a global batch: every ``world``-th pair from the ``rank``-th on.

    A batch's pairs are in length order (``make_batches``), so interleaving hands each
    rank pairs of the same lengths and the ranks finish their steps together. With
    fewer pairs than ranks some shards are empty (see ``train.global_step``)."""
    return batch[rank::world]


def wrap(model: torch.nn.Module, ranks: Ranks) -> torch.nn.Module:
    """The module the training step calls: DDP averages the gradients over the ranks in
    ``backward``; it also copies rank 0's weights to every rank here."""
    if not ranks.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[ranks.device.index] if ranks.device.type == "cuda" else None)


def share_start(ranks: Ranks, optimizer: torch.optim.Optimizer, meta: dict) -> dict:
    """Give every rank rank 0's optimizer state (moments, step, rate) and the run's meta
    (step, epoch, batch in the epoch ...); returns the meta. Sent as safetensors bytes,
    so nothing is unpickled; the weights travel with ``wrap``."""
    if not ranks.distributed:
        return meta
    payload = _pack(optimizer, meta) if ranks.main else b""
    size = torch.tensor([len(payload)], dtype=torch.int64, device=ranks.device)
    dist.broadcast(size, src=0)
    buf = (torch.frombuffer(bytearray(payload), dtype=torch.uint8) if ranks.main
           else torch.empty(int(size), dtype=torch.uint8))
    buf = buf.to(ranks.device)
    dist.broadcast(buf, src=0)
    return meta if ranks.main else _unpack(bytes(buf.cpu().numpy()), optimizer)


def _pack(optimizer: torch.optim.Optimizer, meta: dict) -> bytes:
    opt = optimizer.state_dict()
    tensors = {f"optim.{i}.{k}": v.detach().cpu().contiguous() for i, st in opt["state"].items()
               for k, v in st.items() if torch.is_tensor(v)}
    header = {"meta": meta, "param_groups": opt["param_groups"]}
    tensors["header"] = torch.frombuffer(bytearray(json.dumps(header).encode("utf-8")), dtype=torch.uint8)
    return save_tensors(tensors)


def _unpack(payload: bytes, optimizer: torch.optim.Optimizer) -> dict:
    tensors = load_tensors(payload)
    header = json.loads(bytes(tensors.pop("header").numpy()).decode("utf-8"))
    state: dict = {}
    for key, val in tensors.items():
        _, idx, name = key.split(".", 2)
        state.setdefault(int(idx), {})[name] = val
    optimizer.load_state_dict({"state": state, "param_groups": header["param_groups"]})
    return header["meta"]


def share_decision(ranks: Ranks, optimizer: torch.optim.Optimizer, stop: bool) -> bool:
    """After rank 0's dev evaluation: every rank takes its learning rate (it may have been
    halved) and its verdict on early stopping. Returns whether to stop."""
    if not ranks.distributed:
        return stop
    decision = torch.tensor([optimizer.param_groups[0]["lr"], float(stop)], dtype=torch.float64,
                            device=ranks.device)
    dist.broadcast(decision, src=0)
    for g in optimizer.param_groups:
        g["lr"] = float(decision[0])
    return bool(decision[1])


def agree(ranks: Ranks, loss_part: float, *flags: bool) -> tuple[float, list[bool]]:
    """Sum each rank's part of the global batch's loss, and OR each flag over the ranks
    (Ctrl-C, a time budget), so that all ranks stop after the same step."""
    if not ranks.distributed:
        return loss_part, list(flags)
    values = torch.tensor([loss_part, *map(float, flags)], dtype=torch.float64, device=ranks.device)
    dist.all_reduce(values)
    return float(values[0]), [bool(v > 0) for v in values[1:].tolist()]


# What gloo, nccl and the process group say when another rank died or hung (compared in lower case).
PEER_FAILURE = ("connection closed by peer", "connection reset by peer", "broken pipe", "timed out", "timeout",
                "nccl error", "processgroup", "distbackenderror", "socket")


@contextmanager
def stop_clearly(ranks: Ranks, run_dir: Path):
    """Turn a collective that failed because another rank died or hung into one clear line
    (the rank's own errors keep their traceback). Nothing was written in the failed step:
    the last saved state stays as it was."""
    try:
        yield
    except RuntimeError as exc:
        text = f"{type(exc).__name__}: {exc}"
        if not ranks.distributed or not any(s in text.lower() for s in PEER_FAILURE):
            raise
        first = _gist(exc)
        saved = run_dir / "state.json"
        if not ranks.main:
            kept = "rank 0 keeps the run's last saved state"
        elif saved.exists():
            kept = f"the last saved state ({saved}) is kept; run the same command to resume from it"
        else:
            kept = "no training state was saved yet"
        raise SystemExit(f"error: training process {ranks.rank} of {ranks.world} stopped: another process of "
                         f"this run failed or stopped answering ({first}). See that process's messages; "
                         f"{kept}.") from exc


def _gist(exc: BaseException) -> str:
    """The first sentence of a backend's error, without its source location:
    '[.../pair.cc:553] Connection closed by peer [127.0.0.1]:9090. This is ...' → 'Connection closed by peer [127.0.0.1]:9090'."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)
    return text.split(". ")[0][:160]
