"""Training on several processes: sharding, equality with one process, resume with another
number of ranks, rank 0 alone writing, and a failing rank.

The ranks are forked from the test process (no fresh interpreter to start, so a run takes
a second) and meet over gloo on a free localhost port, with the environment torchrun gives
them; one test runs the command line under torchrun itself."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
import multiprocessing
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st
from safetensors.torch import load_file

from conftest import ROOT, SHIPPED_TOKENIZER, tiny_config
from seq2seq import checkpoint as ckpt
from seq2seq import distributed
from seq2seq import train as train_module
from seq2seq.tokenizer import Tokenizer
from seq2seq.train import TrainConfig, encode_pairs, make_batches, train

# ---- sharding ------------------------------------------------------------------------------

_lengths = st.lists(st.tuples(st.integers(1, 30), st.integers(1, 30)), min_size=1, max_size=80)


@settings(deadline=None, max_examples=60, derandomize=True)
@given(lengths=_lengths, max_tokens=st.integers(1, 200), seed=st.integers(0, 50), world=st.integers(1, 6))
def test_shards_cover_every_pair_of_every_batch_once_per_epoch(lengths, max_tokens, seed, world):
    src = [[5] * s for s, _ in lengths]
    tgt = [[6] * t for _, t in lengths]
    batches = make_batches(src, tgt, max_tokens, random.Random(seed))   # the same on every rank
    seen = []
    for batch in batches:
        shards = [distributed.shard(batch, rank, world) for rank in range(world)]
        assert sorted(i for s in shards for i in s) == sorted(batch)       # the global batch, no more, no less
        assert max(map(len, shards)) - min(map(len, shards)) <= 1          # balanced, also the uneven last one
        seen += [i for s in shards for i in s]
    assert sorted(seen) == list(range(len(lengths)))                       # each pair once in the epoch


# ---- ranks forked from this process ------------------------------------------------------

WORDS_DE = "das der die ein Haus Baum Katze Hund Auto ist rot lang gut Nacht Morgen Straße klein groß".split()
WORDS_EN = "the the the a house tree cat dog car is red long good night morning street small big".split()


def synthetic_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """Word-for-word pairs of 1 to 6 words, so batches come in several lengths."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        ids = [rng.randrange(len(WORDS_DE)) for _ in range(rng.randint(1, 6))]
        pairs.append((" ".join(WORDS_DE[i] for i in ids), " ".join(WORDS_EN[i] for i in ids)))
    return pairs


PAIRS, DEV = synthetic_pairs(40, 0), synthetic_pairs(3, 1)


@pytest.fixture
def run(tmp_path, monkeypatch):
    """``run(run_dir, assets, **kw)`` trains the tiny ``dot`` model on PAIRS."""
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # keep the test session's setting
    tok = Tokenizer(SHIPPED_TOKENIZER)
    cfg = tiny_config("dot", tok.vocab_size)

    def _run(run_dir: Path, assets: Path, max_tokens: int = 40, eval_every: int = 2, **kw):
        tcfg = TrainConfig(max_tokens=max_tokens, eval_every=eval_every, dev_sample=3, patience=50, seed=7)
        return train("dot", PAIRS, DEV, tok, run_dir, assets, cfg, tcfg, command="pytest",
                     data_info={"corpus": "test"}, **kw)
    return _run


def new_assets(path: Path) -> Path:
    path.mkdir(parents=True)
    shutil.copy(SHIPPED_TOKENIZER, path / ckpt.TOKENIZER_FILE)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, log: Path, fn) -> None:
    """A forked rank: torchrun's environment, its own log, and an exit status like a process's."""
    out = open(log, "w", buffering=1)
    os.dup2(out.fileno(), 1)
    os.dup2(out.fileno(), 2)
    sys.stdout = sys.stderr = out
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world))
    code = 0
    try:
        fn(rank)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            print(exc.code, file=out)
            code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc(file=out)
        code = 1
    out.flush()
    os._exit(code)


def run_ranks(world: int, fn, logs: Path, timeout: float = 120) -> list[tuple[int, str]]:
    """Run ``fn(rank)`` on ``world`` forked ranks of one gloo group → (exit status, log) per rank."""
    logs.mkdir(parents=True, exist_ok=True)
    port, ctx = free_port(), multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_rank_main, args=(rank, world, port, logs / f"rank{rank}.log", fn))
             for rank in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
    hung = [p for p in procs if p.is_alive()]
    for p in hung:
        p.kill()
        p.join()
    assert not hung, "a rank hung"
    return [(p.exitcode, (logs / f"rank{r}.log").read_text()) for r, p in enumerate(procs)]


def state_tensors(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "state.safetensors"))


def assert_same_run(run_a: Path, run_b: Path) -> None:
    """The same weights, moving average and Adam moments (to float tolerance), and counters."""
    a, b = state_tensors(run_a), state_tensors(run_b)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-6), (k, (a[k] - b[k]).abs().max())
    meta_a, meta_b = (json.loads((r / "state.json").read_text()) for r in (run_a, run_b))
    for key in ("step", "epoch", "batch_in_epoch", "target_tokens", "param_groups"):
        assert meta_a[key] == meta_b[key], key
    assert [h["step"] for h in meta_a["history"]] == [h["step"] for h in meta_b["history"]]


@pytest.mark.parametrize("world, pairs", [(2, [0, 1, 2, 3, 4]), (3, [5, 6])])
def test_one_step_on_shards_is_one_step_on_the_whole_batch(tmp_path, world, pairs):
    """Plain SGD with rate 1 and no clipping, so the weights move by exactly the gradient
    (Adam would hide a wrong scale). The shards hold different numbers of target tokens;
    with [5, 6] on three ranks one shard is empty."""
    from seq2seq.model import Seq2Seq
    from seq2seq.train import global_step

    tok = Tokenizer(SHIPPED_TOKENIZER)
    src, tgt = encode_pairs(tok, PAIRS, TrainConfig.max_src_len)
    assert len({len(tgt[i]) for i in pairs}) > 1
    cfg = TrainConfig(clip=1e9)

    def step(ranks, out: Path):
        torch.manual_seed(0)
        model = Seq2Seq(tiny_config("dot", tok.vocab_size))
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        loss, n_tok = global_step(distributed.wrap(model, ranks), optimizer, src, tgt, pairs, ranks, cfg)
        loss, _ = distributed.agree(ranks, loss)
        if ranks.main:
            torch.save({"loss": torch.tensor(loss), "tokens": torch.tensor(n_tok), **model.state_dict()}, out)

    step(distributed.Ranks(), tmp_path / "one.pt")
    results = run_ranks(world, lambda rank: step(distributed.start(), tmp_path / "many.pt"), tmp_path / "logs")
    assert [code for code, _ in results] == [0] * world, results
    one, many = (torch.load(tmp_path / f, weights_only=True) for f in ("one.pt", "many.pt"))
    assert int(many["tokens"]) == int(one["tokens"]) == sum(len(tgt[i]) + 1 for i in pairs)
    for k in one:
        assert torch.allclose(one[k], many[k], rtol=1e-5, atol=1e-6), (k, (one[k] - many[k]).abs().max())


@pytest.mark.parametrize("world, max_tokens", [(2, 40), (3, 14)])
def test_ranks_take_the_steps_of_one_process_on_the_same_global_batches(run, tmp_path, world, max_tokens):
    """(3, 14): batches of one or two pairs, so some ranks' shards are empty."""
    assets = new_assets(tmp_path / "assets")
    run(tmp_path / "one", assets, max_tokens=max_tokens, max_steps=5, export=False)
    results = run_ranks(world, lambda rank: run(tmp_path / "many", assets, max_tokens=max_tokens,
                                                max_steps=5, export=False), tmp_path / "logs")
    assert [code for code, _ in results] == [0] * world, results
    assert f"stopped (max steps) at step 5, best dev chrF" in results[0][1]
    assert f"{world} processes (gloo)" in results[0][1]
    assert_same_run(tmp_path / "one", tmp_path / "many")
    if max_tokens == 14:
        src, tgt = encode_pairs(Tokenizer(SHIPPED_TOKENIZER), PAIRS, TrainConfig.max_src_len)
        assert min(len(b) for b in make_batches(src, tgt, max_tokens, random.Random(7))[:5]) < world


def test_each_pair_is_trained_on_once_per_epoch_by_exactly_one_rank(run, tmp_path):
    """Brute force: the pairs each rank stepped on, logged, for one whole epoch."""
    assets = new_assets(tmp_path / "assets")
    src, tgt = encode_pairs(Tokenizer(SHIPPED_TOKENIZER), PAIRS, TrainConfig.max_src_len)
    epoch = len(make_batches(src, tgt, 40, random.Random(7)))
    real_shard = distributed.shard

    def rank_fn(rank):
        def logged(batch, r, world):
            mine = real_shard(batch, r, world)
            with open(tmp_path / f"pairs{r}.txt", "a") as f:
                f.write(" ".join(map(str, mine)) + "\n")
            return mine
        distributed.shard = logged
        run(tmp_path / "run", assets, max_steps=epoch, eval_every=1000, export=False)

    results = run_ranks(3, rank_fn, tmp_path / "logs")
    assert [code for code, _ in results] == [0, 0, 0], results
    seen = [int(i) for r in range(3) for i in (tmp_path / f"pairs{r}.txt").read_text().split()]
    assert sorted(seen) == list(range(len(src)))
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert (state["epoch"], state["batch_in_epoch"]) == (0, epoch)


def test_only_rank_0_reads_the_run_and_writes(run, tmp_path):
    """Rank 1 is given folders of its own (as on another machine without a shared disk): it
    warm-starts like rank 0 without the shipped weights, and writes nothing anywhere."""
    assets = new_assets(tmp_path / "assets")
    run(tmp_path / "shipped", assets, max_steps=2)                    # shipped weights to warm-start from
    other = new_assets(tmp_path / "other" / "assets")                 # the tokenizer only
    before = {p: p.read_bytes() for p in (tmp_path / "other").rglob("*") if p.is_file()}

    def rank_fn(rank):
        if rank == 0:
            return run(tmp_path / "runs", assets, max_steps=4)
        writes = []

        def audit(event, args):
            if event == "open" and not isinstance(args[0], int):
                mode, flags = args[1], args[2]
                if (mode and any(c in mode for c in "wax+")) or (mode is None and flags & (os.O_WRONLY | os.O_RDWR)):
                    writes.append(args[0])
            elif event in ("os.rename", "os.remove", "os.mkdir", "os.rmdir", "shutil.rmtree"):
                writes.append(args[0])
        sys.addaudithook(audit)
        run(tmp_path / "other" / "runs", other, max_steps=4)
        if writes:
            raise AssertionError(f"rank 1 wrote {writes}")

    results = run_ranks(2, rank_fn, tmp_path / "logs")
    assert [code for code, _ in results] == [0, 0], results
    assert "warm-started dot" in results[0][1] and "warm-started" not in results[1][1]
    assert results[1][1] == ""                                              # no log lines from rank 1 either
    after = {p: p.read_bytes() for p in (tmp_path / "other").rglob("*") if p.is_file()}
    assert after == before
    model, info = ckpt.load_variant("dot", assets)                          # rank 0 exported, manifest verified
    assert info["training"]["step"] == 4
    assert info["training"]["hardware"][-1].endswith("× 2 processes (gloo)")


def test_an_interrupted_run_resumes_with_another_number_of_ranks_as_one_run(run, tmp_path):
    """SIGTERM reaches rank 1 alone during step 3: every rank stops after that step, rank 0 saves
    the state once; three ranks go on from there; the result is one process's uninterrupted run."""
    assets, reference = new_assets(tmp_path / "assets"), new_assets(tmp_path / "reference")
    run(tmp_path / "one", reference, max_steps=13, eval_every=5)      # more than one epoch

    def interrupted(rank):
        real_step, real_save, calls = train_module.train_step, ckpt.save_training_state, []

        def step(*args, **kw):
            calls.append(1)
            if rank == 1 and len(calls) == 3:
                os.kill(os.getpid(), signal.SIGTERM)
            return real_step(*args, **kw)

        def save(run_dir, model, optimizer, meta, *args):
            print(f"saving state at step {meta['step']}", file=sys.stderr)
            return real_save(run_dir, model, optimizer, meta, *args)
        train_module.train_step, ckpt.save_training_state = step, save
        run(tmp_path / "many", assets, max_steps=1000, eval_every=5)

    results = run_ranks(2, interrupted, tmp_path / "logs")
    assert [code for code, _ in results] == [0, 0], results
    log = results[0][1]
    assert log.count("saving state") == 1 and "saving state at step 3" in log
    assert "stopped (interrupted) at step 3" in log
    results = run_ranks(3, lambda rank: run(tmp_path / "many", assets, max_steps=13, eval_every=5),
                          tmp_path / "logs2")
    assert [code for code, _ in results] == [0, 0, 0], results
    assert "resumed dot from" in results[0][1] and "at step 3" in results[0][1]
    assert_same_run(tmp_path / "one", tmp_path / "many")
    ours, theirs = (ckpt.load_variant("dot", a)[1]["training"] for a in (assets, reference))
    for key in ("step", "epoch", "target_tokens"):                    # the card's totals
        assert ours[key] == theirs[key], key


def test_a_rank_that_raises_stops_the_run_with_a_clear_message_and_keeps_the_saved_state(run, tmp_path):
    assets = new_assets(tmp_path / "assets")

    def rank_fn(rank):
        real_step, calls = train_module.train_step, []

        def step(*args, **kw):
            calls.append(1)
            if rank == 1 and len(calls) == 3:
                raise RuntimeError("rank 1 ran out of memory")
            return real_step(*args, **kw)
        train_module.train_step = step
        run(tmp_path / "runs", assets, max_steps=10, eval_every=2)

    results = run_ranks(2, rank_fn, tmp_path / "logs")
    (code0, log0), (code1, log1) = results
    assert code0 != 0 and code1 != 0
    assert "rank 1 ran out of memory" in log1 and "Traceback" in log1          # its own error, in full
    assert "error: training process 0 of 2 stopped: another process of this run failed" in log0
    assert "state.json) is kept" in log0 and "Traceback" not in log0
    model = ckpt.load_model(tmp_path / "runs" / "best.safetensors", tmp_path / "runs" / "best.json", None)[0]
    meta = ckpt.load_training_state(tmp_path / "runs", model, torch.optim.Adam(model.parameters()))
    assert meta["step"] == 2                                                   # the state saved at the evaluation
    assert not list((tmp_path / "runs").glob("*.tmp"))


def test_a_rank_that_hangs_stops_the_run_after_the_timeout(run, tmp_path):
    assets = new_assets(tmp_path / "assets")

    def rank_fn(rank):
        # As train --dist-timeout; long enough for rank 0's evaluation at step 2 on a busy machine.
        distributed.start(timeout_minutes=3 / 60)
        real_step, calls = train_module.train_step, []

        def step(*args, **kw):
            calls.append(1)
            if rank == 1 and len(calls) == 3:
                time.sleep(6)
            return real_step(*args, **kw)
        train_module.train_step = step
        run(tmp_path / "runs", assets, max_steps=10, eval_every=2)

    (code0, log0), (code1, log1) = run_ranks(2, rank_fn, tmp_path / "logs")
    assert code0 != 0 and code1 != 0
    assert "error: training process 0 of 2 stopped: another process of this run failed or stopped answering " \
           "(Timed out" in log0
    assert "error: training process 1 of 2 stopped" in log1 and "rank 0 keeps the run's last saved state" in log1
    assert json.loads((tmp_path / "runs" / "state.json").read_text())["step"] == 2


def test_a_save_that_fails_half_way_leaves_the_previous_checkpoint(run, tmp_path, monkeypatch):
    assets = new_assets(tmp_path / "assets")
    run(tmp_path / "runs", assets, max_steps=2)
    files = [tmp_path / "runs" / "best.safetensors", *ckpt.model_paths("dot", assets), assets / ckpt.MANIFEST]
    good = {p: p.read_bytes() for p in files}

    def torn(tensors, path, *a, **kw):
        Path(path).write_bytes(b"half a file")
        raise OSError("no space left on device")
    monkeypatch.setattr(ckpt, "save_file", torn)
    model = ckpt.load_variant("dot", assets)[0]
    with pytest.raises(OSError):
        ckpt.save_model(model, *ckpt.model_paths("dot", assets))
    with pytest.raises(OSError):
        ckpt.save_model(model, files[0], tmp_path / "runs" / "best.json")
    assert {p: p.read_bytes() for p in files} == good
    ckpt.load_variant("dot", assets)                                           # still verifies and loads


# ---- the command line under torchrun ------------------------------------------------------

def test_the_train_command_runs_unchanged_under_torchrun(tmp_path):
    """torchrun --standalone, 2 processes, resuming a run that one plain process started; the
    result equals a plain run of all the steps."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name, pairs in (("train", PAIRS), ("dev", DEV)):
        (data_dir / f"{name}.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in pairs))
    (data_dir / "prepare.json").write_text(json.dumps({"command": "python -m seq2seq prepare --tsv"}))
    common = ["train", "--variant", "dot", "--data", str(data_dir), "--emb", "16", "--enc-hidden", "8",
              "--dec-hidden", "16", "--dropout", "0", "--max-tokens", "40", "--eval-every", "3",
              "--dev-sample", "3", "--seed", "7"]
    from seq2seq.__main__ import main

    for name, steps in (("reference", 8), ("assets", 3)):            # in this process: no torchrun
        assets = new_assets(tmp_path / name)
        assert main([*common, "--assets", str(assets), "--runs", str(tmp_path / f"runs-{name}"),
                     "--max-steps", str(steps)]) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "seq2seq", *common, "--assets", str(tmp_path / "assets"),
                           "--runs", str(tmp_path / "runs-assets"), "--max-steps", "8"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resumed dot" in proc.stderr and "stopped (max steps) at step 8" in proc.stderr
    assert proc.stderr.count("exported") == 1                          # by rank 0 alone
    assert_same_run(tmp_path / "runs-reference" / "dot", tmp_path / "runs-assets" / "dot")
    info = ckpt.load_variant("dot", tmp_path / "assets")[1]
    assert info["training"]["hardware"][-1].endswith("× 2 processes (gloo)")
    assert info["commands"][-1].startswith("python -m seq2seq train --variant dot")


@pytest.mark.parametrize("minutes", ["0", "-1", "nan", "inf"])
def test_a_timeout_that_is_no_number_of_minutes_is_refused(tmp_path, capsys, minutes):
    from seq2seq.__main__ import main

    assert main(["train", "--variant", "dot", "--data", str(tmp_path), "--dist-timeout", minutes]) == 2
    assert "--dist-timeout must be a number of minutes" in capsys.readouterr().err
