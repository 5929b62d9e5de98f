#!/usr/bin/env python3
"""Weight-only quantization of a decoder language model (the committed gloss LM,
scripts/models/gloss_lm.py), scored by per-byte perplexity on held-out WordNet glosses in ONNX
Runtime (scripts/eval/perplexity.py, 256 windows of 64 bytes; FP32 4.774, unigram 21.6).

1. W4, group size 128, asymmetric, 64 calibration windows: RTN, AWQ (--awq) and GPTQ (--gptq) each
   within 2 % of the FP32 perplexity (the goal of issue 31 at g128); GPTQ below RTN by >= 0.005 and
   AWQ below RTN (measured 2026-12-07 on an Intel Xeon: FP32 4.7736, RTN 4.8020, AWQ 4.7991, GPTQ
   4.7828).
2. W8 per-channel RTN within 0.2 % of FP32 (measured 4.7731).
3. `--weight-format matmul-nbits` (GPTQ, g32, asymmetric): every weight MatMul is one
   com.microsoft.MatMulNBits, the file is <= 0.3x the FP32 file (measured 0.20x), ONNX Runtime's
   perplexity on it equals the QDQ form's (unfused, basic optimizations) within 1e-4 relative, and
   vitq's executor computes ONNX Runtime's logits on it (max |diff| <= 1e-4 x max |logit|).
4. The report of the QDQ run: `quantization.weight_sqnr` gives each of the 9 weights at 4 bits,
   "block 32", with the SQNR that ONNX Runtime's dequantized weights give against the FP32 file's
   (within 0.01 dB; GPTQ's rounding, so against the weight GPTQ was given), and
   `parameter_bytes.written` is within 2 % of the serialized size of the MatMulNBits file's initializers.

--quick (the sanitizer build): 8 calibration windows, 16 evaluation windows; check 3's structure and
equalities, perplexities printed but not gated.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnx.numpy_helper

from e2e_checks import check, exit_code  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts", "eval"))
import perplexity as ppl  # noqa: E402

MODEL = os.path.join(REPO, "tests", "data", "models", "gloss_lm_op17.onnx")
CALIB = os.path.join(REPO, "data", "gloss_lm", "calib_input_ids.npy")
WEIGHT_MATMULS = 9  # qkv, proj, fc1, fc2 in two blocks, and the head


def quantize(vitq, out, windows, *flags):
    proc = subprocess.run([vitq, "-q", "quantize", MODEL, "--data", CALIB, "-o", out, "--threads", "2",
                           "--calib-samples", windows, "--eval-samples", "2", "--weight-only",
                           "--report", out + ".json", *flags],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"vitq quantize {' '.join(flags)} failed:\n{proc.stderr}")
    return out


def check_matmul_nbits(vitq, nbits, qdq, windows, tmp):
    m = onnx.load(nbits)
    ops = [n.op_type for n in m.graph.node]
    check(ops.count("MatMulNBits") == WEIGHT_MATMULS,
          f"{WEIGHT_MATMULS} MatMulNBits nodes (got {ops.count('MatMulNBits')})")
    check("DequantizeLinear" not in ops, "no DequantizeLinear left")
    ratio = os.path.getsize(nbits) / os.path.getsize(MODEL)
    check(ratio <= 0.3, f"MatMulNBits file {ratio:.2f}x the FP32 file (<= 0.3x)")
    p_nbits = ppl.perplexity(nbits, windows)["perplexity"]
    p_qdq = ppl.perplexity(qdq, windows, basic=True)["perplexity"]
    check(abs(p_nbits - p_qdq) <= 1e-4 * p_qdq,
          f"ONNX Runtime: MatMulNBits perplexity {p_nbits:.5f} equals the unfused QDQ form's {p_qdq:.5f}")
    x = windows[:4, :-1].astype(np.int64)
    sess = ppl.session(nbits)
    ref = np.stack([sess.run(None, {"input_ids": row[None]})[0][0] for row in x])
    feed = os.path.join(tmp, "input_ids.npy")
    out_dir = os.path.join(tmp, "run")
    os.makedirs(out_dir, exist_ok=True)
    got = []
    for row in x:
        np.save(feed, row[None])
        proc = subprocess.run([vitq, "-q", "run", nbits, "--input", f"input_ids={feed}", "--output-dir", out_dir],
                              capture_output=True, text=True)
        check(proc.returncode == 0, f"vitq run on the MatMulNBits model ({proc.stderr.strip()[-200:]})")
        if proc.returncode != 0:
            return
        got.append(np.load(os.path.join(out_dir, "logits.npy"))[0])
    diff = float(np.max(np.abs(np.stack(got) - ref)))
    check(diff <= 1e-4 * float(np.max(np.abs(ref))), f"vitq's executor equals ONNX Runtime on MatMulNBits "
                                                        f"(max |diff| {diff:.2e})")


def dequantized_weights(qdq, tmp):
    """Each weight MatMul's name -> its dequantized weight, computed by ONNX Runtime (unfused)."""
    m = onnx.load(qdq)
    readers = {i: n.name for n in m.graph.node if n.op_type == "MatMul" for i in n.input}
    names = {n.output[0]: readers[n.output[0]] for n in m.graph.node
             if n.op_type == "DequantizeLinear" and n.output[0] in readers}
    for out in names:
        m.graph.output.append(onnx.helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, None))
    path = os.path.join(tmp, "dq_outputs.onnx")
    onnx.save(m, path)
    sess = ppl.session(path, basic=True)
    feeds = {"input_ids": np.zeros((1, 64), np.int64)}
    values = sess.run(list(names), feeds)
    return {names[o]: v for o, v in zip(names, values)}


def check_weight_report(qdq, nbits, tmp):
    report = json.load(open(qdq + ".json"))["quantization"]
    listed = {w["node"]: w for w in report["weight_sqnr"]}
    check(len(listed) == WEIGHT_MATMULS and all(w["bits"] == 4 and w["granularity"] == "block 32"
                                                for w in listed.values()),
          f"the report lists the {WEIGHT_MATMULS} weights at 4 bits, block 32")
    fp32 = onnx.load(MODEL)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in fp32.graph.initializer}
    float_weight = {n.name: inits[n.input[1]] for n in fp32.graph.node if n.op_type == "MatMul" and n.input[1] in inits}
    worst = 0.0
    for node, w in dequantized_weights(qdq, tmp).items():
        ref = float_weight[node].astype(np.float64)
        sqnr = 10 * np.log10(np.sum(ref ** 2) / np.sum((w - ref) ** 2))
        worst = max(worst, abs(sqnr - listed[node]["sqnr_db"]))
    check(worst <= 0.01, f"each weight's SQNR in the report is ONNX Runtime's on the written weights "
                         f"(largest difference {worst:.4f} dB)")
    stored = sum(t.ByteSize() for t in onnx.load(nbits).graph.initializer)
    written = json.load(open(nbits + ".json"))["quantization"]["parameter_bytes"]["written"]
    check(abs(written - stored) <= 0.02 * stored, f"parameter_bytes.written {written} is the MatMulNBits file's "
                                                  f"initializer bytes {stored} (2 %)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vitq", required=True)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    calib_windows, eval_windows = ("8", 16) if args.quick else ("64", None)
    windows = ppl.load_windows(samples=eval_windows)
    fp32 = ppl.perplexity(MODEL, windows)["perplexity"]
    with tempfile.TemporaryDirectory() as tmp:
        g128 = ["--wbits", "4", "--group-size", "128", "--asymmetric-weights"]
        scores = {}
        for name, extra in (("RTN", []), ("AWQ", ["--awq"]), ("GPTQ", ["--gptq"])):
            if args.quick and name != "AWQ":
                continue
            out = quantize(args.vitq, os.path.join(tmp, f"{name}.onnx"), calib_windows, *g128, *extra)
            scores[name] = ppl.perplexity(out, windows)["perplexity"]
        w8 = None
        if not args.quick:
            w8 = ppl.perplexity(quantize(args.vitq, os.path.join(tmp, "w8.onnx"), calib_windows, "--wbits", "8"),
                                windows)["perplexity"]
        print(f"gloss LM perplexity: FP32 {fp32:.4f}; W4 g128 asymmetric " +
              ", ".join(f"{k} {v:.4f}" for k, v in scores.items()) + (f"; W8 per-channel {w8:.4f}" if w8 else "") +
              (" (not gated)" if args.quick else ""))
        if not args.quick:
            for name, value in scores.items():
                check(value <= 1.02 * fp32, f"{name} W4 g128 perplexity {value:.4f} within 2 % of FP32 {fp32:.4f}")
            check(scores["GPTQ"] <= scores["RTN"] - 0.005, f"GPTQ {scores['GPTQ']:.4f} below RTN {scores['RTN']:.4f}")
            check(scores["AWQ"] < scores["RTN"], f"AWQ {scores['AWQ']:.4f} below RTN {scores['RTN']:.4f}")
            check(w8 <= 1.002 * fp32, f"W8 per-channel perplexity {w8:.4f} within 0.2 % of FP32 {fp32:.4f}")
        g32 = ["--wbits", "4", "--group-size", "32", "--asymmetric-weights", "--gptq"]
        qdq = quantize(args.vitq, os.path.join(tmp, "qdq.onnx"), calib_windows, *g32)
        nbits = quantize(args.vitq, os.path.join(tmp, "nbits.onnx"), calib_windows, *g32,
                         "--weight-format", "matmul-nbits")
        check_matmul_nbits(args.vitq, nbits, qdq, windows, tmp)
        check_weight_report(qdq, nbits, tmp)
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
