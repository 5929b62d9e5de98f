#!/usr/bin/env python3
"""Is vitq's W8A8 export faster than the float model in ONNX Runtime? For each model: the default
(`--recipe auto`, `--target ort-cpu`), `--target portable` (auto by accuracy alone, as before
--target existed), and `--recipe minmax` with each placement; ONNX Runtime's CPU latency of each
export against the FP32 model, next to the report's forecast of the layers it runs in float.

    placement_latency.py --vitq build/apps/vitq [--models rec,det,resnet18,...] [--threads 1]
                         [--variants placement|recipes|LABEL,...] [--rounds 3] [--runs 10]
                         [--out out/placement] [--json out/placement.json]

``--variants placement`` (the default) times the exports above; ``recipes`` times the calibration
recipes' exports instead (minmax, mse, percentile, entropy, and repq-vit at W8A8, W6A6 and W4A4,
whose log-sqrt2 post-Softmax quantizer leaves the attention's context MatMul in float).

Models (``--models``, names below): PP-OCRv4 rec and det (models/ppocr), DeiT-S shaped and the
ViT-S with a ConvTranspose decoder (scripts/models/synthetic.py), and torchvision classifiers of the
zoo corpus (scripts/zoo/make_zoo.py); missing ones are skipped. Latency: batch 1, the first
calibration sample, ``--threads`` ONNX Runtime threads, ``--runs`` inferences per round after a
warm-up, the models timed one after the other in each round (so load changes hit all alike), the
median of the round medians.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = {  # name -> (model, calibration data: .npy or a folder of samples, calibration samples)
    "ppocr-rec": ("models/ppocr/ch_PP-OCRv4_rec_infer.onnx", "data/ppocr/rec_calib/x.npy", 16),
    "ppocr-det": ("models/ppocr/ch_PP-OCRv4_det_infer.onnx", "data/ppocr/det_calib/x.npy", 4),
    "deit-s": ("models/synthetic/deit_small.onnx", "data/synthetic/calib_x.npy", 16),
    "vit-s-decoder": ("models/synthetic/vit_decoder.onnx", "data/synthetic/calib_x.npy", 16),
    "resnet18": ("models/zoo/resnet18/op13.onnx", "models/zoo/resnet18/samples", 32),
    "mobilenet_v2": ("models/zoo/mobilenet_v2/op13.onnx", "models/zoo/mobilenet_v2/samples", 32),
    "convnext_tiny": ("models/zoo/convnext_tiny/op17.onnx", "models/zoo/convnext_tiny/samples", 32),
}
VARIANTS = {  # label -> vitq quantize flags
    "auto": [],
    "auto --target portable": ["--target", "portable"],
    "minmax, integer": ["--recipe", "minmax", "--placement", "integer"],
    "minmax, inputs": ["--recipe", "minmax", "--placement", "inputs"],
    "mse": ["--recipe", "mse"],
    "percentile": ["--recipe", "percentile"],
    "entropy": ["--recipe", "entropy"],
    "repq-vit": ["--recipe", "repq-vit"],
    "repq-vit W6A6": ["--recipe", "repq-vit", "--wbits", "6", "--abits", "6"],
    "repq-vit W4A4": ["--recipe", "repq-vit", "--wbits", "4", "--abits", "4"],
}
GROUPS = {  # --variants shorthands
    "placement": ["auto", "auto --target portable", "minmax, integer", "minmax, inputs"],
    "recipes": ["minmax, integer", "mse", "percentile", "entropy", "repq-vit", "repq-vit W6A6", "repq-vit W4A4"],
}


def first_sample(data):
    if data.endswith(".npy"):
        return np.ascontiguousarray(np.load(data, mmap_mode="r")[:1])
    return np.load(os.path.join(data, sorted(f for f in os.listdir(data) if f.endswith(".npy"))[0]))


def quantize(vitq, model, data, samples, flags, out, threads):
    cmd = [vitq, "-q", "quantize", model, "--data", data, "--calib-samples", str(samples), "-o", out,
           "--report", out + ".json", "--threads", str(threads), "--no-guard", *flags]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{proc.stderr[-1000:]}")
    report = json.load(open(out + ".json"))
    chosen = report.get("auto", {}).get("chosen", {})
    return {"seconds": round(time.time() - t0, 1), "sqnr_db": report["summary"].get("output_sqnr_db"),
            "float_layer_share": report["ort_cpu"]["float_layer_share"],
            "log_quantized_matmuls": report["ort_cpu"].get("float_log_quantized", 0),
            "chosen": f"{chosen['recipe']}, {chosen['placement']}" if chosen else ""}


def session(path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def median_ms(sess, feed, runs):
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, feed)
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitq", required=True)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variants", default="placement",
                    help="placement, recipes, or labels of VARIANTS separated by commas")
    ap.add_argument("--quantize-threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "placement"))
    ap.add_argument("--json")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    labels = GROUPS.get(args.variants) or args.variants.split(",")
    unknown = [label for label in labels if label not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}: choose from {list(GROUPS)} or {list(VARIANTS)}")
    results = {}
    for name in args.models.split(","):
        model, data, samples = (os.path.join(ROOT, p) if isinstance(p, str) else p for p in MODELS[name])
        if not (os.path.exists(model) and os.path.exists(data)):
            print(f"{name}: skipped ({model} or {data} missing)", flush=True)
            continue
        rows = {"FP32": {"path": model}}
        for label in labels:
            flags = VARIANTS[label]
            out = os.path.join(args.out, f"{name}.{label.replace(' ', '_').replace(',', '')}.onnx")
            rows[label] = {"path": out, **quantize(args.vitq, model, data, samples, flags, out, args.quantize_threads)}
        x = first_sample(data)
        sessions = {label: session(r["path"], args.threads) for label, r in rows.items()}
        feeds = {label: {s.get_inputs()[0].name: x} for label, s in sessions.items()}
        for label, s in sessions.items():
            median_ms(s, feeds[label], 3)  # warm-up
        rounds = {label: [] for label in rows}
        for _ in range(args.rounds):
            for label, s in sessions.items():
                rounds[label].append(median_ms(s, feeds[label], args.runs))
        for label in rows:
            rows[label]["ms"] = round(statistics.median(rounds[label]), 3)
            rows[label]["vs_fp32"] = round(rows[label]["ms"] / statistics.median(rounds["FP32"]), 3)
        results[name] = rows
        print(name, json.dumps({k: (v["ms"], v["vs_fp32"]) for k, v in rows.items()}), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print(f"\n| model | export | chose | output SQNR dB | float layers in ORT (forecast) | latency ms "
          f"({args.threads} thread{'s' if args.threads > 1 else ''}) | / FP32 |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        for label, r in rows.items():
            sqnr = "-" if r.get("sqnr_db") is None else f"{r['sqnr_db']:.2f}"
            share = "-" if "float_layer_share" not in r else f"{100 * r['float_layer_share']:.0f} %"
            if r.get("log_quantized_matmuls"):
                share += f" (+{r['log_quantized_matmuls']} MatMuls after log-sqrt2)"
            print(f"| {name} | {label} | {r.get('chosen', '') or '-'} | {sqnr} | {share} | {r['ms']:.2f} | "
                  f"{r['vs_fp32']:.2f}x |")


if __name__ == "__main__":
    sys.exit(main())
