"""Gradient × input attribution and its agreement with attention, against independent references."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_config
from seq2seq.attention import VARIANTS
from seq2seq.attribution import agreement, gradient_x_input, normalise_rows, ranks, spearman
from seq2seq.model import Seq2Seq
from seq2seq.search import force_decode
from seq2seq.tokenizer import BOS_ID, EOS_ID

VOCAB = 30


def tiny(variant: str, seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    return Seq2Seq(tiny_config(variant, VOCAB)).eval()


def reference_attribution(model: Seq2Seq, source: list[int], target: list[int]) -> np.ndarray:
    """One backward pass per step through ``Seq2Seq.forward`` (the training path), batch of one,
    the source embeddings caught by a hook on the embedding's first call."""
    caught = []

    def hook(module, inputs, output):
        if not caught:
            leaf = output.detach().requires_grad_(True)
            caught.append(leaf)
            return leaf
        return None

    handle = model.embed.register_forward_hook(hook)
    try:
        logits, _ = model(torch.tensor([source]), torch.tensor([len(source)]), torch.tensor([[BOS_ID] + target[:-1]]))
    finally:
        handle.remove()
    logp = F.log_softmax(logits[0], -1)
    (x,) = caught
    rows = []
    for t, y in enumerate(target):
        (g,) = torch.autograd.grad(logp[t, y], x, retain_graph=True)
        rows.append((g[0] * x[0]).sum(-1).abs().detach().numpy())
    rows = np.array(rows, dtype=np.float64)
    return rows / rows.sum(-1, keepdims=True)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_attribution_matches_a_step_by_step_reference(variant):
    model = tiny(variant, 1)
    source, target = [5, 6, 7, 8, 9], [11, 12, 13, EOS_ID]
    got = gradient_x_input(model, source, target)
    assert got.shape == (4, 5)
    assert np.allclose(got, reference_attribution(model, source, target), atol=1e-5)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_attribution_rows_sum_to_one_and_are_finite(variant):
    model = tiny(variant, 2)
    for source in ([5], [5, 6], list(range(4, 20))):
        a = gradient_x_input(model, source, [7, 8])          # EOS appended
        assert a.shape == (3, len(source))
        assert np.all(np.isfinite(a)) and np.all(a >= 0)
        assert np.allclose(a.sum(-1), 1.0, atol=1e-9)


def test_half_precision_model_is_attributed_in_fp32():
    model = tiny("additive", 3)
    half = tiny("additive", 3).half()
    source, target = [5, 6, 7, 8], [9, 10]
    assert np.allclose(gradient_x_input(half, source, target), gradient_x_input(model, source, target), atol=2e-2)
    assert next(half.parameters()).dtype == torch.float16       # the model itself is untouched


def test_attribution_needs_eval_mode():
    with pytest.raises(ValueError, match="eval"):
        gradient_x_input(tiny("dot").train(), [5, 6], [7])


def test_zero_rows_become_uniform():
    assert np.array_equal(normalise_rows(np.array([[0.0, 0.0], [1.0, 3.0]])), [[0.5, 0.5], [0.25, 0.75]])


def test_ranks_share_ties():
    assert ranks([10, 30, 20, 30]).tolist() == [1, 3.5, 2, 3.5]


def test_spearman_hand_computed():
    # ranks a: 1 2 3 4; b: 2 1 4 3 → d² = 1+1+1+1 = 4; ρ = 1 − 6·4 / (4·15) = 0.6
    assert spearman([0.1, 0.2, 0.3, 0.4], [0.3, 0.1, 0.5, 0.4]) == pytest.approx(0.6)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert math.isnan(spearman([0.5, 0.5], [0.2, 0.8]))
    # with ties, Pearson of mean ranks: a ranks 1 2.5 2.5 4, b ranks 1 2 3 4 → ρ = 4.5/√(4.5·5)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))


def test_spearman_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.random(7), rng.integers(0, 3, 7).astype(float)
        if np.ptp(b) > 0:
            assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)


def test_agreement_hand_computed():
    alpha = np.array([[0.7, 0.2, 0.1],      # argmax 0
                      [0.1, 0.1, 0.8],      # argmax 2
                      [1 / 3, 1 / 3, 1 / 3]])  # constant: no ρ; argmax 0
    attrib = np.array([[0.5, 0.3, 0.2],     # same order: ρ = 1, argmax 0 ✓
                       [0.6, 0.3, 0.1],     # α ranks 1.5 1.5 3, a ranks 3 2 1 → ρ = −0.866; argmax 0 ✗
                       [0.2, 0.5, 0.3]])    # argmax 1 ✗
    got = agreement(alpha, attrib)
    rho2 = spearman([0.1, 0.1, 0.8], [0.6, 0.3, 0.1])
    assert rho2 == pytest.approx(-math.sqrt(3) / 2)
    assert got["spearman"] == pytest.approx((1.0 + rho2) / 2)
    assert got["argmax"] == pytest.approx(1 / 3)
    assert (got["steps"], got["rho_steps"]) == (3, 2)


def test_agreement_refuses_mismatched_shapes():
    with pytest.raises(ValueError):
        agreement(np.ones((2, 3)) / 3, np.ones((3, 3)) / 3)


def test_attribution_has_the_axes_of_forced_attention():
    model = tiny("general", 4)
    source, target = [5, 6, 7], [8, 9, 10]
    hyp = force_decode(model, source, target)
    assert gradient_x_input(model, source, hyp.tokens).shape == hyp.attention.shape


# ---- the script over a test sample -----------------------------------------------------------

def test_agreement_script_writes_its_table(tiny_assets, tmp_path):
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import attribution_agreement

    pairs = ["der Hund\tthe dog", "die Katze schläft\tthe cat sleeps", "ein großes Haus\ta big house",
             "Wasser\twater"]
    (tmp_path / "test.tsv").write_text("\n".join(pairs) + "\n", encoding="utf-8")
    (tmp_path / "tatoeba-test.tsv").write_text("\n".join(pairs[:2]) + "\nbroken line\n", encoding="utf-8")
    out = tmp_path / "agreement.json"
    out.write_text(json.dumps({"eflomal": {"kept": True}}), encoding="utf-8")
    attribution_agreement.main(["--data", str(tmp_path), "--assets", str(tiny_assets), "--sample", "3",
                                "--out", str(out)])
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["eflomal"] == {"kept": True}                     # the other script's key is kept
    rows = doc["attribution"]["rows"]
    assert [(r["test_set"], r["variant"]) for r in rows] == [(s, v) for s in ("ding", "tatoeba") for v in VARIANTS]
    for r in rows:
        assert r["pairs"] == (3 if r["test_set"] == "ding" else 2)
        if r["variant"] == "none":
            assert r["spearman"] is None and r["argmax"] is None
        else:
            assert -1 <= r["spearman"] <= 1 and 0 <= r["argmax"] <= 1
    assert doc["attribution"]["command"].startswith("python scripts/attribution_agreement.py")


def test_write_cards_gives_each_card_its_own_rows(tmp_path):
    import json
    import sys
    from pathlib import Path

    from seq2seq import checkpoint as ckpt

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import attribution_agreement

    (tmp_path / "cards").mkdir()
    for v in ("dot", "none"):
        ckpt.card_path(v, tmp_path).write_text(json.dumps({"variant": v}), encoding="utf-8")
    table = {"attribution": {"command": "c1", "rows": [{"variant": "dot", "spearman": 0.5},
                                                       {"variant": "none", "spearman": None}]},
             "eflomal": {"command": "c2", "rows": [{"variant": "dot (argmax)", "aer": 0.3},
                                                  {"variant": "general (argmax)", "aer": 0.2}]}}
    agreement = tmp_path / "agreement.json"
    agreement.write_text(json.dumps(table), encoding="utf-8")
    assert attribution_agreement.write_cards(tmp_path, agreement) == ["none", "dot"]
    dot = json.loads(ckpt.card_path("dot", tmp_path).read_text(encoding="utf-8"))
    assert dot["variant"] == "dot"
    assert dot["agreement"] == {"attribution": {"command": "c1", "rows": [{"variant": "dot", "spearman": 0.5}]},
                                "eflomal": {"command": "c2", "rows": [{"variant": "dot (argmax)", "aer": 0.3}]}}
    none = json.loads(ckpt.card_path("none", tmp_path).read_text(encoding="utf-8"))
    assert none["agreement"]["eflomal"]["rows"] == []
    ckpt.verify(ckpt.card_path("dot", tmp_path), tmp_path)          # the manifest was rewritten


# ---- contrastive ----------------------------------------------------------------------------

def _forced_logp(model: Seq2Seq, source: list[int], target: list[int], step: int, x: torch.Tensor) -> torch.Tensor:
    """log p(· | y_<t, x) at ``step`` with the source embeddings ``x`` given (an independent loop)."""
    src = torch.tensor([source])
    memory, mask, (s, feed, keys) = model.encode(src, torch.tensor([len(source)]), embedded=x)
    for prev in [BOS_ID, *target[:step]]:
        s, feed, _ = model.decoder.step(torch.tensor([prev]), s, feed, memory, mask, keys)
    return F.log_softmax(model.decoder.logits(feed), dim=-1)[0]


@pytest.mark.parametrize("variant", VARIANTS)
def test_contrastive_attribution_is_the_derivative_finite_differences_give(variant):
    """c_{t,i} = d/dε Δ_t(x_i · (1 + ε)) at ε = 0, checked by central differences in float64."""
    from seq2seq.attribution import contrastive_x_input

    model = tiny(variant, seed=3)
    source, target, step, alternative = [5, 9, 13, 17, 21], [22, 23, 24, EOS_ID], 2, 27
    got = contrastive_x_input(model, source, target, step, alternative)
    double = tiny(variant, seed=3).double()
    with torch.no_grad():
        x0 = double.embed(torch.tensor([source]))
        logp = _forced_logp(double, source, target, step, x0)
        assert got["chosen"] == pytest.approx(float(logp[target[step]]), abs=1e-5)
        assert got["difference"] == pytest.approx(float(logp[target[step]] - logp[alternative]), abs=1e-5)
        h = 1e-2      # the attention softmax runs in float32 even in a float64 model: a smaller h is noise
        for i in range(len(source)):
            deltas = []
            for sign in (1, -1):
                x = x0.clone()
                x[0, i] *= 1 + sign * h
                lp = _forced_logp(double, source, target, step, x)
                deltas.append(float(lp[target[step]] - lp[alternative]))
            assert got["attribution"][i] == pytest.approx((deltas[0] - deltas[1]) / (2 * h), abs=1e-5)
    assert got["share"].sum() == pytest.approx(1.0) and (got["share"] >= 0).all()


def test_contrastive_attribution_of_a_token_against_itself_is_zero_and_bad_steps_are_refused():
    from seq2seq.attribution import contrastive_x_input

    model = tiny("dot")
    same = contrastive_x_input(model, [5, 9], [22, EOS_ID], 0, 22)
    assert same["difference"] == 0 and not same["attribution"].any() and same["share"].sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="outside"):
        contrastive_x_input(model, [5, 9], [22, EOS_ID], 2, 22)


def _all_rows_at_once(model: Seq2Seq, source: list[int], target: list[int]) -> np.ndarray:
    """An earlier implementation, kept as a reference: the sentence repeated once per target row
    in one batch (each row its own encoder and decoder), one backward pass of all rows."""
    target = list(target) if target and target[-1] == EOS_ID else list(target) + [EOS_ID]
    T, S = len(target), len(source)
    src, tgt = torch.tensor([source] * T), torch.tensor(target)
    with torch.enable_grad():
        x = model.embed(src).detach().requires_grad_(True)
        memory, mask, (s, feed, keys) = model.encode(src, torch.full((T,), S), embedded=x)
        prev = torch.full((T,), BOS_ID, dtype=torch.long)
        picked = []
        for t in range(T):
            s, feed, _ = model.decoder.step(prev, s, feed, memory, mask, keys)
            logp = F.log_softmax(model.decoder.logits(feed[:1]), dim=-1)
            picked.append(logp[0, tgt[t]])
            s, feed, memory, mask = s[1:], feed[1:], memory[1:], mask[1:]
            keys = None if keys is None else (keys[:, 1:] if keys.dim() == 5 else keys[1:])
            prev = tgt[t].expand(T - t - 1)
        (grad,) = torch.autograd.grad(torch.stack(picked).sum(), x)
    return normalise_rows((grad * x.detach()).sum(-1).abs().double().numpy())


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("rows_per_pass", [1, 3, 7, 100])
def test_rows_in_passes_equal_all_rows_at_once(variant, rows_per_pass):
    model = tiny(variant, seed=5)
    source, target = [5, 9, 13, 17, 21, 25], [22, 23, 24, 6, 7, 8, EOS_ID]
    np.testing.assert_allclose(gradient_x_input(model, source, target, rows_per_pass=rows_per_pass),
                               _all_rows_at_once(model, source, target), atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_long_sentence_equals_the_step_by_step_reference(variant):
    """More rows than a pass holds, and a target longer than the source."""
    model = tiny(variant, seed=6)
    rng = np.random.default_rng(6)
    source, target = rng.integers(4, VOCAB, 23).tolist(), rng.integers(4, VOCAB, 40).tolist() + [EOS_ID]
    got = gradient_x_input(model, source, target)
    assert got.shape == (41, 23)
    np.testing.assert_allclose(got, reference_attribution(model, source, target), atol=1e-5)


def test_an_unpadded_batch_encodes_as_the_packed_one_does():
    """One sentence alone skips packing (Encoder.forward); beside a longer one it is packed."""
    model = tiny("additive", seed=7)
    short, long_ = [5, 6, 7], [8, 9, 10, 11, 12]
    alone, final_alone = model.encoder(torch.tensor([short]), torch.tensor([3]))
    padded = torch.tensor([short + [0, 0], long_])
    both, final_both = model.encoder(padded, torch.tensor([3, 5]))
    torch.testing.assert_close(alone[0], both[0, :3], atol=1e-6, rtol=0)
    torch.testing.assert_close(final_alone[0], final_both[0], atol=1e-6, rtol=0)
    assert both[0, 3:].abs().max() == 0                          # padding stays empty


def _contrastive_before(model: Seq2Seq, source: list[int], target: list[int], step: int, alternative: int):
    """An earlier implementation of c_t, kept as a reference: backward from Δ_t through log p."""
    x = model.embed(torch.tensor([source])).detach().requires_grad_(True)
    logp = _forced_logp(model, source, target, step, x)
    (grad,) = torch.autograd.grad(logp[target[step]] - logp[alternative], x)
    return (grad * x.detach()).sum(-1)[0].double().numpy()


@pytest.mark.parametrize("variant", VARIANTS)
def test_contrastive_attribution_equals_the_earlier_implementation(variant):
    from seq2seq.attribution import contrastive_x_input

    model = tiny(variant, seed=8)
    source, target = [5, 9, 13, 17, 21, 25, 6], [22, 23, 24, 7, 8, EOS_ID]
    for step, alternative in ((0, 27), (3, 4), (5, 11)):
        got = contrastive_x_input(model, source, target, step, alternative)["attribution"]
        np.testing.assert_allclose(got, _contrastive_before(model, source, target, step, alternative), atol=1e-5)
