"""The README's Spaces front matter agrees with requirements.txt and the repo."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def front_matter() -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n"), "README must start with the Spaces front matter"
    block = text.split("---\n", 2)[1]
    pairs = (line.split(":", 1) for line in block.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def pinned(package: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.fullmatch(rf"{package}==(\S+)", line.strip())
        if m:
            return m.group(1)
    raise AssertionError(f"{package} is not pinned with == in requirements.txt")


def test_sdk_version_matches_gradio_pin():
    fm = front_matter()
    assert fm["sdk"] == "gradio"
    assert fm["sdk_version"] == pinned("gradio")


def test_spaces_fields():
    fm = front_matter()
    assert fm["python_version"] == '"3.11"'
    assert fm["app_file"] == "app.py" and (ROOT / fm["app_file"]).is_file()
    assert 0 < len(fm["short_description"]) <= 60
    assert fm["license"]


def test_torch_is_pinned():
    assert pinned("torch") == "2.13.0"


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "    bash scripts/test.sh" in readme
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_readme_results_are_the_cards_figures():
    """The README's test tables are `evaluate --markdown` output for the shipped weights' cards."""
    import json

    from seq2seq import checkpoint as ckpt
    from seq2seq.__main__ import markdown_table
    from seq2seq.attention import VARIANTS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    cards = {v: json.loads(ckpt.card_path(v).read_text(encoding="utf-8")) for v in VARIANTS
             if ckpt.card_path(v).exists()}
    assert set(cards) == set(VARIANTS)
    beams = set.intersection(*(set(c.get("test_by_beam", {})) for c in cards.values()))
    assert "1" in beams and "5" in beams
    for v, card in cards.items():
        sha = ckpt.sha256_file(ckpt.model_paths(v)[0])
        assert all(r["weights_sha256"] == sha for r in card["test_by_beam"].values()), v
    for beam in sorted(beams):
        table = markdown_table({v: cards[v]["test_by_beam"][beam] for v in VARIANTS})
        assert table in readme, f"README lacks the beam-{beam} table from the cards"
