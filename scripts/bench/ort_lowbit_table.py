#!/usr/bin/env python3
"""ONNX Runtime's own calibrators below 8 bits, scored like vitq's exports: the peer side of the
RepQ-ViT table in docs/benchmarks.md.

    out/venv-bench/bin/python scripts/bench/ort_lowbit_table.py
        [--models fmnist-vit-op17,fmnist-hybrid-op17,ppocr-rec-c16] [--bits 6,4]
        [--methods ort-minmax,ort-percentile,ort-entropy] [--container4 int4|clip]
        [--out out/ort-lowbit] [--json results.json]

Runs under the bench environment (scripts/bench/run_peers.sh makes out/venv-bench); each model is
quantized by quantize_one.py (6 bits: 8-bit containers with Clip; 4 bits: ONNX's INT4/UINT4 types
by default) from an opset-13 conversion where the model is older (as peers.py does: ONNX Runtime's
quantizer keeps opset-9 Slice nodes it cannot run), then scored by scripts/eval/evaluate.py under
the project's .venv on the full evaluation set. Prints one Markdown row per model and bit width.
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402
import registry  # noqa: E402
from recipe_table import METRIC, shown  # noqa: E402


def evaluate(python, task, model):
    out = subprocess.run([python, registry.path("scripts/eval/evaluate.py"), "--task", task, "--model", model],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"evaluate.py failed on {model}: {out.stderr[-2000:]}")
    key, factor, _ = METRIC[task]
    return json.loads(out.stdout[out.stdout.index("{"):])["metrics"][key] * factor


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="fmnist-vit-op17,fmnist-hybrid-op17,ppocr-rec-c16")
    ap.add_argument("--bits", default="6,4")
    ap.add_argument("--methods", default="ort-minmax,ort-percentile,ort-entropy")
    ap.add_argument("--container4", choices=["int4", "clip"], default="int4")
    ap.add_argument("--eval-python", default=registry.path(".venv/bin/python"))
    ap.add_argument("--out", default=registry.path("out/ort-lowbit"))
    ap.add_argument("--json")
    args = ap.parse_args()
    methods = args.methods.split(",")
    results, rows = [], []
    for mid in args.models.split(","):
        entry = registry.BY_ID[mid]
        work = os.path.join(args.out, mid)
        os.makedirs(work, exist_ok=True)
        src, _ = peers.prepare_input(entry, work)
        for bits in (int(b) for b in args.bits.split(",")):
            container = args.container4 if bits == 4 else "clip"
            cells = []
            for method in methods:
                dst = os.path.join(work, f"w{bits}a{bits}_{method}_{container}.onnx")
                cmd = [sys.executable, registry.path("scripts/bench/quantize_one.py"), "--id", mid, "--method", method,
                       "--bits", str(bits), "--container", container, "--src", src, "--out", dst]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"{mid} W{bits}A{bits} {method}: quantization failed: {proc.stderr[-1000:]}", file=sys.stderr)
                    cells.append("fails")
                    continue
                metric = evaluate(args.eval_python, entry["task"], dst)
                results.append(dict(model=mid, bits=bits, method=method, container=container, metric=metric))
                cells.append(shown(entry["task"], metric))
                print(f"{mid} W{bits}A{bits} {method} ({container}): {cells[-1]}", flush=True)
            rows.append(f"| {mid} | {METRIC[entry['task']][2]} | W{bits}A{bits} | {container} | " + " / ".join(cells) + " |")
    print(f"\n| model | metric | bits | container | {' / '.join(methods)} |\n|---|---|---|---|---|")
    print("\n".join(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
