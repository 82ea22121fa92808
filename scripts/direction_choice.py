"""Measure the choice between one model that translates both ways (each source opened by its
target-language tag, Johnson et al. 2017) and two models, one per direction.

Both sides get the same compute: the shared model trains 2N steps on batches that mix both
directions, each one-way model N steps on its own direction, with batches of one size. All
runs share the variant, sizes, tokenizer, data and seed. Each then translates dev in each
direction it knows (greedy), scored by chrF on both corpora's dev pairs.

    python scripts/direction_choice.py --data data --assets assets-new --steps 400 --out choice.json
    python scripts/direction_choice.py ... --only both        # one arm; arms can run as parallel processes

``--assets`` holds the tokenizer with both direction tags (``python -m seq2seq prepare``);
models are written to a temporary folder. Test is never read.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq import checkpoint as ckpt  # noqa: E402
from seq2seq.__main__ import main as seq2seq_main  # noqa: E402

ARMS = {"both": ("de-en,en-de", 2), "de-en": ("de-en", 1), "en-de": ("en-de", 1)}   # directions, steps × N


def run_arm(arm: str, args) -> dict:
    directions, times = ARMS[arm]
    with tempfile.TemporaryDirectory() as tmp:
        assets = Path(tmp) / "assets"
        assets.mkdir()
        shutil.copy(Path(args.assets) / ckpt.TOKENIZER_FILE, assets / ckpt.TOKENIZER_FILE)
        ckpt.write_manifest(assets)
        code = seq2seq_main(["train", "--variant", args.variant, "--data", args.data, "--assets", str(assets),
                             "--runs", str(Path(tmp) / "runs"), "--restart", "--directions", directions,
                             "--max-steps", str(times * args.steps), "--eval-every", str(times * args.steps),
                             "--dev-sample", str(args.dev_sample), "--emb", str(args.emb),
                             "--enc-hidden", str(args.enc_hidden), "--dec-hidden", str(2 * args.enc_hidden),
                             "--precision", args.precision, "--threads", "1"])
        if code:
            raise SystemExit(f"training {arm} failed ({code})")
        scores = {}
        for direction in directions.split(","):
            out = Path(tmp) / f"{direction}.json"
            code = seq2seq_main(["evaluate", "--variant", args.variant, "--split", "dev", "--beam", "1",
                                 "--data", args.data, "--assets", str(assets), "--direction", direction,
                                 "--limit", str(args.dev_sample), "--json", str(out)])
            if code:
                raise SystemExit(f"evaluating {arm} {direction} failed ({code})")
            result = json.loads(out.read_text())[args.variant]
            scores[direction] = {"ding": result["all"]["chrf"], "tatoeba": result.get("tatoeba", {}).get("all", {}).get("chrf")}
        return {"arm": arm, "directions": directions, "steps": times * args.steps, "dev_chrf": scores}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="data")
    p.add_argument("--assets", required=True, help="folder with the two-direction tokenizer")
    p.add_argument("--variant", default="dot")
    p.add_argument("--steps", type=int, default=400, help="N: steps of each one-way model (the shared one: 2N)")
    p.add_argument("--emb", type=int, default=128)
    p.add_argument("--enc-hidden", type=int, default=96)
    p.add_argument("--dev-sample", type=int, default=500)
    p.add_argument("--precision", default="bf16")
    p.add_argument("--only", nargs="*", choices=list(ARMS), default=list(ARMS))
    p.add_argument("--out", help="write the results as JSON")
    args = p.parse_args()
    results = [run_arm(arm, args) for arm in args.only]
    for r in results:
        print(f"{r['arm']:6s} {r['steps']:5d} steps  " + "  ".join(
            f"{d}: Ding {s['ding']}, Tatoeba {s['tatoeba']}" for d, s in r["dev_chrf"].items()))
    if args.out:
        Path(args.out).write_text(json.dumps({"command": " ".join(sys.argv), "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
