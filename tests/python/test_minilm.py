"""all-MiniLM-L6-v2 ONNX (scripts/models/minilm.py): unit norm, numpy reference, tokenizer."""
import json
import os

import numpy as np
import onnxruntime as ort
import pytest

from conftest import ROOT, require


def test_tokenizer_known_ids():
    vocab = require("models/minilm/hf/vocab.txt")
    from wordpiece import WordPieceTokenizer
    tok = WordPieceTokenizer(vocab)
    # ids from Hugging Face's BertTokenizerFast on the package's tokenizer.json
    assert tok.encode("Hello, world! Quantization of ViTs.") == \
        [101, 7592, 1010, 2088, 999, 24110, 3775, 9276, 1997, 6819, 3215, 1012, 102]
    assert tok.encode("Café naïve résumé 3.14 — unaffable") == \
        [101, 7668, 15743, 13746, 1017, 1012, 2403, 1517, 14477, 20961, 3468, 102]


def test_tokenizer_matches_hf_tokenizers_if_installed():
    tokenizers = pytest.importorskip("tokenizers")
    hf = tokenizers.Tokenizer.from_file(require("models/minilm/hf/tokenizer.json"))
    from wordpiece import WordPieceTokenizer
    tok = WordPieceTokenizer(os.path.join(ROOT, "models/minilm/hf/vocab.txt"))
    with open(require("data/minilm/sentences.txt"), encoding="utf-8") as f:
        for s in f.read().splitlines()[:100]:
            assert tok.encode(s) == hf.encode(s).ids, s


@pytest.mark.parametrize("fname", ["all-MiniLM-L6-v2.onnx", "all-MiniLM-L6-v2_op13.onnx"])
def test_matches_numpy_reference_and_unit_norm(fname):
    path = require(f"models/minilm/{fname}")
    require("data/minilm/input_ids.npy")
    import minilm
    hf = os.path.join(ROOT, "models", "minilm", "hf")
    with open(os.path.join(hf, "config.json")) as f:
        cfg = json.load(f)
    w = minilm.weights(hf)
    d = os.path.join(ROOT, "data", "minilm")
    feeds = {k: np.load(os.path.join(d, f"{k}.npy"))[:12] for k in ("input_ids", "attention_mask", "token_type_ids")}
    ref = minilm.reference_embed(w, cfg, feeds["input_ids"], feeds["attention_mask"], feeds["token_type_ids"])
    e = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    norms = np.linalg.norm(e, axis=1)
    assert np.abs(norms - 1).max() < 1e-4
    cos = (e * ref).sum(1) / norms / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 1 - 1e-4


def test_padding_does_not_change_embedding():
    path = require("models/minilm/all-MiniLM-L6-v2.onnx")
    from wordpiece import WordPieceTokenizer
    tok = WordPieceTokenizer(os.path.join(ROOT, "models/minilm/hf/vocab.txt"))
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    s = ["A man is eating food.", "A man is riding a white horse on an enclosed ground."]
    a = [sess.run(None, dict(zip(("input_ids", "attention_mask", "token_type_ids"), tok.batch([t]))))[0] for t in s]
    b = sess.run(None, dict(zip(("input_ids", "attention_mask", "token_type_ids"), tok.batch(s, pad_to=32))))[0]
    np.testing.assert_allclose(np.concatenate(a), b, atol=1e-5)
