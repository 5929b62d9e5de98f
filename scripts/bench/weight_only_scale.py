#!/usr/bin/env python3
"""Time and peak memory of weight-only quantization of a multi-GB model (issue #31's scale goal).

    weight_only_scale.py [--vitq build/apps/vitq] [--width 2048] [--layers 24] [--group-size 128]
                         [--variants rtn,awq,gptq] [--ort-python /tmp/venv-peers/bin/python]
                         [--out out/weight_only_scale]

The model is weight_only_latency.py's synthetic decoder MLP stack (random weights, external data):
at d = 2048 and 24 blocks, 24 x 8 d^2 floats = 3.2 GB. Each variant is one `vitq quantize --wbits 4
--weight-only --group-size G --asymmetric-weights` (plus --awq or --gptq, 8 calibration rows)
under /usr/bin/time -v: wall seconds and maximum resident set size (with --no-guard: the random
stack's outputs are no classes, and the guard's top-1 test reads them as such). With --ort-python (a Python
with onnxruntime >= 1.20 and onnx >= 1.16, e.g. the venv of weight_only_peers.py), ONNX Runtime's
MatMul4BitsQuantizer (RTN, the same G, asymmetric) runs on the same file the same way. Prints a
Markdown table with the model's size for reference.
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weight_only_latency import ROOT, file_bytes, make_model  # noqa: E402

ORT_RTN = """
import sys, onnx
from onnxruntime.quantization.matmul_4bits_quantizer import MatMul4BitsQuantizer, DefaultWeightOnlyQuantConfig
model = onnx.load(sys.argv[1])
q = MatMul4BitsQuantizer(model, algo_config=DefaultWeightOnlyQuantConfig(block_size=int(sys.argv[3]), is_symmetric=False))
q.process()
q.model.save_model_to_file(sys.argv[2], use_external_data_format=True)
"""


def timed(cmd):
    """Wall seconds and peak RSS (MB) of \\p cmd under /usr/bin/time -v."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", proc.stderr).group(1)
    seconds = sum(float(p) * 60 ** i for i, p in enumerate(reversed(wall.split(":"))))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1)) / 1024
    return seconds, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitq", default=os.path.join(ROOT, "build", "apps", "vitq"))
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--group-size", type=int, default=128)
    ap.add_argument("--variants", default="rtn")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ort-python")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "weight_only_scale"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    fp32 = os.path.join(args.out, "fp32.onnx")
    if not os.path.exists(fp32 + ".data"):
        make_model(args.width, args.layers, fp32)
    calib = os.path.join(args.out, "calib.npy")
    np.save(calib, np.random.default_rng(1).standard_normal((8, args.width), dtype=np.float32))
    size_mb = file_bytes(fp32) / 1e6
    print(f"model: {args.layers} blocks at d {args.width}, {size_mb:.0f} MB FP32 (external data)", flush=True)
    flags = {"rtn": [], "awq": ["--awq"], "gptq": ["--gptq"]}
    rows = []
    for variant in args.variants.split(","):
        out = os.path.join(args.out, f"vitq_{variant}.onnx")
        seconds, rss = timed([args.vitq, "-q", "quantize", fp32, "--data", calib, "-o", out, "--wbits", "4",
                              "--weight-only", "--group-size", str(args.group_size), "--asymmetric-weights",
                              "--eval-samples", "1", "--threads", str(args.threads), "--no-guard", *flags[variant]])
        rows.append((f"vitq {variant}", seconds, rss, file_bytes(out) / 1e6))
        print(f"vitq {variant}: {seconds:.1f} s, peak RSS {rss:.0f} MB", flush=True)
    if args.ort_python:
        out = os.path.join(args.out, "ort_rtn.onnx")
        seconds, rss = timed([args.ort_python, "-c", ORT_RTN, fp32, out, str(args.group_size)])
        rows.append(("ONNX Runtime RTN", seconds, rss, file_bytes(out) / 1e6))
    print(f"\n| quantizer | seconds | peak RSS MB | peak RSS / model size | output MB |")
    print("|---|---|---|---|---|")
    for name, seconds, rss, out_mb in rows:
        print(f"| {name} | {seconds:.1f} | {rss:.0f} | {rss / size_mb:.2f} | {out_mb:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
