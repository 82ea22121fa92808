"""The explorer on a folder of one's own models: ``python app.py --assets DIR`` (demo/model_folder.py),
a variant refused per file with a name relative to DIR, and the README's four-command recipe end to end."""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from demo import model_folder
from demo.state import load_translator, translate
from seq2seq import checkpoint as ckpt
from seq2seq.__main__ import OWN_PAIRS_TASK
from seq2seq.attention import VARIANTS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def assets(tiny_assets, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_assets, tmp_path / "my-models"))


def test_the_folder_comes_from_the_flag_then_the_environment(tmp_path, capsys):
    assert model_folder.assets_from([], environ={}) == ckpt.ASSETS
    assert model_folder.assets_from([], environ={model_folder.ENV: str(tmp_path)}) == tmp_path
    other = tmp_path / "other"
    other.mkdir()
    assert model_folder.assets_from(["--assets", str(other)], environ={model_folder.ENV: str(tmp_path)}) == other
    with pytest.raises(SystemExit) as exc:
        model_folder.assets_from(["--assets", str(tmp_path / "nope")], environ={})
    assert exc.value.code == 2 and "is not a folder" in capsys.readouterr().err


def test_languages_and_examples_from_the_examples_file_else_the_cards(assets):
    shipped = model_folder.page_text(ckpt.ASSETS)
    assert (shipped.source, shipped.target) == ("German", "English")    # from the shipped cards
    assert shipped.examples == model_folder.read_examples(model_folder.SHIPPED_EXAMPLES)[0] != []
    assert model_folder.page_text(assets) == shipped    # the shipped tokenizer: the shipped pair

    (assets / "examples.tsv").write_text("# source: Français\n# target: English\nJe suis là.\tI am here.\n"
                                         "no reference\n\n# a comment\n", encoding="utf-8")
    model_folder.examples_file.cache_clear()
    page = model_folder.page_text(assets)
    assert (page.source, page.target) == ("Français", "English")
    assert page.examples == [("Je suis là.", "I am here."), ("no reference", "")]

    (assets / "examples.tsv").write_bytes(b"\xff\xfe not utf-8")             # unreadable: no examples, no crash
    model_folder.examples_file.cache_clear()
    assert model_folder.page_text(assets).examples == []


def test_a_foreign_tokenizer_leaves_labels_to_the_cards(assets, tmp_path):
    (assets / ckpt.TOKENIZER_FILE).write_bytes(b"another tokenizer")
    model_folder.examples_file.cache_clear()
    page = model_folder.page_text(assets)
    assert (page.source, page.target, page.examples) == ("Source", "Target", [])
    (assets / "cards").mkdir()
    (assets / "cards" / "dot.json").write_text(json.dumps({"task": "Dutch → German translation"}))
    assert (model_folder.page_text(assets).source, model_folder.page_text(assets).target) == ("Dutch", "German")


def _damage(assets: Path, how: str) -> str:
    """Damage the dot variant; return the file the message must name, relative to the folder."""
    weights, config = ckpt.model_paths("dot", assets)
    if how == "corrupt":
        raw = bytearray(weights.read_bytes())
        raw[len(raw) // 2] ^= 1
        weights.write_bytes(bytes(raw))                 # the manifest no longer vouches for it
    elif how == "not safetensors":
        weights.write_bytes(b"PK\x03\x04 a zip file, as torch.save writes")
        ckpt.write_manifest(assets)
    elif how == "another tokenizer's model":
        info = json.loads(config.read_text())
        info["model"]["vocab_size"] += 7
        config.write_text(json.dumps(info))
        from seq2seq.model import ModelConfig, Seq2Seq

        ckpt.save_model(Seq2Seq(ModelConfig.from_dict(info["model"])), weights, config, info)
        ckpt.write_manifest(assets)
    return "models/dot.safetensors"


@pytest.mark.parametrize("how", ["corrupt", "not safetensors", "another tokenizer's model"])
def test_a_bad_file_refuses_only_its_variant_named_relative_to_the_folder(assets, how):
    named = _damage(assets, how)
    tr, problems, fatal = load_translator(assets)
    assert fatal is None and set(tr.models) == set(VARIANTS) - {"dot"}
    assert named in problems["dot"] and str(assets) not in problems["dot"] and str(ROOT) not in problems["dot"]
    result = translate(tr, "Guten Morgen.", ["dot", "additive"])
    assert "missing" in result["variants"]["dot"] and result["variants"]["additive"]["hypotheses"]


def test_missing_variants_show_as_not_installed(assets):
    from demo.ui import build_demo

    for v in ("none", "general", "multihead"):
        for path in ckpt.model_paths(v, assets):
            path.unlink()
    ckpt.write_manifest(assets)
    demo = build_demo(assets)
    assert set(demo.translator.models) == {"dot", "additive"}
    boxes = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "variants"]
    assert [label for label, _ in boxes[0].choices] == ["none (not installed)", "dot", "general (not installed)",
                                                        "additive", "multihead (not installed)"]


# ---- the README's recipe, end to end ---------------------------------------------------------

# The README's four commands (section "Your own data and models"), as written there; the test
# runs them with a tiny model and a step budget instead of minutes.
RECIPE = [
    "python -m seq2seq prepare --tsv --corpus my-pairs.tsv --out my-data --assets my-models --vocab 500",
    "for v in dot additive; do python -m seq2seq train --variant $v --data my-data --assets my-models "
    "--runs my-runs --minutes 5 & done; wait",
    "python -m seq2seq evaluate --data my-data --assets my-models --write-cards",
    "python app.py --assets my-models",
]
QUICK = "--max-steps 30 --eval-every 15 --dev-sample 40 --emb 32 --enc-hidden 32 --dec-hidden 64"


def synthetic_pairs(n: int = 1500, seed: int = 0) -> list[tuple[str, str]]:
    """An invented source language ("Backwards": English words spelt backwards, verb last) and English."""
    rng = random.Random(seed)
    subjects, verbs = ["the cat", "a dog", "my friend", "the teacher", "his sister"], ["sees", "likes", "finds", "takes"]
    objects = ["the ball", "a book", "the red car", "an old house", "the green apple", "a small bird"]
    pairs = set()
    while len(pairs) < n:
        s, v, o = rng.choice(subjects), rng.choice(verbs), rng.choice(objects)
        tail = f" {rng.randint(0, 99)}"
        english = f"{s} {v} {o}{tail}"
        backwards = " ".join(w[::-1] for w in f"{s} {o} {v}{tail}".split())
        pairs.add((backwards.capitalize() + ".", english.capitalize() + "."))
    return sorted(pairs)


@pytest.mark.slow
def test_the_readme_recipe_serves_a_new_language_pair(tmp_path, start_app_py):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False",
           "GRADIO_TEMP_DIR": str(tmp_path / "gradio"), "GRADIO_EXAMPLES_CACHE": str(tmp_path / "examples")}
    (tmp_path / "my-pairs.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in synthetic_pairs()), encoding="utf-8")

    def run(command: str, timeout: int = 60) -> str:
        out = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=timeout)
        assert out.returncode == 0, f"{command}\n{out.stderr[-2000:]}"
        return out.stderr

    py = f"{sys.executable} -m seq2seq"
    run(RECIPE[0].replace("python -m seq2seq", py).replace("--vocab 500", "--vocab 80"))
    run(RECIPE[1].replace("python -m seq2seq", py).replace("--minutes 5", QUICK), timeout=120)
    run(RECIPE[2].replace("python -m seq2seq", py) + " --beam 1")
    cards = {v: json.loads((tmp_path / "my-models" / "cards" / f"{v}.json").read_text()) for v in ("dot", "additive")}
    assert all(c["test"]["all"]["chrf"] is not None for c in cards.values())
    assert all(c["task"] == OWN_PAIRS_TASK and c["data"]["corpus"].startswith("my-pairs.tsv") for c in cards.values())
    (tmp_path / "my-models" / "examples.tsv").write_text(
        "# source: Backwards\n# target: English\n" + "".join(f"{s}\t{t}\n" for s, t in synthetic_pairs(3, 1)),
        encoding="utf-8")

    with start_app_py(*RECIPE[3].split()[2:], cwd=tmp_path, env=env, timeout_s=90) as (url, config):
        assert config["title"] == "Attention in seq2seq: Backwards → English"
        props = [c.get("props", {}) for c in config["components"]]
        assert any(p.get("label") == "Backwards sentence" for p in props)
        about = [p["value"] for p in props if isinstance(p.get("value"), str)]
        quality = next(p["value"] for p in props if p.get("elem_id") == "quality-line")
        assert quality.startswith("Trained on my") and "Best test chrF" in quality, quality
        assert not any("Ding" in text for text in about), [t for t in about if "Ding" in t]
        assert "German" not in quality + config["title"]
        variants = next(p for p in props if p.get("elem_id") == "variants")
        assert [c[0] for c in variants["choices"]] == ["none (not installed)", "dot", "general (not installed)",
                                                       "additive", "multihead (not installed)"]
        from gradio_client import Client

        client = Client(url + "/", verbose=False)
        out = client.predict(text=synthetic_pairs(1, 2)[0][0], variant="dot", api_name="/translate")
        assert out["variant"] == "dot" and len(out["attention"]) == len(out["target_tokens"])
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    for command in RECIPE:
        assert command in readme, f"the README's recipe lacks: {command}"
