"""evaluate.py as a command: JSON schema of its output for each task whose data is prepared."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, require

SCRIPT = os.path.join(ROOT, "scripts", "eval", "evaluate.py")
CASES = {
    "fashion-mnist": ("tests/data/models/fmnist_vit_op13.onnx", "tests/data/models/fmnist_vit_op17.onnx",
                      "data/fashion_mnist/test_x.npy", {"top1", "agreement_with_reference"}),
    "ppocr-rec": ("models/ppocr/ch_PP-OCRv4_rec_infer.onnx", None, "data/ppocr/rec_eval/x.npy",
                  {"cer", "cer_with_spaces", "exact_line_rate"}),
    "ppocr-cls": ("models/ppocr/ch_ppocr_mobile_v2.0_cls_infer.onnx", None, "data/ppocr/cls_eval/x.npy",
                  {"accuracy"}),
    "ppocr-det": ("models/ppocr/ch_PP-OCRv4_det_infer.onnx", "models/ppocr/ch_PP-OCRv4_det_infer.onnx",
                  "data/ppocr/det_eval/x.npy", {"box_recall", "pixel_precision", "box_f", "map_iou"}),
    "minilm": ("models/minilm/all-MiniLM-L6-v2_op13.onnx", "models/minilm/all-MiniLM-L6-v2.onnx",
               "data/minilm/input_ids.npy",
               {"norm_max_dev", "cosine_mean", "cosine_min", "retrieval_top1_agreement", "retrieval_top5_overlap"}),
}


@pytest.mark.parametrize("task", sorted(CASES))
def test_json_schema(task, tmp_path):
    model, ref, data, keys = CASES[task]
    require(model, data)
    out = tmp_path / "r.json"
    cmd = [sys.executable, SCRIPT, "--task", task, "--model", model, "--limit", "4", "--json", str(out), "--latency"]
    if ref:
        cmd += ["--reference", ref]
    subprocess.run(cmd, check=True, cwd=str(tmp_path), stdout=subprocess.DEVNULL)
    res = json.loads(out.read_text())
    assert {"task", "model", "reference", "data", "n", "metrics", "seconds", "onnxruntime", "latency_ms"} <= set(res)
    assert res["task"] == task and res["n"] == 4
    assert keys <= set(res["metrics"]), set(res["metrics"])
    assert all(isinstance(v, float) for v in res["metrics"].values())
    assert res["latency_ms"]["median"] > 0
