"""Training and translation throughput of one model size on this machine.

    python benchmarks/bench_train.py                    # shipped default size, ~1 minute
    python benchmarks/bench_train.py --size 7.7m        # the ~7.7M-parameter size
    python benchmarks/bench_train.py --train-seconds 5 --translate-seconds 3   # a quick check
    python benchmarks/bench_train.py --nproc 2          # 1 and 2 training processes, one thread each
    python benchmarks/bench_train.py --data ../train/data/train.tsv --tokenizer ../train/assets/spm.model \
        --directions de-en,en-de --precision bf16       # a two-way model on the joint tokenizer

Training runs the real training step (teacher forcing, label-smoothed loss,
gradient clipping, Adam) on length-bucketed batches made by
``seq2seq.train.make_batches``: from ``data/train.tsv`` when it and the
tokenizer exist, otherwise from synthetic pairs whose lengths follow the
tokenised dictionary (median 4 pieces, long tail to ~35). It reports target
tokens/s, counted as training counts them (non-padding target pieces, EOS
included). Translation reports sentences/s for batched greedy decoding
(length-sorted batches, as ``seq2seq evaluate`` runs them) with the shipped
weights of that variant and size when ``assets/`` has them, else with freshly
initialised weights; decoding time grows with output length, so the mean output
length is printed with it (untrained weights run to the limit, 2 × source + 10
pieces, which makes that figure pessimistic).

``--nproc N`` measures training on 1 and on N processes instead, as under torchrun:
each process has one thread, all ranks step on their shards of the same global
batches (``seq2seq.train.global_step``, DistributedDataParallel over gloo on CPU,
nccl on CUDA), and it prints target tokens/s of each and the scaling efficiency,
tokens/s of N ÷ (N × tokens/s of 1). It also times one all-reduce of all the
gradients alone, the communication every step pays.
"""
from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import platform
import random
import socket
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq import checkpoint as ckpt  # noqa: E402
from seq2seq import data  # noqa: E402
from seq2seq.model import ModelConfig, Seq2Seq  # noqa: E402
from seq2seq.search import greedy  # noqa: E402
from seq2seq.tokenizer import Tokenizer  # noqa: E402
from seq2seq import distributed  # noqa: E402
from seq2seq.train import TrainConfig, batch_tensors, encode_pairs, global_step, make_batches, train_step  # noqa: E402

SIZES = {
    "default": dict(emb_size=256, enc_hidden=192, dec_hidden=384),   # shipped default, ~4.3M parameters
    "7.7m": dict(emb_size=384, enc_hidden=272, dec_hidden=544),      # ~7.75M parameters
}


def synthetic_pairs(n: int, vocab: int, rng: random.Random) -> tuple[list[list[int]], list[list[int]]]:
    """Random ids with dictionary-like lengths: log-normal around 4 pieces, capped at 60."""
    src, tgt = [], []
    for _ in range(n):
        s = min(60, max(1, round(math.exp(rng.gauss(1.45, 0.6)))))
        t = max(1, round(s * rng.uniform(0.7, 1.3)))
        src.append([rng.randrange(4, vocab) for _ in range(s)])
        tgt.append([rng.randrange(4, vocab) for _ in range(t)])
    return src, tgt


def corpus_pairs(path: Path, tok: Tokenizer, n: int, max_src_len: int, directions: tuple[str, ...]):
    """``n`` sampled pairs, in every direction of the model, as training encodes them."""
    return encode_pairs(tok, data.sample(data.read_tsv(path), n, seed=0), max_src_len, directions)


def bench_train(model, src, tgt, max_tokens: int, seconds: float, lr: float, seed: int,
                precision: str = "fp32") -> dict:
    rng = random.Random(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    batches = make_batches(src, tgt, max_tokens, rng)
    steps = tokens = sentences = 0
    elapsed = 0.0
    warmup = 2
    i = 0
    while elapsed < seconds or steps < 3:
        if i == len(batches):
            batches, i = make_batches(src, tgt, max_tokens, rng), 0
        idx = batches[i]
        i += 1
        t0 = time.perf_counter()
        loss, n_tok = train_step(model, optimizer, batch_tensors(src, tgt, idx, "cpu"), 0.1, 1.0, precision)
        dt = time.perf_counter() - t0
        if warmup:
            warmup -= 1
            continue
        elapsed += dt
        steps += 1
        tokens += n_tok
        sentences += len(idx)
    return {"steps": steps, "seconds": elapsed, "target_tokens": tokens, "sentences": sentences,
            "tokens_per_s": tokens / elapsed, "steps_per_s": steps / elapsed,
            "mean_batch": sentences / steps, "last_loss": loss}


@torch.no_grad()
def bench_translate(model, sources: list[list[int]], seconds: float, batch_size: int, max_len: int) -> dict:
    model.eval()
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    done = out_tokens = 0
    elapsed = 0.0
    start = 0
    greedy(model, [sources[order[0]]], max_len=max_len)  # warm-up
    while elapsed < seconds or done == 0:
        chunk = [sources[i] for i in order[start:start + batch_size]]
        start = start + batch_size if start + batch_size < len(order) else 0
        t0 = time.perf_counter()
        hyps = greedy(model, chunk, max_len=max_len)
        elapsed += time.perf_counter() - t0
        done += len(chunk)
        out_tokens += sum(len(h.tokens) for h in hyps)
    return {"sentences": done, "seconds": elapsed, "sentences_per_s": done / elapsed,
            "mean_output_len": out_tokens / done}


def _rank(rank: int, world: int, port: int, results, cfg: ModelConfig, src, tgt, max_tokens: int,
          seconds: float, seed: int) -> None:
    """One training process of ``bench_ranks``: its shard of every global batch, for ``seconds``."""
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                          WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    ranks = distributed.start()
    torch.manual_seed(seed)
    model = Seq2Seq(cfg).to(ranks.device)
    net = distributed.wrap(model, ranks)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    tcfg = TrainConfig(max_tokens=max_tokens)
    batches, i = make_batches(src, tgt, max_tokens, random.Random(seed)), 0
    steps = tokens = 0
    warmup, started, done = 2, None, False
    while not done:
        if i == len(batches):
            batches, i = make_batches(src, tgt, max_tokens, random.Random(seed + steps)), 0
        _, n_tok = global_step(net, optimizer, src, tgt, batches[i], ranks, tcfg)
        i += 1
        if warmup:
            warmup -= 1
            if not warmup:
                started = time.perf_counter()
            continue
        steps, tokens = steps + 1, tokens + n_tok
        # As in training: the ranks agree after every step (here: rank 0's clock says stop).
        _, (done,) = distributed.agree(ranks, 0.0, ranks.main and time.perf_counter() - started >= seconds)
    elapsed = time.perf_counter() - started
    allreduce_ms = _time_allreduce(model, ranks) if ranks.distributed else None
    if ranks.main:
        results.put({"steps": steps, "seconds": elapsed, "target_tokens": tokens, "tokens_per_s": tokens / elapsed,
                     "step_ms": 1000 * elapsed / steps, "allreduce_ms": allreduce_ms})
    distributed.finish(ranks)


def _time_allreduce(model: Seq2Seq, ranks, repeats: int = 10) -> float:
    """Milliseconds for one all-reduce of all the gradients (one flat fp32 tensor), the ranks in step."""
    flat = torch.zeros(model.num_parameters(), device=ranks.device)
    torch.distributed.all_reduce(flat)
    torch.distributed.barrier()
    t0 = time.perf_counter()
    for _ in range(repeats):
        torch.distributed.all_reduce(flat)
    return 1000 * (time.perf_counter() - t0) / repeats


def bench_ranks(world: int, cfg: ModelConfig, src, tgt, max_tokens: int, seconds: float, seed: int) -> dict:
    """Training throughput of ``world`` processes of one thread each, on the same global batches."""
    ctx = multiprocessing.get_context("spawn" if torch.cuda.is_available() else "fork")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    results = ctx.SimpleQueue()
    procs = [ctx.Process(target=_rank, args=(r, world, port, results, cfg, src, tgt, max_tokens, seconds, seed))
             for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode != 0 for p in procs):
        raise SystemExit(f"error: a benchmark process failed (exit codes {[p.exitcode for p in procs]})")
    return results.get()


def main_scaling(args, cfg: ModelConfig, src, tgt) -> int:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine    {os.cpu_count()} cores, load average {load} before the runs "
          f"(other work on the machine lowers both figures)")
    print(f"gradients  {cfg_params(cfg):,} fp32 = {4 * cfg_params(cfg) / 1e6:.1f} MB all-reduced per step")
    runs = {}
    for world in sorted({1, args.nproc}):
        runs[world] = r = bench_ranks(world, cfg, src, tgt, args.max_tokens, args.train_seconds, args.seed)
        comm = "" if r["allreduce_ms"] is None else f"; one gradient all-reduce alone {r['allreduce_ms']:.1f} ms"
        print(f"processes  {world}: {r['tokens_per_s']:,.0f} target tokens/s ({r['steps']} steps in "
              f"{r['seconds']:.1f} s, {r['step_ms']:.0f} ms per step{comm})")
    if args.nproc > 1:
        eff = runs[args.nproc]["tokens_per_s"] / (args.nproc * runs[1]["tokens_per_s"])
        print(f"scaling    {args.nproc} processes: {runs[args.nproc]['tokens_per_s'] / runs[1]['tokens_per_s']:.2f}× "
              f"the tokens/s of 1, efficiency {100 * eff:.0f}%")
    return 0


def cfg_params(cfg: ModelConfig) -> int:
    return Seq2Seq(cfg).num_parameters()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=list(SIZES), default="default")
    p.add_argument("--variant", default="additive")
    p.add_argument("--vocab", type=int, default=8000, help="vocabulary size for synthetic data")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (training defaults to 1)")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="as train --precision")
    p.add_argument("--max-tokens", type=int, default=2500, help="target tokens per batch (as training)")
    p.add_argument("--train-seconds", type=float, default=40.0)
    p.add_argument("--translate-seconds", type=float, default=12.0)
    p.add_argument("--batch-size", type=int, default=128, help="sentences per greedy translation batch")
    p.add_argument("--max-len", type=int, default=100, help="output cap for translation")
    p.add_argument("--pairs", type=int, default=20000, help="training pairs to draw batches from")
    p.add_argument("--data", default=str(ROOT / "data" / "train.tsv"))
    p.add_argument("--tokenizer", default=str(ckpt.ASSETS / ckpt.TOKENIZER_FILE),
                   help="sentencepiece model for --data (default: the shipped one)")
    p.add_argument("--directions", default="de-en",
                   help="directions of the model, as train --directions: de-en,en-de for a two-way model "
                        "(each direction gets the sampled pairs, its sources opened by their tag)")
    p.add_argument("--synthetic", action="store_true", help="ignore --data, use synthetic lengths")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="measure training on 1 and N processes (one thread each) instead")
    args = p.parse_args(argv)
    if args.nproc is not None and not 1 <= args.nproc <= 64:
        p.error("--nproc must be between 1 and 64")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    tok_path = Path(args.tokenizer)
    directions = tuple(args.directions.split(","))
    if not args.synthetic and Path(args.data).is_file() and tok_path.is_file():
        tok = Tokenizer(tok_path)
        vocab, source = tok.vocab_size, f"{args.data} ({args.pairs} sampled pairs, {'+'.join(directions)}, {tok_path})"
        src, tgt = corpus_pairs(Path(args.data), tok, args.pairs, 60, directions)
    else:
        vocab, source = args.vocab, "synthetic, dictionary-like lengths"
        src, tgt = synthetic_pairs(args.pairs, vocab, rng)

    try:
        cfg = ModelConfig(variant=args.variant, vocab_size=vocab, directions=directions, **SIZES[args.size])
    except ValueError as exc:
        p.error(str(exc))
    if args.nproc is not None:
        print(f"model      {args.size}: {args.variant}; data {source}; global batches of ≤{args.max_tokens} "
              f"target tokens, split across the processes")
        return main_scaling(args, cfg, src, tgt)
    model = Seq2Seq(cfg)
    print(f"model      {args.size}: {args.variant}, emb {cfg.emb_size}, enc {cfg.enc_hidden}×2, dec {cfg.dec_hidden}, "
          f"vocab {vocab}: {model.num_parameters():,} parameters")
    print(f"machine    {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), {args.precision}")
    print(f"data       {source}; mean source {sum(map(len, src)) / len(src):.1f} pieces, "
          f"batches of ≤{args.max_tokens} target tokens")

    tr = bench_train(model, src, tgt, args.max_tokens, args.train_seconds, lr=2e-3, seed=args.seed,
                     precision=args.precision)
    print(f"training   {tr['tokens_per_s']:,.0f} target tokens/s  ({tr['steps_per_s']:.2f} steps/s, "
          f"{tr['mean_batch']:.0f} sentences/batch, {tr['steps']} steps in {tr['seconds']:.1f} s)")

    sources = src[: max(args.batch_size * 4, 512)]
    # A few benchmark steps teach a model to emit EOS at once, which would flatter the figure;
    # fresh weights instead run to the length limit (pessimistic). Shipped weights are realistic.
    torch.manual_seed(args.seed)
    decoder, which = Seq2Seq(cfg), "untrained weights (decode to the length limit)"
    weights, config = ckpt.model_paths(args.variant)
    if weights.is_file() and vocab == Tokenizer(tok_path).vocab_size:
        try:
            shipped, _ = ckpt.load_variant(args.variant)
            if shipped.cfg.directions == directions and all(getattr(shipped.cfg, k) == v for k, v in SIZES[args.size].items()):
                decoder, which = shipped, f"shipped weights {weights.relative_to(ROOT)}"
        except ckpt.CheckpointError as exc:
            print(f"note: not using shipped weights: {exc}", file=sys.stderr)
    ts = bench_translate(decoder, sources, args.translate_seconds, args.batch_size, args.max_len)
    print(f"translate  {ts['sentences_per_s']:,.1f} sentences/s greedy, batches of {args.batch_size}, {which} "
          f"(mean output {ts['mean_output_len']:.1f} pieces; {ts['sentences']} sentences in {ts['seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
