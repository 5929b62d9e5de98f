#!/usr/bin/env python3
"""FP32 throughput of vitq's executor against ONNX Runtime on the same model, inputs and thread
count, measured in one run (medians over --runs after --warmup), plus vitq's peak RSS for one
inference from /usr/bin/time -v.

  scripts/bench/exec_vs_ort.py --vitq build/apps/vitq [--threads 1] [--runs 20] [--json out.json]
      [--only SUBSTRING]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ppocr(name):
    for d in (os.path.join(REPO, "models", "ppocr"), os.path.join(REPO, "..", "shared", "models", "ppocr")):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    return os.path.join(REPO, "models", "ppocr", name)


CASES = [
    ("DeiT-S (random weights, 197 tokens)", os.path.join(REPO, "models", "synthetic", "deit_small.onnx"), (1, 3, 224, 224)),
    ("PP-OCRv4 rec", ppocr("ch_PP-OCRv4_rec_infer.onnx"), (1, 3, 48, 320)),
    ("PP-OCRv4 det", ppocr("ch_PP-OCRv4_det_infer.onnx"), (1, 3, 640, 640)),
    ("ViT-S + ConvTranspose decoder (random weights)", os.path.join(REPO, "models", "synthetic", "vit_decoder.onnx"),
     (1, 3, 224, 224)),
    ("conv decoder (zoo, grouped ConvTranspose, Resize)", os.path.join(REPO, "models", "zoo", "conv_decoder", "op17.onnx"),
     (1, 16, 8, 8)),
]


def ort_median(path, x, threads, warmup, runs):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    for _ in range(warmup):
        sess.run(None, {name: x})
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, {name: x})
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def vitq_median(vitq, path, x_path, threads, warmup, runs):
    out = subprocess.run([vitq, "-q", "bench", path, "--input", x_path, "--threads", str(threads),
                          "--warmup", str(warmup), "--runs", str(runs), "--json"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["median_ms"]


def peak_rss_mb(vitq, path, x_path, threads):
    proc = subprocess.run(["/usr/bin/time", "-v", vitq, "-q", "run", path, "--input", x_path, "--threads", str(threads)],
                          capture_output=True, text=True, check=True)
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return kb / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vitq", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json")
    parser.add_argument("--only", help="run only the cases whose label contains this")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for label, path, shape in CASES:
            if args.only and args.only not in label:
                continue
            if not os.path.exists(path):
                print(f"skip {label}: {path} missing (scripts/prepare_all.sh)", file=sys.stderr)
                continue
            x = np.random.default_rng(0).uniform(-1, 1, size=shape).astype(np.float32)
            x_path = os.path.join(d, "x.npy")
            np.save(x_path, x)
            # Interleave the two so that machine noise hits both alike.
            v1 = vitq_median(args.vitq, path, x_path, args.threads, args.warmup, args.runs)
            o1 = ort_median(path, x, args.threads, args.warmup, args.runs)
            v2 = vitq_median(args.vitq, path, x_path, args.threads, args.warmup, args.runs)
            o2 = ort_median(path, x, args.threads, args.warmup, args.runs)
            v, o = min(v1, v2), min(o1, o2)
            row = {"model": label, "shape": list(shape), "threads": args.threads, "vitq_median_ms": v, "ort_median_ms": o,
                   "throughput_ratio_vs_ort": o / v, "vitq_peak_rss_mb": peak_rss_mb(args.vitq, path, x_path, args.threads),
                   "model_mb": os.path.getsize(path) / 2**20}
            rows.append(row)
            print(f"{label}: vitq {v:.2f} ms, ORT {o:.2f} ms, throughput ratio {o / v:.2f}x ORT, "
                  f"vitq peak RSS {row['vitq_peak_rss_mb']:.0f} MB (model {row['model_mb']:.0f} MB), {args.threads} thread(s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
