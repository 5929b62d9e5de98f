"""The models of the peer benchmark and their calibration data (paths relative to the repo root).

Calibration samples are fed one at a time (batch 1) to every quantizer, so that ONNX Runtime's
calibrators and NNCF's ``subset_size`` see exactly the same samples.
"""
import os

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

MODELS = [
    # id, evaluate.py task, FP32 model, calibration source, transformer (NNCF model_type)
    dict(id="ppocr-rec", task="ppocr-rec", model="models/ppocr/ch_PP-OCRv4_rec_infer.onnx",
         calib="data/ppocr/rec_calib/x.npy", transformer=True, kind="real, hybrid conv + SVTR"),
    # the same with 16 calibration lines: ORT's histogram calibrators run out of memory with 64
    dict(id="ppocr-rec-c16", task="ppocr-rec", model="models/ppocr/ch_PP-OCRv4_rec_infer.onnx",
         calib="data/ppocr/rec_calib/x.npy", calib_limit=16, transformer=True, kind="real, hybrid conv + SVTR"),
    dict(id="ppocr-det", task="ppocr-det", model="models/ppocr/ch_PP-OCRv4_det_infer.onnx",
         calib="data/ppocr/det_calib/x.npy", calib_limit=8, transformer=False, kind="real, CNN (DBNet)"),
    dict(id="ppocr-cls", task="ppocr-cls", model="models/ppocr/ch_ppocr_mobile_v2.0_cls_infer.onnx",
         calib="data/ppocr/cls_calib/x.npy", transformer=False, kind="real, CNN"),
    dict(id="fmnist-vit-op13", task="fashion-mnist", model="tests/data/models/fmnist_vit_op13.onnx",
         calib="data/fashion_mnist/calib_x.npy", calib_limit=256, transformer=True, kind="trained, DeiT-style ViT"),
    dict(id="fmnist-vit-op17", task="fashion-mnist", model="tests/data/models/fmnist_vit_op17.onnx",
         calib="data/fashion_mnist/calib_x.npy", calib_limit=256, transformer=True, kind="trained, DeiT-style ViT"),
    # the same ViT with outlier channels written in by exact rewrites (scripts/models/outlier_vit.py)
    dict(id="fmnist-vit-outlier", task="fashion-mnist", model="models/outlier/fmnist_vit_outlier_op17.onnx",
         calib="data/fashion_mnist/calib_x.npy", calib_limit=256, transformer=True,
         kind="trained ViT, outlier channels added (function-preserving)"),
    dict(id="fmnist-hybrid-op13", task="fashion-mnist", model="tests/data/models/fmnist_hybrid_op13.onnx",
         calib="data/fashion_mnist/calib_x.npy", calib_limit=256, transformer=True,
         kind="trained, MobileViT-style hybrid"),
    dict(id="fmnist-hybrid-op17", task="fashion-mnist", model="tests/data/models/fmnist_hybrid_op17.onnx",
         calib="data/fashion_mnist/calib_x.npy", calib_limit=256, transformer=True,
         kind="trained, MobileViT-style hybrid"),
    dict(id="minilm", task="minilm", model="models/minilm/all-MiniLM-L6-v2.onnx", calib="data/minilm",
         calib_limit=64, transformer=True, kind="real, BERT-like encoder"),
    dict(id="gloss-lm", task="gloss-lm", model="tests/data/models/gloss_lm_op17.onnx",
         calib="data/gloss_lm/calib_input_ids.npy", calib_limit=64, transformer=True,
         kind="trained, byte-level decoder LM"),
    dict(id="deit-small", task="synthetic", model="models/synthetic/deit_small.onnx",
         calib="data/synthetic/calib_x.npy", calib_limit=8, transformer=True, kind="random weights, DeiT-S shape"),
    dict(id="swin-t", task="synthetic", model="models/synthetic/swin_t.onnx",
         calib="data/synthetic/calib_x.npy", calib_limit=8, transformer=True, kind="random weights, Swin-T shape"),
]
BY_ID = {m["id"]: m for m in MODELS}


def path(p):
    return p if os.path.isabs(p) else os.path.join(ROOT, p)


def calib_feeds(entry, input_names):
    """List of feed dicts (batch 1) for the model's calibration."""
    limit = entry.get("calib_limit")
    if entry["task"] == "minilm":
        d = path(entry["calib"])
        arrs = {k: np.load(os.path.join(d, f"calib_{k}.npy")) for k in ("input_ids", "attention_mask", "token_type_ids")}
        n = arrs["input_ids"].shape[0] if limit is None else min(limit, arrs["input_ids"].shape[0])
        return [{k: arrs[k][i:i + 1] for k in input_names} for i in range(n)]
    x = np.load(path(entry["calib"]), mmap_mode="r")
    n = x.shape[0] if limit is None else min(limit, x.shape[0])
    return [{input_names[0]: np.ascontiguousarray(x[i:i + 1])} for i in range(n)]


def vitq_data(entry, workdir):
    """vitq's --data for a registry entry: the calibration file, or for MiniLM its three arrays in
    one .npz written to \p workdir (vitq matches archive members to the model's input names)."""
    if entry["task"] != "minilm":
        return path(entry["calib"])
    d = path(entry["calib"])
    out = os.path.join(workdir, "minilm_calib.npz")
    np.savez(out, **{k: np.load(os.path.join(d, f"calib_{k}.npy")) for k in
                     ("input_ids", "attention_mask", "token_type_ids")})
    return out
