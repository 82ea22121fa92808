"""The running app: the `translate` endpoint through gradio_client, on localhost."""
from __future__ import annotations

import numpy as np
import pytest

from seq2seq.attention import VARIANTS


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False, download_files=False)


def test_translate_endpoint_returns_tokens_and_attention(client):
    out = client.predict(text="Ich wurde durch einen Hund gebissen.", variant="additive", api_name="/translate")
    assert isinstance(out["translation"], str)
    assert out["variant"] == "additive" and out["decoding"] == {"method": "greedy"}
    src, tgt = out["source_tokens"], out["target_tokens"]
    assert src and tgt and all(isinstance(t, str) for t in src + tgt)
    m = np.array(out["attention"])
    assert m.shape == (len(tgt), len(src))
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-4)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "none"])
def test_every_attention_variant(client, variant):
    out = client.predict("Es sieht nach Regen aus.", variant, api_name="/translate")
    m = np.array(out["attention"])
    assert m.shape == (len(out["target_tokens"]), len(out["source_tokens"]))
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-4)


def test_none_variant_has_no_matrix(client):
    out = client.predict("Es sieht nach Regen aus.", "none", api_name="/translate")
    assert out["attention"] is None and isinstance(out["translation"], str)


def test_beam_through_the_api(client):
    out = client.predict("Es sieht nach Regen aus.", "dot", "beam", 3, api_name="/translate")
    assert out["decoding"] == {"method": "beam", "beam": 3, "n_best": 1}


@pytest.mark.parametrize("text, variant, message", [
    ("", "additive", "empty"), ("   ", "additive", "empty"), (None, "additive", "No text"),
    ("x" * 501, "additive", "limit"), ("Hallo", "bogus", "Unknown variant"), ("Hallo", None, "variant"),
    ("ä " * 200, "additive", "pieces"),
])
def test_bad_input_is_a_clean_client_error(client, text, variant, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message) as info:
        client.predict(text, variant, api_name="/translate")
    assert "Traceback" not in str(info.value)


def test_only_translate_is_public(client):
    info = client.view_api(print_info=False, return_format="dict")
    assert list(info["named_endpoints"]) == ["/translate"]


@pytest.mark.parametrize("text", ["Ich mag 😀 sehr.", "Hallo مرحبا", "Hallo\x00Welt\u200b!", "Ich mag 東京."])
def test_unusual_characters_translate_through_the_api(client, text):
    out = client.predict(text, "dot", api_name="/translate")
    m = np.array(out["attention"])
    assert isinstance(out["translation"], str) and m.shape == (len(out["target_tokens"]), len(out["source_tokens"]))
    assert "<unk>" not in out["source_tokens"]


def test_lone_surrogate_through_raw_http(app_url):
    """A lone surrogate cannot even leave gradio_client (UTF-8 refuses it), but JSON can
    carry one as an escape: the app answers with its message."""
    import json
    import urllib.request

    body = b'{"data": ["Hallo \\ud800 Welt", "additive", "greedy", 5, 1.0, 0]}'
    base = app_url.rstrip("/") + "/gradio_api/call/translate"
    req = urllib.request.Request(base, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        event_id = json.load(r)["event_id"]
    with urllib.request.urlopen(f"{base}/{event_id}", timeout=60) as r:
        stream = r.read().decode("utf-8")
    assert "event: error" in stream and "lone surrogate" in stream and "Traceback" not in stream
