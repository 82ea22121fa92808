"""Checkpoints: safetensors weights + a JSON config, verified against a sha256
manifest before anything is read. Nothing here ever unpickles.

Shipped layout (``assets/``)::

    spm.model                    joint sentencepiece model
    models/<variant>.safetensors fp16 weights
    models/<variant>.json        ModelConfig + training summary
    cards/<variant>.json         model card
    manifest.json                {relative path: sha256}
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .model import ModelConfig, Seq2Seq

ASSETS = Path(__file__).resolve().parent.parent / "assets"
MANIFEST = "manifest.json"
TOKENIZER_FILE = "spm.model"


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt or does not match the manifest."""


def shown_path(path: Path | str) -> str:
    """A path as cards and recorded commands show it: relative to the repository when inside
    it, so no machine's folders travel with the shipped files; other paths as given."""
    try:
        return str(Path(path).resolve().relative_to(ASSETS.parent))
    except ValueError:
        return str(path)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_paths(variant: str, assets: Path = ASSETS) -> tuple[Path, Path]:
    return assets / "models" / f"{variant}.safetensors", assets / "models" / f"{variant}.json"


def card_path(variant: str, assets: Path = ASSETS) -> Path:
    return assets / "cards" / f"{variant}.json"


def write_manifest(assets: Path = ASSETS) -> dict[str, str]:
    files = sorted(p for p in assets.rglob("*") if p.is_file() and p.name != MANIFEST
                   and p.suffix in {".model", ".safetensors", ".json"})
    manifest = {str(p.relative_to(assets)): sha256_file(p) for p in files}
    write_text_atomic(assets / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def verify(path: Path, assets: Path = ASSETS) -> None:
    """Raise CheckpointError unless ``path`` exists and matches its manifest sha256."""
    if not path.is_file():
        raise CheckpointError(f"missing file: {path}")
    try:
        manifest = json.loads((assets / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"missing or unreadable manifest: {assets / MANIFEST}") from exc
    rel = str(path.relative_to(assets))
    if rel not in manifest:
        raise CheckpointError(f"{path} is not listed in {assets / MANIFEST}")
    if sha256_file(path) != manifest[rel]:
        raise CheckpointError(f"{path} does not match its sha256 in {assets / MANIFEST} (corrupt or modified)")


def save_model(model: Seq2Seq, weights: Path, config: Path, info: dict | None = None,
               half: bool = True) -> None:
    """Write weights (fp16 by default) and the JSON config next to them."""
    weights.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, t in model.state_dict().items():
        if name.startswith("decoder.embed.") or name.startswith("encoder.embed."):
            continue  # tied to ``embed``; stored once
        t = t.detach().cpu()
        tensors[name] = (t.half() if half and t.is_floating_point() else t).contiguous()
    # Written beside, then renamed over: a run killed mid-write never leaves a torn file in place of a good one.
    tmp = weights.with_name(weights.name + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(weights)
    write_text_atomic(config, json.dumps({"model": model.cfg.to_dict(), **(info or {})}, indent=1) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all (a temporary file beside it, then a rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def read_config(config: Path) -> dict:
    try:
        return json.loads(config.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"missing or unreadable config: {config}") from exc


def load_weights(model: Seq2Seq, weights: Path) -> None:
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"unreadable safetensors file: {weights}") from exc
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    try:
        missing, unexpected = model.load_state_dict(tensors, strict=False)
    except RuntimeError as exc:  # tensor shapes from another config
        detail = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise CheckpointError(f"{weights} does not fit the model: {detail}") from exc
    missing = [k for k in missing if not k.startswith(("decoder.embed.", "encoder.embed."))]
    if missing or unexpected:
        raise CheckpointError(f"{weights} does not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}")


def stored_shapes(weights: Path) -> dict[str, tuple]:
    """Tensor shapes from a safetensors file's header (no tensor is read)."""
    try:
        with safe_open(str(weights), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"unreadable safetensors file: {weights}") from exc


def build_for(cfg: ModelConfig, config: Path, weights: Path) -> Seq2Seq:
    """The model ``cfg`` describes, once it is clear that it can hold the tensors in ``weights``.

    1) A config whose sizes are positive whole numbers no larger than the file's largest tensor
       dimension (every size of a model that fits the file is one) is built directly.
    2) Any other config is first built on the meta device, so one that cannot build a model
       (negative or zero sizes, a wrong type or variant) or asks for a huge one is refused before
       memory is allocated for it. Only broken configs take this path: its first use imports
       torch's reference kernels, about a second.
    3) Either way the built model's tensor shapes must be the file's."""
    stored = stored_shapes(weights)
    largest = max((d for shape in stored.values() for d in shape), default=0)
    sizes = (cfg.vocab_size, cfg.emb_size, cfg.enc_hidden, cfg.dec_hidden)
    plausible = (all(type(x) is int and 0 < x <= largest for x in sizes)
                 and type(cfg.dropout) in (int, float) and 0 <= cfg.dropout < 1)
    try:
        if plausible:
            model = Seq2Seq(cfg)
        else:
            with torch.device("meta"):
                model = Seq2Seq(cfg)
    except (RuntimeError, ValueError, TypeError, ArithmeticError, KeyError) as exc:
        raise CheckpointError(f"invalid model config in {config}: {exc}") from exc
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()
                if not k.startswith(("decoder.embed.", "encoder.embed."))}
    wrong = [k for k in expected if k in stored and stored[k] != expected[k]]
    if wrong:
        k = wrong[0]
        raise CheckpointError(f"{weights} does not fit the model of {config}: {k} is {list(stored[k])} in the "
                              f"file, {list(expected[k])} in the config")
    if not plausible:
        raise CheckpointError(f"{weights} does not fit the model of {config}: its sizes must be whole numbers "
                              f"from 1 to {largest} (the file's largest tensor dimension), its dropout in [0, 1)")
    return model


def load_model(weights: Path, config: Path, assets: Path | None = ASSETS) -> tuple[Seq2Seq, dict]:
    """Load a model for inference. With ``assets`` set, both files are verified first."""
    if assets is not None:
        verify(config, assets)
        verify(weights, assets)
    info = read_config(config)
    try:
        cfg = ModelConfig.from_dict(info["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"invalid model config in {config}: {exc}") from exc
    model = build_for(cfg, config, weights)
    load_weights(model, weights)
    model.eval()
    return model, info


def load_variant(variant: str, assets: Path = ASSETS) -> tuple[Seq2Seq, dict]:
    weights, config = model_paths(variant, assets)
    return load_model(weights, config, assets)


# ---- full training state, for resuming (fp32, optimizer included) -------------------

def save_training_state(run_dir: Path, model: Seq2Seq, optimizer: torch.optim.Optimizer, meta: dict,
                        weight_average: dict[int, torch.Tensor] | None = None) -> None:
    """Weights, optimizer moments and (if any) the weights' moving average, by parameter index."""
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()
               if not k.startswith(("decoder.embed.", "encoder.embed."))}
    for idx, val in (weight_average or {}).items():
        tensors[f"average.{idx}"] = val.detach().cpu().contiguous()
    opt = optimizer.state_dict()
    for idx, st in opt["state"].items():
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"optim.{idx}.{key}"] = val.detach().cpu().reshape(-1).contiguous() if val.dim() == 0 else val.detach().cpu().contiguous()
    meta = {**meta, "model": model.cfg.to_dict(), "param_groups": opt["param_groups"],
            "optim_shapes": {f"{i}.{k}": list(v.shape) for i, s in opt["state"].items() for k, v in s.items() if torch.is_tensor(v)}}
    tmp = run_dir / "state.safetensors.tmp"
    save_file(tensors, str(tmp))
    (run_dir / "state.json.tmp").write_text(json.dumps(meta, indent=1))
    tmp.replace(run_dir / "state.safetensors")        # atomic: an interrupted save never loses the last state
    (run_dir / "state.json.tmp").replace(run_dir / "state.json")


def load_training_state(run_dir: Path, model: Seq2Seq, optimizer: torch.optim.Optimizer,
                        weight_average: dict | None = None) -> dict:
    """Restore weights and optimizer; return the meta. A given ``weight_average`` dict receives the
    saved moving average by parameter index (it stays empty for a run saved without one)."""
    meta = read_config(run_dir / "state.json")
    try:
        tensors = load_file(str(run_dir / "state.safetensors"))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"unreadable training state: {run_dir / 'state.safetensors'}") from exc
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=False)
    if weight_average is not None:
        weight_average.update({int(k[8:]): v for k, v in tensors.items() if k.startswith("average.")})
    state: dict = {}
    for key, val in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            shape = meta["optim_shapes"][f"{idx}.{name}"]
            state.setdefault(int(idx), {})[name] = val.reshape(shape)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return meta
