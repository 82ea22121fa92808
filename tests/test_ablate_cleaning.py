"""scripts/ablate_cleaning.py end to end on a small Ding-format file."""
from __future__ import annotations

import json
import sys

import pytest

from conftest import ROOT
from seq2seq.data import bucket_of

sys.path.insert(0, str(ROOT / "scripts"))
import ablate_cleaning  # noqa: E402

WORDS = ["Haus", "Baum", "Katze", "Hund", "Auto", "Straße", "Stadt", "Wasser", "Feuer", "Brot"]
ENGLISH = ["house", "tree", "cat", "dog", "car", "street", "town", "water", "fire", "bread"]


def ding_file(path, n_dev_wanted=3):
    """Lines in Ding format, with enough of them falling into the dev bucket (1)."""
    lines, dev = ["# header line"], 0
    i = 0
    while dev < n_dev_wanted or len(lines) < 200:
        de, en = WORDS[i % 10], ENGLISH[i % 10]
        line = (f"das {de} (alt) {i} ist groß {{n}} | {de}/{de}e :: the {en} (old) {i} is big | "
                f"{en}; {en}s etc.")
        dev += bucket_of(line) == 1
        lines.append(line)
        i += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_ablation_trains_each_setting_and_writes_the_table(tiny_assets, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ablate_cleaning, "train", _tiny_train(tiny_assets))
    corpus = tmp_path / "de-en"
    ding_file(corpus)
    out = tmp_path / "ablation.json"
    code = ablate_cleaning.main(["--corpus", str(corpus), "--assets", str(tiny_assets), "--steps", "2",
                                 "--emb", "16", "--hidden", "8", "--only", "baseline", "parens=keep",
                                 "--out", str(out)])
    assert code == 0
    table = json.loads(out.read_text())
    assert [r["setting"] for r in table["rows"]] == ["baseline", "parens=keep"]
    default, keep = table["rows"]
    assert default["cleaning"]["parens"] == "drop" and keep["cleaning"]["parens"] == "keep"
    assert default["train_pairs"] > 0 and 0.0 <= default["dev_chrf"] <= 100.0
    assert 0.0 <= default["dev_chrf_min4"] <= 100.0 and default["dev_pairs"] > 0
    printed = capsys.readouterr().out
    assert "baseline" in printed and "parens=keep" in printed and "dev chrF" in printed

    assert ablate_cleaning.main(["--table", str(out)]) == 0
    table_md = capsys.readouterr().out.splitlines()
    assert table_md[0].startswith("| cleaning | compared with |") and len(table_md) == 4
    assert "dev chrF ≥ 4 words" in table_md[0]
    assert table_md[2].startswith("| baseline |  |") and table_md[3].startswith("| parens=keep | baseline |")
    cells = [c.strip() for c in table_md[3].strip("|").split("|")]
    assert cells[4] == f"{keep['dev_chrf']:.2f} (seed 1234)" and cells[5] == f"{keep['dev_chrf']:.2f}"
    assert cells[6] == f"{keep['dev_chrf'] - default['dev_chrf']:+.2f}"
    assert cells[7] == f"{keep['dev_chrf_min4']:.2f} (seed 1234)"
    assert cells[9] == f"{keep['dev_chrf_min4'] - default['dev_chrf_min4']:+.2f}"


def test_changes_from_the_defaults_are_compared_with_the_defaults():
    def row(name, chrf, seed=1234):
        return {"setting": name, "seed": seed, "cleaning": ablate_cleaning.SETTINGS[name].to_dict(),
                "train_pairs": 10, "single_word_share": 0.0, "dev_chrf": chrf, "dev_chrf_min4": chrf - 1}
    rows = [row("baseline", 20.0), row("single_word_keep=0.0", 21.0, 2), row("single_word_keep=0.0", 22.0),
            row("parens=keep, single_word_keep=0.0", 21.25)]
    lines = ablate_cleaning.markdown_table(rows).splitlines()
    assert [line.split("|")[1].strip() for line in lines[2:]] == [
        "baseline", "single_word_keep=0.0", "parens=keep, single_word_keep=0.0"]
    default, parens = ([c.strip() for c in line.strip("|").split("|")] for line in lines[3:])
    assert default[1] == "baseline" and default[5:7] == ["21.50", "+1.50"]
    assert parens[1] == "single_word_keep=0.0" and parens[5:7] == ["21.25", "-0.25"]


def _tiny_train(assets):
    """The real training function, checked to get the pairs each setting produced."""
    from seq2seq.train import train

    def wrapped(name, pairs, dev, *a, **kw):
        assert pairs and dev
        if name == "parens=keep":
            assert any("(" not in s and "alt" in s for s, _ in pairs)   # the text inside () is kept
        if name == "baseline":
            assert not any("alt" in s for s, _ in pairs)                 # (…) explanations dropped
        return train(name, pairs, dev, *a, **kw)
    return wrapped
