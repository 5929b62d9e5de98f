#!/usr/bin/env python3
"""ONNX Runtime latency of vitq's quantized models against their FP32 model and against the models
ONNX Runtime's and NNCF's own quantizers wrote: the latency table of docs/benchmarks.md.

    latency_table.py [--models fmnist-vit-op17,...] [--variants minmax,nncf-like] [--bits W8A8]
                     [--peers ort-minmax,nncf] [--recipes out/recipes] [--peer-dir out/bench]
                     [--rounds 3] [--runs 30] [--json out/bench/latency.json]

Measures models that already exist: vitq's exports as scripts/bench/recipe_table.py names them
(``RECIPES/{model}_{bits}_{variant}.onnx``) and the peers' as scripts/bench/peers.py leaves them
(``PEER_DIR/{model}/{method}.onnx``); missing ones are skipped. Batch 1, one ORT thread, the first
sample of the task's evaluation data (scripts/eval/evaluate.py ``latency``). Every round times each
model once (``--runs`` inferences after a warm-up, median) in the same order, so that load changes
on a shared machine hit all of them alike; the table shows the median over the rounds and each
model's ratio to the FP32 model.
"""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "eval"))
import registry  # noqa: E402
import evaluate  # noqa: E402


def candidates(args, mid):
    """(label, path) of every quantized model of \\p mid there is to time."""
    found = []
    for bits in args.bits.split(","):
        for variant in args.variants.split(","):
            p = os.path.join(args.recipes, f"{mid}_{bits}_{variant}.onnx")
            if os.path.exists(p):
                found.append((f"vitq {variant} {bits}", p))
    for method in args.peers.split(","):
        p = os.path.join(args.peer_dir, mid, f"{method}.onnx")
        if os.path.exists(p):
            found.append((method, p))
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="fmnist-vit-op17,fmnist-hybrid-op17,ppocr-cls,ppocr-rec-c16,minilm")
    ap.add_argument("--variants", default="minmax,nncf-like")
    ap.add_argument("--bits", default="W8A8")
    ap.add_argument("--peers", default="ort-minmax,nncf")
    ap.add_argument("--recipes", default=registry.path("out/recipes"))
    ap.add_argument("--peer-dir", default=registry.path("out/bench"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--json", help="also write the raw round medians here")
    args = ap.parse_args()
    results = {}
    for mid in args.models.split(","):
        entry = registry.BY_ID[mid]
        models = [("FP32", registry.path(entry["model"]))] + candidates(args, mid)
        data = evaluate.rpath(evaluate.DEFAULT_DATA[entry["task"]])
        rounds = {label: [] for label, _ in models}
        for _ in range(args.rounds):
            for label, path in models:
                ns = argparse.Namespace(task=entry["task"], model=path, threads=1)
                rounds[label].append(evaluate.latency(ns, data, runs=args.runs)["median"])
        results[mid] = {label: statistics.median(ms) for label, ms in rounds.items()}
        print(mid, json.dumps(results[mid]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print("\n| model | quantized by | latency ms | / FP32 | / ort-minmax |")
    print("|---|---|---|---|---|")
    for mid, row in results.items():
        fp32, ort = row["FP32"], row.get("ort-minmax")
        for label, ms in row.items():
            vs_ort = f"{ms / ort:.2f}x" if ort else "-"
            print(f"| {mid} | {label} | {ms:.2f} | {ms / fp32:.2f}x | {vs_ort} |")


if __name__ == "__main__":
    main()
