#!/usr/bin/env python3
"""Per-byte perplexity of byte-level language models (the gloss LM) with ONNX Runtime (CPU).

    perplexity.py MODEL.onnx [MODEL2.onnx ...] [--data data/gloss_lm] [--samples N] [--basic]
                  [--json OUT]

Data: ``DATA/input_ids.npy``, int64 [N, 65] from scripts/data/gloss_lm_data.py. Each row is one
evaluation window: the model is fed ``row[:64]`` as a [1,64] ``input_ids`` batch and must return
``logits`` [1,64,256]; the target at position t is ``row[t+1]``. The score is the mean next-byte
cross entropy (nats) over all positions of all windows, and the perplexity ``exp`` of it.

ONNX Runtime runs on one thread (``intra_op_num_threads=1``, ``inter_op_num_threads=1``) with the
default graph optimization level ORT_ENABLE_ALL, or ORT_ENABLE_BASIC with ``--basic``.

Prints one line per model (perplexity, cross entropy, bits per byte, and the perplexity ratio to
the first model); ``--json`` also writes them as a list of objects.

``perplexity(model_path, windows, basic=False)`` and ``load_windows(data_dir, samples)`` are
importable (tests add scripts/eval to sys.path).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATA_DIR = os.path.join(ROOT, "data", "gloss_lm")


def load_windows(data_dir=DATA_DIR, samples=None):
    """Evaluation windows, int64 [N, 65] (the first ``samples`` rows when given)."""
    w = np.load(os.path.join(data_dir, "input_ids.npy"))
    if w.ndim != 2 or w.shape[1] < 2:
        raise ValueError(f"{data_dir}/input_ids.npy: expected [N, L+1], got {list(w.shape)}")
    return w[:samples] if samples else w


def session(model_path, basic=False):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_BASIC if basic
                                   else ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    return ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])


def cross_entropy(logits, targets):
    """Sum of -log softmax(logits)[target] (float64) over positions; logits [L, V], targets [L]."""
    z = logits.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return float(-logp[np.arange(targets.shape[0]), targets].sum())


def perplexity(model_path, windows, basic=False, input_name=None):
    """Score one model on int64 windows [N, L+1]; returns a dict with ``perplexity``,
    ``cross_entropy`` (mean nats per byte), ``bits_per_byte``, ``windows``, ``positions``, ``seconds``."""
    sess = session(model_path, basic)
    name = input_name or sess.get_inputs()[0].name
    length = windows.shape[1] - 1
    total, count = 0.0, 0
    t0 = time.time()
    for row in windows:
        x = row[None, :length].astype(np.int64)
        logits = sess.run(None, {name: x})[0]
        logits = logits.reshape(-1, logits.shape[-1])
        if logits.shape[0] != length:
            raise ValueError(f"{model_path}: logits for {logits.shape[0]} positions, expected {length}")
        total += cross_entropy(logits, row[1:])
        count += length
    ce = total / count
    return {"model": model_path, "perplexity": math.exp(ce), "cross_entropy": ce,
            "bits_per_byte": ce / math.log(2), "windows": int(windows.shape[0]), "positions": count,
            "optimization": "basic" if basic else "all", "seconds": round(time.time() - t0, 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--data", default=DATA_DIR, help="folder with input_ids.npy (default data/gloss_lm)")
    ap.add_argument("--samples", type=int, default=None, help="score only the first N windows")
    ap.add_argument("--basic", action="store_true", help="ORT_ENABLE_BASIC instead of ORT_ENABLE_ALL")
    ap.add_argument("--json", default=None, help="write the results to this file")
    args = ap.parse_args()
    w = load_windows(args.data, args.samples)
    results = []
    for path in args.models:
        r = perplexity(path, w, basic=args.basic)
        r["ratio_to_first"] = r["perplexity"] / results[0]["perplexity"] if results else 1.0
        results.append(r)
        print(f"{path}: perplexity {r['perplexity']:.4f} ({r['cross_entropy']:.4f} nats, "
              f"{r['bits_per_byte']:.4f} bits/byte, x{r['ratio_to_first']:.4f} first; "
              f"{r['windows']} windows, {r['seconds']} s)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
