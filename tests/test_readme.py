"""README.md and docs/: the Spaces front matter agrees with requirements.txt, every table that
repeats a model card's figure is the card's, every relative link resolves, and what a Space
needs fits its file limit."""
import json
import re
import subprocess
from pathlib import Path

import pytest

from seq2seq import checkpoint as ckpt
from seq2seq.attention import FORMULAS, VARIANTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]
SPACE_FILES = ["app.py", "requirements.txt", "packages.txt", "README.md", "LICENSE", "demo", "seq2seq", "assets"]
SPACE_FILE_LIMIT = 10 * 1000 * 1000          # bytes; Spaces refuses larger files outside Git LFS


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


def test_every_requirement_is_pinned():
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines() if ln.strip()]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][\w.]*", ln) for ln in lines), lines


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


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; the rest belongs in docs/"


# ---- tables that repeat the cards' figures --------------------------------------------------

def cards() -> dict[str, dict]:
    found = {v: json.loads(ckpt.card_path(v).read_text(encoding="utf-8")) for v in VARIANTS
             if ckpt.card_path(v).exists()}
    assert set(found) == set(VARIANTS)
    return found


def tables(text: str) -> list[str]:
    """Every Markdown table of a page, as its lines joined."""
    out, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            out.append("\n".join(block))
            block = []
    return out


def models_table(c: dict[str, dict]) -> str:
    rows = ["| variant | score e_{t,i} | parameters | test chrF, Tatoeba | test chrF, Ding |", "|---|---|---|---|---|"]
    for v in VARIANTS:
        test = c[v]["test_by_beam"]["5"]
        rows.append(f"| `{v}` | {FORMULAS[v]} | {c[v]['parameters']:,} | {test['tatoeba']['all']['chrf']} | "
                    f"{test['all']['chrf']} |")
    return "\n".join(rows)


def quality_table(c: dict[str, dict]) -> str:
    rows = ["| German → English test set | pairs | without attention (`none`) | best with attention |",
            "|---|---|---|---|"]
    for title, keys in [("Tatoeba everyday sentences", ("tatoeba", "all")),
                        ("Tatoeba sentences of ≥ 10 words", ("tatoeba", "min10words")),
                        ("Ding dictionary entries", ("all",))]:
        def figure(v, field):
            d = c[v]["test_by_beam"]["5"]
            for k in keys:
                d = d[k]
            return d[field]
        best = max((v for v in VARIANTS if v != "none"), key=lambda v: figure(v, "chrf"))
        rows.append(f"| {title} | {figure('none', 'n'):,} | {figure('none', 'chrf')} | "
                    f"{figure(best, 'chrf')} (`{best}`) |")
    return "\n".join(rows)


def evaluate_tables(c: dict[str, dict]) -> list[str]:
    """``evaluate --markdown``'s tables for each beam the cards hold, measured on the shipped weights."""
    from seq2seq.__main__ import markdown_table

    beams = set.intersection(*(set(card.get("test_by_beam", {})) for card in c.values()))
    assert {"1", "5"} <= beams
    for v, card in c.items():
        sha = ckpt.sha256_file(ckpt.model_paths(v)[0])
        assert all(r["weights_sha256"] == sha for r in card["test_by_beam"].values()), v
    out = []
    for beam in sorted(beams):
        out += tables(markdown_table({v: c[v]["test_by_beam"][beam] for v in VARIANTS}))
    return out


# Tables with scores that do not come from the cards, and where they come from instead.
NOT_FROM_CARDS = {
    "| cleaning | train pairs |": "scripts/ablate_cleaning.py --table",
    "| variant | steps | training minutes | points | dev chrF at step": "assets/history/*.json",
    "| task | variant | exact match": "scripts/train_toy.py (assets/toy/)",
    "| dev chrF (greedy) | steps | de→en Ding": "scripts/direction_choice.py",
}


def test_readme_tables_are_the_cards_figures():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    c = cards()
    assert models_table(c) in tables(readme)
    assert quality_table(c) in tables(readme)


def test_docs_test_tables_are_evaluate_output_for_the_shipped_weights():
    training = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    for table in evaluate_tables(cards()):
        assert table in tables(training), f"docs/training.md lacks this table from the cards:\n{table}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_score_table_is_checked_or_says_where_it_comes_from(page):
    c = cards()
    checked = {models_table(c), quality_table(c), *evaluate_tables(c)}
    for table in tables(page.read_text(encoding="utf-8")):
        header = table.splitlines()[0]
        if not re.search(r"chrF|BLEU|parameters", header):
            continue
        assert table in checked or any(header.startswith(h) for h in NOT_FROM_CARDS), (
            f"{page.name}: a table of scores that no test compares with the cards:\n{header}")


# ---- links ----------------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    links = [m.group(1) for m in LINK.finditer(text)]
    for link in links:
        if re.match(r"[a-z]+:", link):
            continue                                # https:, mailto:
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.name}: {link} does not resolve"
        assert ROOT in target.parents or target == ROOT, f"{page.name}: {link} leaves the repository"
        if anchor:
            assert target.suffix == ".md" and anchor in anchors(target), f"{page.name}: no heading for {link}"


def test_the_readme_links_every_docs_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in DOCS:
        assert f"(docs/{page.name})" in readme, f"README.md does not link docs/{page.name}"


# ---- what a Space needs ---------------------------------------------------------------------

def space_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z", *SPACE_FILES], cwd=ROOT, capture_output=True,
                                check=True).stdout.decode().split("\0")
        files = [ROOT / f for f in listed if f]
    except (OSError, subprocess.CalledProcessError):           # not a git checkout: what is on disk
        files = [p for name in SPACE_FILES for p in ([ROOT / name] if (ROOT / name).is_file()
                 else (ROOT / name).rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    return [f for f in files if f.is_file()]


def test_every_file_a_space_needs_is_tracked_and_under_the_limit():
    files = space_files()
    assert {f.relative_to(ROOT).parts[0] for f in files} == set(SPACE_FILES)
    too_big = [(str(f.relative_to(ROOT)), f.stat().st_size) for f in files if f.stat().st_size >= SPACE_FILE_LIMIT]
    assert not too_big, f"files of 10 MB or more need Git LFS on a Space: {too_big}"
    for module in ("demo", "seq2seq"):                # the app imports nothing from the rest of the repository
        for f in (ROOT / module).glob("*.py"):
            assert not re.search(r"^\s*(from|import) (tests|benchmarks|scripts)\b", f.read_text(), re.M), f


def test_the_readme_states_the_space_files_largest_size():
    files = space_files()
    largest = max(files, key=lambda f: f.stat().st_size)
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    shown = f"the largest `{largest.relative_to(ROOT)}` at {largest.stat().st_size / 1e6:.1f} MB"
    assert shown in readme, f"README should say: {shown}"
    total = sum(f.stat().st_size for f in files) / 1e6
    assert f"about {round(total)} MB" in readme, f"README should say the Space's files are about {round(total)} MB"


# ---- the training stretches: docs/training.md tells them, the cards keep each variant's figures ----

def test_the_cards_training_records_are_the_stretches_that_docs_training_lists():
    training = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    listed = [(int(n), int(m)) for n, m in re.findall(r"^ *(\d+)\. (\d+) (?:more )?minutes", training, re.M)]
    for v, card in cards().items():
        stretches = card["training"]["stretches"]
        assert [(s["stretch"], s["minutes"]) for s in stretches] == listed, v
        for s in stretches:
            assert s["command"] in card["reproduce"]["commands"], (v, s["command"])
            assert f" --minutes {s['minutes']} " in s["command"] + " "
            loop = s["command"].replace(f"--variant {v}", "--variant $v") + " &"
            assert loop in training, f"docs/training.md's reproduce loop lacks: {loop}"
        kept = [s["dev_chrf"] for s in stretches if s.get("dev_chrf", {}).get("measure", "").startswith("mean")]
        assert all(a["to"] == b["from"] for a, b in zip(kept, kept[1:])), v      # one kept checkpoint, stretch to stretch
        assert kept[-1]["to"] == card["training"]["best_dev_chrf"], v
