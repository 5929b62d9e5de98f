#!/usr/bin/env python3
"""Latency of vitq's weight-only exports in ONNX Runtime against the FP32 model, and file sizes.

    weight_only_latency.py [--vitq build/apps/vitq] [--width 2048] [--layers 4] [--rows 1,64]
                           [--threads 1,2] [--group-size 32] [--out out/weight_only_latency]

The model is a synthetic decoder MLP stack (random weights, seed 0, made here with onnx.helper):
L blocks of x + MatMul(Gelu(MatMul(LayerNorm(x), W_up)), W_down), W_up [d, 4d], W_down [4d, d],
input x [rows, d] float. Its weights (L x 8 d^2 floats: 537 MB at d = 2048, L = 4, stored as external data) do not fit in
any cache, as in a language model's decoding step, where one token's row reads every weight once.
vitq quantizes it at W4 with --weight-only --group-size G (RTN, 64 random calibration rows) in
both formats: `--weight-format qdq` (blocked DequantizeLinear, opset 21) and `matmul-nbits`
(com.microsoft.MatMulNBits). Each model runs in ONNX Runtime (CPU, default optimizations, which fuse
the QDQ form's DequantizeLinear -> MatMul into MatMulNBits too) at each row count and thread
count: median of alternating runs (30 per model, after 5 warm-ups). Prints a Markdown table of
milliseconds and the ratio to FP32, and each file's size relative to FP32.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def make_model(width, layers, path):
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    x = "x"
    inits.append(numpy_helper.from_array(np.ones(width, np.float32), "ln_scale"))
    inits.append(numpy_helper.from_array(np.zeros(width, np.float32), "ln_bias"))
    for i in range(layers):
        up = (rng.standard_normal((width, 4 * width), dtype=np.float32) / np.sqrt(width)).astype(np.float32)
        down = (rng.standard_normal((4 * width, width), dtype=np.float32) / np.sqrt(4 * width)).astype(np.float32)
        inits += [numpy_helper.from_array(up, f"w_up{i}"), numpy_helper.from_array(down, f"w_down{i}")]
        nodes += [
            helper.make_node("LayerNormalization", [x, "ln_scale", "ln_bias"], [f"n{i}"], name=f"ln{i}", axis=-1),
            helper.make_node("MatMul", [f"n{i}", f"w_up{i}"], [f"h{i}"], name=f"up{i}"),
            helper.make_node("Mul", [f"h{i}", "inv_sqrt2"], [f"hs{i}"], name=f"gelu_scale{i}"),
            helper.make_node("Erf", [f"hs{i}"], [f"he{i}"], name=f"gelu_erf{i}"),
            helper.make_node("Add", [f"he{i}", "one"], [f"hp{i}"], name=f"gelu_add{i}"),
            helper.make_node("Mul", [f"h{i}", f"hp{i}"], [f"hm{i}"], name=f"gelu_mul{i}"),
            helper.make_node("Mul", [f"hm{i}", "half"], [f"g{i}"], name=f"gelu_half{i}"),
            helper.make_node("MatMul", [f"g{i}", f"w_down{i}"], [f"d{i}"], name=f"down{i}"),
            helper.make_node("Add", [x, f"d{i}"], [f"x{i + 1}"], name=f"residual{i}"),
        ]
        x = f"x{i + 1}"
    inits += [numpy_helper.from_array(np.array(v, np.float32), n)
              for n, v in (("inv_sqrt2", 1 / np.sqrt(2)), ("one", 1.0), ("half", 0.5))]
    graph = helper.make_graph(nodes, "decoder_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", width])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["rows", width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    if os.path.exists(path + ".data"):
        os.remove(path + ".data")  # onnx appends to an existing data file
    onnx.save(model, path, save_as_external_data=True, location=os.path.basename(path) + ".data")


def session(path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def file_bytes(path):
    data = path + ".data"
    return os.path.getsize(path) + (os.path.getsize(data) if os.path.exists(data) else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitq", default=os.path.join(ROOT, "build", "apps", "vitq"))
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--rows", default="1,64")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--group-size", type=int, default=32)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "weight_only_latency"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    fp32 = os.path.join(args.out, "fp32.onnx")
    make_model(args.width, args.layers, fp32)
    calib = os.path.join(args.out, "calib.npy")
    np.save(calib, np.random.default_rng(1).standard_normal((64, args.width), dtype=np.float32))
    models = {"fp32": fp32}
    for fmt in ("qdq", "matmul-nbits"):
        out = os.path.join(args.out, f"w4_{fmt}.onnx")
        t0 = time.time()
        subprocess.run([args.vitq, "-q", "quantize", fp32, "--data", calib, "-o", out, "--wbits", "4", "--weight-only",
                        "--group-size", str(args.group_size), "--weight-format", fmt, "--eval-samples", "2",
                        "--threads", "2"], check=True, capture_output=True)
        print(f"vitq quantize --weight-format {fmt}: {time.time() - t0:.1f} s", flush=True)
        models[f"w4 {fmt}"] = out
    for name, path in models.items():
        print(f"{name}: {file_bytes(path) / 1e6:.1f} MB ({file_bytes(path) / file_bytes(fp32):.2f}x FP32)")
    print(f"\n| rows | threads | " + " | ".join(f"{n} ms" for n in models) + " | " +
          " | ".join(f"{n} / fp32" for n in models if n != "fp32") + " |")
    print("|---|---|" + "---|" * (2 * len(models) - 1))
    for threads in (int(t) for t in args.threads.split(",")):
        sessions = {n: session(p, threads) for n, p in models.items()}
        for rows in (int(r) for r in args.rows.split(",")):
            x = np.random.default_rng(2).standard_normal((rows, args.width), dtype=np.float32)
            for s in sessions.values():
                for _ in range(5):
                    s.run(None, {"x": x})
            times = {n: [] for n in sessions}
            for _ in range(args.runs):  # alternating, so that drifts of the machine hit every model alike
                for n, s in sessions.items():
                    t = time.perf_counter()
                    s.run(None, {"x": x})
                    times[n].append((time.perf_counter() - t) * 1e3)
            med = {n: float(np.median(v)) for n, v in times.items()}
            print(f"| {rows} | {threads} | " + " | ".join(f"{med[n]:.2f}" for n in models) + " | " +
                  " | ".join(f"{med[n] / med['fp32']:.2f}" for n in models if n != "fp32") + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
