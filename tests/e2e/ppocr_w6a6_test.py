#!/usr/bin/env python3
"""PP-OCRv4 rec at W6A6 (16 calibration lines), scored by the evaluation script on the models as
ONNX Runtime runs them (docs/benchmarks.md, RepQ-ViT and Q-HyViT tables).

1. `--recipe repq-vit --placement inputs --bias-correction --depthwise-inputs per-channel`: CER within
   1 point of FP32 (the RepQ-ViT issue's W6A6 goal) on the 300 evaluation lines, and below the same
   recipe with one scale per depthwise input (PP-LCNet's depthwise inputs have channel ranges 10 to
   100 times apart). On the CI subset (100 lines, about 490 characters, so one character is 0.2
   point) the bound is 1.5 points: measured there 1.02 % (5 characters; FP32 0.00 %) against 2.72 %
   with one scale; on the 300 lines 0.81 % against 2.84 % (FP32 0.17 %).
2. The exported model quantizes the depthwise inputs per channel (QuantizeLinear with axis 1), and
   ONNX Runtime's outputs agree with vitq's own execution of it (`vitq run`) on 8 lines: the same
   character on >= 95 % of the frames. Not exactly: the layers run in float on dequantized inputs,
   summed in another order by each runtime's kernels, so a few activations land on the other side
   of a rounding boundary (measured: the codes of the first 14 quantizers are identical, 2 of 460800
   differ at the 15th), and each flipped 6-bit code moves many codes of the next wide layer; the
   differences grow through the network to 2-3 % of the frames (the same with one scale per
   depthwise input).

--quick (the sanitizer build): 4 calibration lines, CER on the first 10 evaluation lines printed but
not gated (the goal needs the 16 lines and the whole evaluation set), the exported model's quantizer
axes and ORT against `vitq run` checked as above on 4 lines.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

from e2e_checks import check, evaluate, exit_code, ort_run, vitq_run  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PPOCR_REC = os.path.join(REPO, "models", "ppocr", "ch_PP-OCRv4_rec_infer.onnx")
PPOCR_CALIB = os.path.join(REPO, "data", "ppocr", "rec_calib", "x.npy")
W6A6 = ["--wbits", "6", "--abits", "6", "--recipe", "repq-vit", "--placement", "inputs", "--bias-correction"]


def evaluation_lines():
    with open(os.path.join(REPO, "data", "ppocr", "rec_eval", "labels.txt")) as f:
        return sum(1 for line in f if line.strip())


def quantize(vitq, out, lines, *extra):
    """W6A6 calibrated on the first `lines` lines. Scored by the evaluation script: vitq's own report
    runs on 2 samples only."""
    proc = subprocess.run([vitq, "-q", "quantize", PPOCR_REC, "--data", PPOCR_CALIB, "-o", out, "--threads", "1",
                           "--eval-samples", "2", "--calib-samples", str(lines), *W6A6, *extra],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"vitq quantize {extra} failed:\n{proc.stderr}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--vitq", required=True)
    ap.add_argument("--quick", action="store_true", help="4 calibration lines, CER on 10 lines not gated, vitq vs ORT "
                    "on 4 (sanitizer builds)")
    args = ap.parse_args()
    limit = 10 if args.quick else None
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = evaluate("ppocr-rec", PPOCR_REC, PPOCR_REC, tmp, limit)["cer"]
        cer = {}
        for granularity in ("per-channel", "per-tensor"):
            out = os.path.join(tmp, f"rec_w6a6_{granularity}.onnx")
            quantize(args.vitq, out, 4 if args.quick else 16, "--depthwise-inputs", granularity)
            cer[granularity] = evaluate("ppocr-rec", out, PPOCR_REC, tmp, limit)["cer"]
            print(f"ppocr-rec W6A6 repq-vit, depthwise inputs {granularity}: CER {100 * cer[granularity]:.2f} %")
        lines = limit or evaluation_lines()
        if args.quick:
            print(f"W6A6 CER {100 * cer['per-channel']:.2f} % (one scale {100 * cer['per-tensor']:.2f} %) vs FP32 "
                  f"{100 * fp32:.2f} % on {lines} lines (not gated)")
        else:
            bound = 0.01 if lines >= 300 else 0.015
            check(cer["per-channel"] <= fp32 + bound,
                  f"W6A6 CER {100 * cer['per-channel']:.2f} % within {100 * bound:.1f} point(s) of FP32 "
                  f"{100 * fp32:.2f} % ({lines} lines)")
            check(cer["per-channel"] < cer["per-tensor"],
                  f"per-channel depthwise inputs {100 * cer['per-channel']:.2f} % < one scale "
                  f"{100 * cer['per-tensor']:.2f} %")

        out = os.path.join(tmp, "rec_w6a6_per-channel.onnx")
        axes = [next((a.i for a in n.attribute if a.name == "axis"), None)
                for n in onnx.load(out).graph.node if n.op_type == "QuantizeLinear"]
        check(axes.count(1) >= 10, f"{axes.count(1)} of {len(axes)} activation quantizers are per channel (axis 1)")
        count = 4 if args.quick else 8
        x = np.load(os.path.join(REPO, "data", "ppocr", "rec_eval", "x.npy"))[:count]  # lines calibration never saw
        mine, err = vitq_run(args.vitq, out, x, tmp)
        check(mine is not None, "vitq runs the exported model" + err[-300:])
        if mine is not None:
            theirs = ort_run(out, x, batch=1)
            agree = float((mine.argmax(-1) == theirs.argmax(-1)).mean())
            diff = float(np.abs(mine - theirs).max())
            check(agree >= 0.95, f"ORT agrees with vitq's execution: frame top-1 agreement {agree:.4f}, max prob "
                  f"diff {diff:.3g}")
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
