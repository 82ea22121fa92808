"""Checkpoints: exact round trips, manifest verification, refusal of bad files, resumable training state."""
from __future__ import annotations

import json
import os
import shutil
import struct
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st
from safetensors.torch import save_file

from conftest import tiny_config
from seq2seq import checkpoint as ckpt
from seq2seq.attention import VARIANTS
from seq2seq.checkpoint import CheckpointError
from seq2seq.model import Seq2Seq
from seq2seq.search import pad_batch
from seq2seq.tokenizer import BOS_ID, EOS_ID
from seq2seq.train import train_step

VOCAB = 50


def tiny(variant: str, seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    return Seq2Seq(tiny_config(variant, VOCAB))


def perturbed(model: Seq2Seq) -> Seq2Seq:
    """Give every parameter values that are not exactly representable in fp16."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.123456789)
    return model


@pytest.fixture
def assets(tiny_assets, tmp_path) -> Path:
    """A private copy of the tiny assets, free to damage."""
    return Path(shutil.copytree(tiny_assets, tmp_path / "assets"))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_fp32_round_trip_is_exact(variant, tmp_path):
    model = perturbed(tiny(variant))
    w, c = tmp_path / "m.safetensors", tmp_path / "m.json"
    ckpt.save_model(model, w, c, {"note": "hello", "n": 3}, half=False)
    loaded, info = ckpt.load_model(w, c, assets=None)
    assert info == {"model": model.cfg.to_dict(), "note": "hello", "n": 3}
    assert loaded.cfg == model.cfg
    assert not loaded.training
    orig = model.state_dict()
    assert set(loaded.state_dict()) == set(orig)
    for k, v in loaded.state_dict().items():
        assert v.dtype == orig[k].dtype and torch.equal(v, orig[k]), k
    assert loaded.embed is loaded.decoder.embed  # ties survive loading


@pytest.mark.parametrize("variant", ["additive", "multihead"])
def test_fp16_round_trip_equals_half_of_original(variant, tmp_path):
    model = perturbed(tiny(variant))
    w, c = tmp_path / "m.safetensors", tmp_path / "m.json"
    ckpt.save_model(model, w, c)  # half=True by default
    loaded, _ = ckpt.load_model(w, c, assets=None)
    changed = 0
    for k, v in loaded.state_dict().items():
        orig = model.state_dict()[k]
        assert v.dtype == torch.float32
        assert torch.equal(v, orig.half().float()), k
        changed += not torch.equal(v, orig)
    assert changed  # the file really is fp16
    assert w.stat().st_size < 0.6 * 4 * model.num_parameters()


def test_tied_embedding_is_stored_once(tmp_path):
    from safetensors.torch import load_file

    model = tiny("dot")
    ckpt.save_model(model, tmp_path / "m.safetensors", tmp_path / "m.json")
    names = set(load_file(str(tmp_path / "m.safetensors")))
    assert "embed.weight" in names
    assert not any(n.startswith(("encoder.embed.", "decoder.embed.")) for n in names)


def test_shipped_layout_loads_every_variant(tiny_assets):
    for variant in VARIANTS:
        model, info = ckpt.load_variant(variant, tiny_assets)
        assert model.cfg.variant == variant == info["variant"]
    manifest = json.loads((tiny_assets / ckpt.MANIFEST).read_text())
    assert ckpt.TOKENIZER_FILE in manifest and "models/additive.safetensors" in manifest
    assert all(ckpt.sha256_file(tiny_assets / rel) == h for rel, h in manifest.items())


@pytest.mark.parametrize("target", ["models/dot.safetensors", "models/dot.json"])
@pytest.mark.parametrize("where", [0, 0.5, -1])
def test_tampered_file_is_refused(assets, target, where):
    path = assets / target
    raw = bytearray(path.read_bytes())
    pos = int(where * (len(raw) - 1)) if where >= 0 else len(raw) - 1
    raw[pos] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError) as exc:
        ckpt.load_variant("dot", assets)
    assert str(path) in str(exc.value) and "sha256" in str(exc.value)


def test_tampered_tokenizer_is_refused(assets):
    from seq2seq.translator import Translator

    path = assets / ckpt.TOKENIZER_FILE
    with open(path, "ab") as f:
        f.write(b"\0")
    with pytest.raises(CheckpointError, match="spm.model"):
        Translator(assets, ["dot"])


@pytest.mark.parametrize("target", ["models/general.safetensors", "models/general.json"])
def test_missing_file_is_named(assets, target):
    (assets / target).unlink()
    with pytest.raises(CheckpointError) as exc:
        ckpt.load_variant("general", assets)
    assert "missing" in str(exc.value) and str(assets / target) in str(exc.value)


def test_missing_or_broken_manifest(assets):
    (assets / ckpt.MANIFEST).write_text("{not json")
    with pytest.raises(CheckpointError, match="manifest"):
        ckpt.load_variant("dot", assets)
    (assets / ckpt.MANIFEST).unlink()
    with pytest.raises(CheckpointError, match="manifest"):
        ckpt.load_variant("dot", assets)


def test_file_not_in_manifest_is_refused(assets):
    manifest = json.loads((assets / ckpt.MANIFEST).read_text())
    del manifest["models/none.safetensors"]
    (assets / ckpt.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="not listed"):
        ckpt.load_variant("none", assets)


_garbage = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda n, tail: struct.pack("<Q", n) + tail, st.integers(0, 2**63), st.binary(max_size=64)),
    st.builds(lambda js: struct.pack("<Q", len(js)) + js,
              st.sampled_from([b"{}", b"[]", b"{\"a\": 1}", b"{\"embed.weight\": {\"dtype\": \"F32\"}}"])),
)


@settings(deadline=None, max_examples=25, derandomize=True)
@given(junk=_garbage)
def test_garbage_weights_listed_in_the_manifest_are_refused(tiny_assets, tmp_path_factory, junk):
    assets = Path(shutil.copytree(tiny_assets, tmp_path_factory.mktemp("junk") / "assets"))
    weights, _ = ckpt.model_paths("additive", assets)
    weights.write_bytes(junk)
    ckpt.write_manifest(assets)  # the manifest vouches for the garbage: the loader must still refuse it
    with pytest.raises(CheckpointError) as exc:
        ckpt.load_variant("additive", assets)
    assert str(weights) in str(exc.value)


def test_truncated_weights_are_refused(assets):
    weights, _ = ckpt.model_paths("multihead", assets)
    weights.write_bytes(weights.read_bytes()[:-10])
    ckpt.write_manifest(assets)
    with pytest.raises(CheckpointError, match="unreadable safetensors"):
        ckpt.load_variant("multihead", assets)


def test_weights_of_another_shape_are_refused(assets):
    weights, _ = ckpt.model_paths("dot", assets)
    model, _ = ckpt.load_variant("dot", assets)
    bigger = Seq2Seq(replace(model.cfg, enc_hidden=2 * model.cfg.enc_hidden))
    ckpt.save_model(bigger, weights, assets / "other.json")
    (assets / "other.json").unlink()
    ckpt.write_manifest(assets)  # consistent hashes, but the weights belong to another config
    with pytest.raises(CheckpointError, match="does not fit"):
        ckpt.load_variant("dot", assets)


def test_weights_with_missing_or_extra_tensors_are_refused(assets):
    weights, _ = ckpt.model_paths("general", assets)
    model, _ = ckpt.load_variant("general", assets)
    tensors = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith(("encoder.embed", "decoder.embed"))}
    save_file({k: v for k, v in tensors.items() if k != "decoder.out_bias"}, str(weights))
    ckpt.write_manifest(assets)
    with pytest.raises(CheckpointError, match="does not fit"):
        ckpt.load_variant("general", assets)
    save_file({**tensors, "extra.weight": torch.zeros(2)}, str(weights))
    ckpt.write_manifest(assets)
    with pytest.raises(CheckpointError, match="does not fit"):
        ckpt.load_variant("general", assets)


@pytest.mark.parametrize("text", ["{broken", "{}", '{"model": {"variant": "dot", "depth": 3}}', '{"model": 5}'])
def test_bad_config_is_refused(assets, text):
    _, config = ckpt.model_paths("dot", assets)
    config.write_text(text)
    ckpt.write_manifest(assets)
    with pytest.raises(CheckpointError) as exc:
        ckpt.load_variant("dot", assets)
    assert str(config) in str(exc.value)


# ---- training state -------------------------------------------------------------------

def _batches(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        srcs = [torch.randint(4, VOCAB, (int(k),), generator=g).tolist() for k in torch.randint(2, 8, (4,), generator=g)]
        s, s_len = pad_batch(srcs)
        t_in, _ = pad_batch([[BOS_ID] + x for x in srcs])
        t_out, _ = pad_batch([x + [EOS_ID] for x in srcs])
        out.append((s, s_len, t_in, t_out))
    return out


def _train(model, opt, batches):
    model.train()
    for batch in batches:
        train_step(model, opt, batch, 0.1, 1.0)


@pytest.mark.parametrize("variant", ["additive", "multihead"])
def test_training_state_round_trip_continues_identically(variant, tmp_path):
    model = tiny(variant, seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first, second = _batches(3, seed=1), _batches(3, seed=2)
    _train(model, opt, first)
    ckpt.save_training_state(tmp_path / "run", model, opt, {"step": 3, "history": [{"step": 3}]})
    assert {p.name for p in (tmp_path / "run").iterdir()} == {"state.safetensors", "state.json"}

    resumed = tiny(variant, seed=99)  # different initial weights: everything must come from the file
    opt2 = torch.optim.Adam(resumed.parameters(), lr=1.0)
    meta = ckpt.load_training_state(tmp_path / "run", resumed, opt2)
    assert meta["step"] == 3 and meta["history"] == [{"step": 3}] and meta["model"] == model.cfg.to_dict()
    for k, v in model.state_dict().items():
        assert torch.equal(resumed.state_dict()[k], v), k
    assert opt2.param_groups[0]["lr"] == 3e-3
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert s1.keys() == s2.keys()
    for i in s1:
        for key in s1[i]:
            assert torch.equal(torch.as_tensor(s1[i][key]), torch.as_tensor(s2[i][key])), (i, key)

    _train(model, opt, second)
    _train(resumed, opt2, second)
    for k, v in model.state_dict().items():
        assert torch.equal(resumed.state_dict()[k], v), k


def test_training_state_save_replaces_atomically(tmp_path):
    model = tiny("dot")
    opt = torch.optim.Adam(model.parameters())
    _train(model, opt, _batches(1, 0))
    run = tmp_path / "run"
    ckpt.save_training_state(run, model, opt, {"step": 1})
    ckpt.save_training_state(run, model, opt, {"step": 2})
    assert not list(run.glob("*.tmp"))
    assert json.loads((run / "state.json").read_text())["step"] == 2


def test_unreadable_training_state(tmp_path):
    model = tiny("dot")
    opt = torch.optim.Adam(model.parameters())
    with pytest.raises(CheckpointError, match="state.json"):
        ckpt.load_training_state(tmp_path, model, opt)
    ckpt.save_training_state(tmp_path, model, opt, {"step": 0})
    (tmp_path / "state.safetensors").write_bytes(os.urandom(100))
    with pytest.raises(CheckpointError, match="state.safetensors"):
        ckpt.load_training_state(tmp_path, model, opt)


# ---- tampering and broken configs: refused with the file named, the other variants serve -----

class _Marker:
    """Unpickling this touches a file: proof that something ran pickle."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def _pickle_in_place(path: Path, marker: Path) -> None:
    torch.save({"embed.weight": torch.zeros(2, 2), "payload": _Marker(marker)}, path)


@pytest.mark.parametrize("damage", ["flipped byte", "pickle", "pickle vouched for", "deleted", "config negative vocab",
                                    "config zero size", "config string size", "config unknown variant",
                                    "config huge vocab"])
def test_a_damaged_variant_is_dropped_with_its_file_named_and_the_others_serve(assets, tmp_path, damage):
    from demo.state import load_translator, translate

    weights, config = ckpt.model_paths("dot", assets)
    marker = tmp_path / "unpickled"
    named = weights
    if damage == "flipped byte":
        raw = bytearray(weights.read_bytes())
        raw[len(raw) // 2] ^= 0x40
        weights.write_bytes(bytes(raw))
    elif damage.startswith("pickle"):
        _pickle_in_place(weights, marker)
        if damage == "pickle vouched for":
            ckpt.write_manifest(assets)
    elif damage == "deleted":
        weights.unlink()
    else:
        cfg = json.loads(config.read_text())
        key, value = {"config negative vocab": ("vocab_size", -5), "config zero size": ("emb_size", 0),
                      "config string size": ("vocab_size", "8000"), "config unknown variant": ("variant", "bogus"),
                      "config huge vocab": ("vocab_size", 10**12)}[damage]
        cfg["model"][key] = value
        config.write_text(json.dumps(cfg))
        ckpt.write_manifest(assets)                    # a matching manifest: start-up must not stop
        named = config

    with pytest.raises(CheckpointError) as exc:
        ckpt.load_variant("dot", assets)
    assert str(named) in str(exc.value) or named.name in str(exc.value)

    tr, problems, fatal = load_translator(assets)
    assert fatal is None and tr is not None
    assert "dot" not in tr.models and named.name in problems["dot"]
    assert set(tr.models) == set(VARIANTS) - {"dot"}
    result = translate(tr, "Es sieht nach Regen aus.", ["additive", "dot"])
    assert result["variants"]["additive"]["hypotheses"][0]["text"]
    assert "missing" in result["variants"]["dot"]
    assert not marker.exists()                         # nothing was unpickled


def test_a_huge_config_is_refused_before_memory_is_allocated(assets):
    import tracemalloc

    _, config = ckpt.model_paths("general", assets)
    cfg = json.loads(config.read_text())
    cfg["model"]["vocab_size"] = 10**9                  # 10^9 × emb_size floats: gigabytes
    config.write_text(json.dumps(cfg))
    ckpt.write_manifest(assets)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="does not fit"):
            ckpt.load_variant("general", assets)
        assert tracemalloc.get_traced_memory()[1] < 50 << 20
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("keep", [0, 0.5, 0.99])
def test_a_truncated_manifest_is_named_and_the_page_still_starts(assets, keep):
    from demo.state import load_translator

    manifest = assets / ckpt.MANIFEST
    raw = manifest.read_bytes()
    manifest.write_bytes(raw[:int(len(raw) * keep)])
    with pytest.raises(CheckpointError, match="manifest.json"):
        ckpt.load_variant("additive", assets)
    tr, problems, fatal = load_translator(assets)
    assert tr is None and "manifest.json" in fatal


def test_the_page_starts_with_a_variant_whose_config_cannot_build_a_model(assets):
    from demo.ui import build_demo

    _, config = ckpt.model_paths("multihead", assets)
    cfg = json.loads(config.read_text())
    cfg["model"]["vocab_size"] = -1
    config.write_text(json.dumps(cfg))
    ckpt.write_manifest(assets)
    demo = build_demo(assets)
    assert "multihead" not in demo.translator.models and "additive" in demo.translator.models
