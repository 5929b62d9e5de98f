"""PP-OCR models installed by scripts/models/ppocr.py and FP32 gates on the rendered data."""
import json
import os

import pytest

from conftest import require
import evaluate
import ppocr


def test_models_pinned():
    d = require("models/ppocr/SOURCE.json")
    d = os.path.dirname(d)
    with open(os.path.join(d, "SOURCE.json")) as f:
        src = json.load(f)
    pins = ppocr.SHARED_SHA256 if src["source"] == "shared" else ppocr.WHEEL_SHA256
    for name, sha in pins.items():
        assert ppocr.sha256(os.path.join(d, name)) == sha, name


def test_rec_reads_rendered_english():
    require("models/ppocr/ch_PP-OCRv4_rec_infer.onnx", "data/ppocr/rec_eval/x.npy")
    res = evaluate.evaluate("ppocr-rec", limit=60, threads=2)
    assert res["n"] == 60
    assert res["metrics"]["cer"] < 0.01, res.get("errors")
    assert res["metrics"]["exact_line_rate"] >= 0.95


def test_cls_accuracy():
    require("models/ppocr/ch_ppocr_mobile_v2.0_cls_infer.onnx", "data/ppocr/cls_eval/x.npy")
    res = evaluate.evaluate("ppocr-cls", threads=2)
    assert res["metrics"]["accuracy"] >= 0.95


def test_det_finds_lines_and_self_agrees():
    m = require("models/ppocr/ch_PP-OCRv4_det_infer.onnx")
    require("data/ppocr/det_eval/x.npy")
    res = evaluate.evaluate("ppocr-det", reference=m, limit=2, threads=2)
    assert res["metrics"]["box_f"] >= 0.9
    assert res["metrics"]["map_iou"] == pytest.approx(1.0)


def test_ctc_greedy_decoding():
    import numpy as np
    keys = ["a", "b", "c"]           # classes: 0 blank, 1 a, 2 b, 3 c, 4 space
    seq = [1, 1, 0, 1, 2, 2, 4, 0, 3, 3]
    logits = np.eye(5)[seq][None]
    assert evaluate.ctc_greedy(logits, keys) == ["aab c"]
    assert evaluate.cer(["abc"], ["abd"]) == pytest.approx(1 / 3)
