"""The committed Fashion-MNIST models: FP32 gates, opsets, dynamic batch, recorded accuracies."""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from conftest import ROOT

MODEL_DIR = os.path.join(ROOT, "tests", "data", "models")
FILES = ["fmnist_vit_op13.onnx", "fmnist_vit_op17.onnx", "fmnist_hybrid_op13.onnx", "fmnist_hybrid_op17.onnx"]


@pytest.fixture(scope="module")
def test_set():
    import fashion_mnist as fm
    if not os.path.isdir(fm.DATA_DIR):
        pytest.skip("Debian dataset-fashion-mnist is not installed")
    x, y = fm.load_split("test")
    return fm.normalize(x), y


@pytest.fixture(scope="module")
def recorded():
    with open(os.path.join(MODEL_DIR, "fashion_mnist.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("fname", FILES)
def test_fp32_top1(fname, test_set, recorded):
    x, y = test_set
    sess = ort.InferenceSession(os.path.join(MODEL_DIR, fname), providers=["CPUExecutionProvider"])
    pred = np.concatenate([sess.run(None, {"input": x[i:i + 1000]})[0].argmax(1) for i in range(0, len(y), 1000)])
    top1 = float((pred == y).mean())
    assert top1 >= 0.88, f"{fname}: top-1 {top1:.4f} < 88 %"
    assert abs(top1 - recorded["models"][fname]["top1"]) <= 0.002


@pytest.mark.parametrize("fname", FILES)
def test_graph_shape(fname):
    m = onnx.load(os.path.join(MODEL_DIR, fname))
    opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]
    ops = {n.op_type for n in m.graph.node}
    assert opset == (13 if "op13" in fname else 17)
    assert ("LayerNormalization" in ops) == (opset == 17)
    assert {"MatMul", "Softmax", "Erf"} <= ops          # attention and exact GELU
    if "hybrid" in fname:
        assert {"Conv", "Reshape", "Transpose", "Concat"} <= ops   # conv-to-transformer bridges
    dim0 = m.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param, "batch dimension must be dynamic"


def test_dynamic_batch_consistent():
    sess = ort.InferenceSession(os.path.join(MODEL_DIR, "fmnist_hybrid_op17.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.RandomState(0).standard_normal((5, 1, 28, 28)).astype(np.float32)
    full = sess.run(None, {"input": x})[0]
    one = np.concatenate([sess.run(None, {"input": x[i:i + 1]})[0] for i in range(5)])
    np.testing.assert_allclose(full, one, rtol=1e-4, atol=1e-4)


def test_op13_matches_op17():
    x = np.random.RandomState(1).standard_normal((4, 1, 28, 28)).astype(np.float32)
    for arch in ("vit", "hybrid"):
        a = ort.InferenceSession(os.path.join(MODEL_DIR, f"fmnist_{arch}_op13.onnx"),
                                 providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
        b = ort.InferenceSession(os.path.join(MODEL_DIR, f"fmnist_{arch}_op17.onnx"),
                                 providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
