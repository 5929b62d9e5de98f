#!/usr/bin/env python3
"""I-ViT integer export of PP-OCRv4 rec (`vitq quantize --recipe i-vit --format integer`).

The hybrid conv + SVTR recognizer (opset 9, dynamic width) exercises the lowerings the Fashion-MNIST
models do not: HardSwish spelled x * Clip(x + 3, 0, 6) / 6, HardSigmoid gates multiplied into
activations, SiLU as x * Sigmoid(1.0 * x), AveragePool, GlobalAveragePool over a dynamic width,
scalar affine constants on conv accumulators, decomposed LayerNorm, the final Softmax over 6625
classes. Checked:
1. Integer only between the input quantizer and the output dequantizer (ivit_test.integer_only).
2. Bit-exact: ONNX Runtime's probabilities equal `vitq run`'s element for element on the first
   BITEXACT_LINES evaluation lines of data/ppocr/rec_eval (--quick, for sanitizer builds: the first
   10, calibrating on 8); the integer model runs at about 2.5 lines a second in either, so the
   comparison takes half the lines the CER needs.
3. Accuracy: greedy-CTC CER of the integer model in ONNX Runtime within MAX_CER_RISE points of FP32
   on the same lines (the issue's goal), calibrated on the first 16 lines of rec_calib (what the CI
   data subset holds); not gated with --quick (10 lines are too few).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

from e2e_checks import check, exit_code, ort_run  # noqa: E402
from ivit_test import integer_only, vitq_run  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts", "eval"))
import evaluate  # noqa: E402

MODEL = os.path.join(REPO, "models", "ppocr", "ch_PP-OCRv4_rec_infer.onnx")
CALIB = os.path.join(REPO, "data", "ppocr", "rec_calib", "x.npy")
EVAL = os.path.join(REPO, "data", "ppocr", "rec_eval")
KEYS = os.path.join(REPO, "models", "ppocr", "ppocr_keys_v1.txt")
MAX_CER_RISE = 1.0  # points (measured 0.75 on the 100 CI lines, 0.86 on 300; docs/benchmarks.md "I-ViT")
BITEXACT_LINES = 50
CHUNK = 25  # lines per run: the int64 intermediates of a 6625-class Shiftmax are large


def cer_of(probs, labels):
    """CER with spaces removed from both sides, as evaluate.py's ppocr-rec metric."""
    texts = evaluate.ctc_greedy(probs, evaluate.load_keys(KEYS))
    nospace = lambda s: "".join(s.split())  # noqa: E731
    return evaluate.cer([nospace(t) for t in texts], [nospace(g) for g in labels])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    parser.add_argument("--quick", action="store_true", help="calibrate on 8 lines, compare the first 10 (sanitizer builds)")
    args = parser.parse_args()
    x_all = np.load(os.path.join(EVAL, "x.npy"))
    with open(os.path.join(EVAL, "labels.txt"), encoding="utf-8") as f:
        labels_all = [line.rstrip("\n").split("\t", 1)[1] for line in f if line.strip()]
    count = 10 if args.quick else len(x_all)
    calib_lines = "8" if args.quick else "16"
    x, labels = x_all[:count], labels_all[:count]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rec_ivit.onnx")
        proc = subprocess.run([args.vitq, "-q", "quantize", MODEL, "--data", CALIB, "--calib-samples", calib_lines, "-o", out,
                               "--recipe", "i-vit", "--format", "integer", "--eval-samples", "2", "--threads", "2"],
                              capture_output=True, text=True)
        check(proc.returncode == 0, f"vitq quantize --recipe i-vit --format integer PP-OCRv4 rec {proc.stderr[-1500:]}")
        if proc.returncode != 0:
            return exit_code()
        integer_only(out, "ppocr-rec")
        got = ort_run(out, x, batch=CHUNK)
        compared = min(count, BITEXACT_LINES)
        mine = vitq_run(args.vitq, out, x[:compared], tmp, batch=CHUNK)
        same = got[:compared].shape == mine.shape and np.array_equal(got[:compared], mine)
        diff = int((got[:compared] != mine).sum()) if got[:compared].shape == mine.shape else -1
        check(same, f"ppocr-rec: ORT probabilities == vitq's, every element of {compared} lines ({diff} differ)")
        fp = ort_run(MODEL, x, batch=CHUNK)
        cer_fp, cer_int = cer_of(fp, labels) * 100, cer_of(got, labels) * 100
        if args.quick:  # 10 lines: one character is about 1 point, too coarse for the goal
            print(f"CER of the integer model {cer_int:.2f} % vs FP32 {cer_fp:.2f} % on {count} lines (not gated)")
            return exit_code()
        check(cer_int <= cer_fp + MAX_CER_RISE,
              f"ppocr-rec: CER of the integer model {cer_int:.2f} % vs FP32 {cer_fp:.2f} % on {count} lines "
              f"(allowed rise {MAX_CER_RISE})")
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
