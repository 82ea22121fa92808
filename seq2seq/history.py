"""Attention over training: at chosen steps of a run, record each probe sentence's
greedy output and its α (target pieces × source pieces), and dev chrF, into one
small JSON per variant (``python -m seq2seq train --history PATH``).

The probe sentences are the page's examples (``demo/examples.tsv``), so the page
can show, for an example sentence, what every variant said and where it looked
at any recorded step. Points are taken often at first (attention forms in the
early steps), then every ``every`` steps, and at the end.

The weights recorded are the current ones θ, not the moving average the dev
evaluation of ``train.py`` uses: early in a run the average still lags far behind.

Schema (``check`` enforces it)::

    {"schema": 1, "variant": str, "model": {...}, "train_config": {...}, "command": str,
     "budget": {...}, "weights": str, "dev": {"pairs": {corpus: n}}, "max_output": int,
     "probe": [{"source": str, "reference": str, "source_pieces": [str]}],
     "points": [{"step": int, "train_seconds": float, "dev_chrf": float,
                 "dev_by_corpus": {corpus: float},
                 "outputs": [{"text": str, "target_pieces": [str],
                              "attention": [[float]] | null}]}]}   # (T, S) per probe sentence
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from .model import Seq2Seq, orient
from .search import greedy
from .tokenizer import EOS_ID, UNK_ID, Tokenizer

SCHEMA = 1
MAX_BYTES = 1_000_000            # one history file
EXAMPLES = Path(__file__).resolve().parent.parent / "demo" / "examples_everyday.tsv"
MAX_POINTS = 32                  # regular points kept; past it the interval doubles (every other is dropped)
DEV_PAIRS = 200                  # dev pairs per set scored at each point: a trend, not the checkpoint's figure
MAX_OUTPUT = 40                  # pieces per recorded output (an untrained model babbles to the limit)
DIGITS = 3                       # α is stored rounded to this many decimals


class HistoryError(ValueError):
    """A history file that does not follow the schema."""


def load_probe(path: Path = EXAMPLES) -> list[tuple[str, str]]:
    """(source, reference) pairs of a TSV file; lines starting with '#' are comments."""
    pairs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            src, _, ref = line.partition("\t")
            pairs.append((src.strip(), ref.strip()))
    return pairs


def record_steps(every: int, last: int) -> list[int]:
    """The steps ≤ ``last`` a run with interval ``every`` records, before any thinning:
    0, the powers of two below ``every``, then every ``every``."""
    return sorted({0, *[s for s in early_steps(every)], *range(every, last + 1, every)})


def early_steps(every: int) -> list[int]:
    return [2 ** k for k in range(every.bit_length()) if 2 ** k < every]


class HistoryRecorder:
    """Called by ``train.train`` after every step; records at ``due`` steps and rewrites the file each time,
    so an interrupted run keeps what it recorded."""

    def __init__(self, path: Path, tok: Tokenizer, probe: list[tuple[str, str]], dev_sets: dict[str, list],
                 every: int = 25, info: dict | None = None, directions: tuple[str, ...] = ("de-en",)):
        from .train import dev_runs

        if every < 1:
            raise ValueError("the history's interval must be at least 1 step")
        self.path, self.tok, self.first_every = Path(path), tok, every
        # The probe and dev sentences in each direction the model translates.
        self.dev_sets = dev_runs({name: pairs[:DEV_PAIRS] for name, pairs in dev_sets.items()}, directions)
        self.probe = [(d, src, ref) for d in directions for src, ref in orient(probe, d, directions)]
        prefixes = [tok.source_prefix(directions, d) for d, _, _ in self.probe]
        self.probe_ids = [prefix + (tok.encode(src) or [UNK_ID]) for prefix, (_, src, _) in zip(prefixes, self.probe)]
        info = dict(info or {})
        info["commands"] = [info["command"]] if info.get("command") else []
        self.data = {"schema": SCHEMA, **info,
                     "weights": "current weights (not the moving average used for the best checkpoint); "
                                "a point marked 'shipped' holds the weights the run exported",
                     "dev": {"pairs": {name: len(pairs) for name, (_, pairs) in self.dev_sets.items()}},
                     "max_output": MAX_OUTPUT, "every": every,
                     "probe": [{"source": src, "reference": ref, "direction": d,
                                "source_pieces": tok.pieces(prefix) + tok.text_pieces(src)}
                               for (d, src, ref), prefix in zip(self.probe, prefixes)],
                     "points": []}
        if self.path.exists() and not (info.get("budget") or {}).get("restart"):
            self._go_on(load(self.path), info)

    @property
    def every(self) -> int:
        return self.data["every"]

    def _go_on(self, old: dict, info: dict) -> None:
        """A resumed run adds its points to the history its earlier invocations wrote."""
        if old["variant"] != self.data["variant"] or old["probe"] != self.data["probe"] or \
                old.get("dev") != self.data["dev"]:
            raise HistoryError(f"{self.path} records another variant, probe or dev set; give another path")
        earlier = old.get("commands") or ([old["command"]] if old.get("command") else [])
        self.data.update(points=[p for p in old["points"] if not p.get("shipped")], command=old.get("command", ""),
                         commands=earlier + info["commands"], every=old.get("every", self.every),
                         budget={k: v for k, v in old["budget"].items() if k not in ("minutes", "max_steps")})

    def due(self, step: int) -> bool:
        return step == 0 or step % self.every == 0 or step in early_steps(self.first_every)

    def _thin(self) -> None:
        """Past MAX_POINTS regular points the interval doubles and the points off the new grid
        go, so a run of any length keeps its early steps and even intervals to its end."""
        early = {0, *early_steps(self.first_every)}

        def regular() -> int:   # the latest point always stays: it is where the run stands
            return sum(p["step"] not in early for p in self.data["points"][:-1])

        while regular() and (regular() > MAX_POINTS or len(self._text().encode()) > 0.95 * MAX_BYTES):
            self.data["every"] *= 2
            last = self.data["points"][-1]
            self.data["points"] = [p for p in self.data["points"]
                                   if p["step"] in early or p["step"] % self.every == 0 or p is last]

    @torch.no_grad()
    def record(self, step: int, model: Seq2Seq, train_seconds: float, shipped: bool = False) -> float:
        """Record one point (unless this step already is; the shipped weights replace the
        current ones at their step); returns the seconds it took."""
        from .evaluate import chrf, translate_corpus   # sacrebleu: not needed by the page, which only reads

        t0 = time.time()
        if shipped and self.data["points"] and self.data["points"][-1]["step"] >= step:
            self.data["points"].pop()
        if self.data["points"] and self.data["points"][-1]["step"] >= step:
            return 0.0
        was_training = model.training
        model.eval()
        outputs = []
        for hyp in greedy(model, self.probe_ids, max_len=MAX_OUTPUT):
            ids = hyp.tokens
            att = hyp.attention
            outputs.append({"text": self.tok.decode(ids),
                            "target_pieces": ["</s>" if i == EOS_ID else p for i, p in zip(ids, self.tok.pieces(ids))],
                            "attention": None if att is None else [[round(float(a), DIGITS) for a in row] for row in att]})
        by_corpus = {}
        for name, (direction, pairs) in self.dev_sets.items():
            hyps = translate_corpus(model, self.tok, [p[0] for p in pairs], direction=direction)
            by_corpus[name] = round(chrf(hyps, [p[1] for p in pairs]), 2)
        model.train(was_training)
        point = {"step": int(step), "train_seconds": round(float(train_seconds), 1),
                 "dev_chrf": round(sum(by_corpus.values()) / len(by_corpus), 2),
                 "dev_by_corpus": by_corpus, "outputs": outputs}
        self.data["points"].append({**point, "shipped": True} if shipped else point)
        self._thin()
        self.write()
        return time.time() - t0

    def finish(self, **info) -> None:
        """Add facts known only at the end (steps done, minutes, stop reason) and write the file."""
        self.data["budget"] = {**self.data.get("budget", {}), **info}
        self.write()

    def _text(self) -> str:
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = self._text()
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(self.path)


# ---- reading and checking -------------------------------------------------------------------

def _fail(msg: str):
    raise HistoryError(msg)


def check(data) -> dict:
    """Raise HistoryError unless ``data`` follows the schema above (steps strictly increasing,
    one output per probe sentence, α rows over the source pieces, each summing to 1)."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        _fail(f"not a history file of schema {SCHEMA}")
    for key, kind in (("variant", str), ("probe", list), ("points", list), ("model", dict), ("budget", dict)):
        if not isinstance(data.get(key), kind):
            _fail(f"'{key}' is missing or not a {kind.__name__}")
    probe = data["probe"]
    for p in probe:
        if not (isinstance(p, dict) and isinstance(p.get("source"), str)
                and isinstance(p.get("source_pieces"), list) and p["source_pieces"]):
            _fail("each probe entry needs 'source' and non-empty 'source_pieces'")
    if not data["points"]:
        _fail("no points recorded")
    last = -1
    for point in data["points"]:
        if not isinstance(point, dict):
            _fail("a point is not an object")
        step = point.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or step <= last:
            _fail(f"steps must be integers in increasing order (got {step!r} after {last})")
        last = step
        chrf_ = point.get("dev_chrf")
        if not isinstance(chrf_, (int, float)) or not 0 <= chrf_ <= 100:
            _fail(f"step {step}: dev_chrf must be a number in [0, 100]")
        outs = point.get("outputs")
        if not isinstance(outs, list) or len(outs) != len(probe):
            _fail(f"step {step}: one output per probe sentence expected")
        for out, p in zip(outs, probe):
            if not isinstance(out, dict) or not isinstance(out.get("text"), str):
                _fail(f"step {step}: an output without text")
            pieces, att = out.get("target_pieces"), out.get("attention")
            if not isinstance(pieces, list):
                _fail(f"step {step}: target_pieces must be a list")
            if att is None:
                continue
            if not isinstance(att, list) or len(att) != len(pieces):
                _fail(f"step {step}: attention needs one row per target piece")
            for row in att:
                if not isinstance(row, list) or len(row) != len(p["source_pieces"]):
                    _fail(f"step {step}: an attention row does not span the source pieces")
                if any(not isinstance(a, (int, float)) or not 0 <= a <= 1 for a in row) or abs(sum(row) - 1) > 0.5 * 10 ** -DIGITS * len(row) + 1e-6:
                    _fail(f"step {step}: an attention row is not a distribution")
    return data


def load(path: Path) -> dict:
    """Read and check a history file (HistoryError if it is unreadable, too large or off-schema)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            _fail(f"{path} is larger than {MAX_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        if isinstance(exc, HistoryError):
            raise
        raise HistoryError(f"unreadable history file {path}: {exc}") from exc
    return check(data)
