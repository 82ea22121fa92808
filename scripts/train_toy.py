"""Train the tiny toy models (copy or reverse a digit sequence; one per attention
variant) and ship them to assets/toy/ with a sha256 manifest:

    python scripts/train_toy.py --jobs 2                 # copy and reverse × every variant: the shipped set
    python scripts/train_toy.py --task copy --variant dot --seed 3 --assets /tmp/toy

Each model is trained from scratch by ``seq2seq.toy.train_model`` (deterministic: the
same task, variant, seed and steps give the same weights, here or in the browser's
"Train it live"), then scored on held-out sequences; the figures go in its JSON.
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from seq2seq import checkpoint as ckpt  # noqa: E402
from seq2seq import toy  # noqa: E402
from seq2seq.attention import VARIANTS  # noqa: E402


def train_one(cfg: toy.ToyConfig, assets: Path, command: str, stop_after: int | None = None) -> str:
    t0 = time.time()
    model, info = toy.train_model(cfg, stop_after)
    scores = toy.evaluate(model, cfg.task, toy.test_sequences())
    toy.save(model, cfg, {"variant": cfg.variant, "task": cfg.task, "parameters": model.num_parameters(),
                          "training": {**info, "hardware": f"CPU ({platform.machine()}), 1 thread",
                                       "torch": torch.__version__},
                          "test": scores, "command": command}, assets)
    size = toy.model_paths(cfg.task, cfg.variant, assets)[0].stat().st_size
    return (f"{cfg.task:8s} {cfg.variant:10s} exact {scores['exact_match']:.3f} (short {scores['exact_match_short']:.3f}, "
            f"long {scores['exact_match_long']:.3f}) α on alignment {scores['attention_on_alignment']} "
            f"{size / 1e3:.0f} kB {time.time() - t0:.0f} s")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=[*toy.TASKS, "shipped", "all"], default="shipped",
                   help=f"default: the shipped tasks ({', '.join(toy.SHIPPED_TASKS)}); all: every task")
    p.add_argument("--variant", choices=[*VARIANTS, "all"], default="all")
    p.add_argument("--seed", type=int, default=toy.ToyConfig.seed)
    p.add_argument("--steps", type=int, default=toy.ToyConfig.steps)
    p.add_argument("--stop-after", type=int, default=None,
                   help="end after this many of the --steps (the learning-rate schedule still spans --steps): "
                        "what a live training stopped at that step trained")
    p.add_argument("--assets", default=str(toy.TOY_ASSETS), help="where the models and manifest.json go")
    p.add_argument("--jobs", type=int, default=1, help="models trained at once (one CPU thread each)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)
    command = "python scripts/train_toy.py " + " ".join(shlex.quote(a) for a in argv)
    assets = Path(args.assets)
    assets.mkdir(parents=True, exist_ok=True)
    tasks = {"all": toy.TASKS, "shipped": toy.SHIPPED_TASKS}.get(args.task, (args.task,))
    variants = list(VARIANTS) if args.variant == "all" else [args.variant]
    try:
        configs = [toy.ToyConfig(task=t, variant=v, seed=args.seed, steps=args.steps) for t in tasks for v in variants]
    except toy.ToyInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with ProcessPoolExecutor(max(1, min(args.jobs, len(configs), os.cpu_count() or 1))) as pool:
        n = len(configs)
        for line in pool.map(train_one, configs, [assets] * n, [command] * n, [args.stop_after] * n):
            print(line, flush=True)
    ckpt.write_manifest(assets)
    print(f"wrote {assets / ckpt.MANIFEST}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
