#!/usr/bin/env python3
"""Determinism: for every recipe (and --budget, and the integer export), two `vitq quantize` runs
with the same inputs, seed and thread count write byte-identical models and identical reports
apart from timing. Across thread counts only the ViT (no Conv but its stem) is checked: the
executor's multi-threaded convolution sums in another order, so conv-heavy models quantized with
--threads 2 differ in the last bits from --threads 1 (a known limit, docs/cli.md).

The second run of each case replaces `--recipe NAME` by `--pipeline` with the pipeline text the
first run's report recorded: a run is reproduced from its report (the report's recipe name,
"custom" for a --pipeline, aside).

--quick (the sanitizer build): every case still runs twice and is compared byte for byte, on 8
calibration and 4 report samples instead of 32 and 8, and 5 reconstruction steps on 8 cached samples
instead of 20 on 16; the third run with --threads 2 is made for the cases of THREADED_QUICK only
(one per kind of step: range observers, learned rounding, the integer export, AWQ and GPTQ)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_checks import check, digest, exit_code  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(REPO, "data", "fashion_mnist", "calib_x.npy")
VIT = os.path.join(REPO, "tests", "data", "models", "fmnist_vit_op17.onnx")
HYBRID = os.path.join(REPO, "tests", "data", "models", "fmnist_hybrid_op17.onnx")
CASES = [
    (VIT, ["--recipe", "minmax"]),
    (VIT, ["--recipe", "mean-minmax", "--placement", "inputs", "--smooth-quant", "0.8"]),
    (VIT, ["--recipe", "percentile"]),
    (VIT, ["--recipe", "entropy"]),
    (VIT, ["--recipe", "mse", "--wbits", "6", "--abits", "6"]),
    (VIT, ["--recipe", "repq-vit", "--wbits", "4", "--abits", "4"]),
    (VIT, ["--recipe", "minmax+noisy", "--noise-seed", "3", "--wbits", "6", "--abits", "6"]),
    (HYBRID, ["--recipe", "q-hyvit", "--recon-iters", "20", "--recon-samples", "16", "--seed", "5"]),
    (VIT, ["--recipe", "repquant", "--wbits", "4", "--abits", "4", "--recon-iters", "20", "--recon-samples", "16",
           "--recon-drop", "0.5", "--recon-act-scales", "--seed", "5"]),
    (VIT, ["--recipe", "i-vit", "--format", "integer"]),
    (VIT, ["--recipe", "minmax", "--wbits", "4", "--weight-only", "--group-size", "32", "--asymmetric-weights",
           "--awq", "--gptq"]),
    (VIT, ["--recipe", "mse", "--wbits", "3", "--abits", "8", "--gptq"]),
    (VIT, ["--recipe", "minmax", "--wbits", "6", "--abits", "6", "--holdout", "32", "--budget", "top1_drop<=3"]),
]
TIMING = {"seconds", "output_model"}
# --quick: the cases (by index into CASES) also rerun with --threads 2.
THREADED_QUICK = {0, 8, 9, 10}
# --quick: the cases' reconstruction options take these values.
QUICK_RECON = {"--recon-iters": "5", "--recon-samples": "8"}


def without_timing(doc):
    if isinstance(doc, dict):
        return {k: without_timing(v) for k, v in doc.items() if k not in TIMING}
    if isinstance(doc, list):
        return [without_timing(v) for v in doc]
    return doc


def quick_args(args):
    """`args` with the values of the options in QUICK_RECON replaced."""
    return [QUICK_RECON[args[i - 1]] if i > 0 and args[i - 1] in QUICK_RECON else a for i, a in enumerate(args)]


def quantize(vitq, model, args, out, threads, samples):
    cmd = [vitq, "-q", "quantize", model, "--data", DATA, "--calib-samples", samples[0], "--eval-samples", samples[1],
           "--threads", str(threads), "-o", out, "--report", out[:-5] + ".json"] + args
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {proc.stderr}")
    with open(out[:-5] + ".json") as f:
        return digest(out), without_timing(json.load(f))


def with_recorded_pipeline(args, report):
    """`args` with --recipe NAME replaced by --pipeline and the text \p report recorded."""
    kept = [a for i, a in enumerate(args) if a != "--recipe" and (i == 0 or args[i - 1] != "--recipe")]
    return kept + ["--pipeline", report["recipe"]["pipeline"]]


def without_recipe_name(report):
    recipe = {k: v for k, v in report["recipe"].items() if k != "name"}
    return {**report, "recipe": recipe}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    parser.add_argument("--quick", action="store_true", help="fewer samples and steps (for the sanitizer build)")
    opts = parser.parse_args()
    vitq = opts.vitq
    samples = ("8", "4") if opts.quick else ("32", "8")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (model, args) in enumerate(CASES):
            args = quick_args(args) if opts.quick else args
            first = quantize(vitq, model, args, os.path.join(tmp, f"{i}_a.onnx"), 1, samples)
            second = quantize(vitq, model, with_recorded_pipeline(args, first[1]), os.path.join(tmp, f"{i}_b.onnx"),
                              1, samples)
            label = f"{os.path.basename(model)} {' '.join(args)}"
            check(second[1]["recipe"]["name"] == "custom", f"{label}: --pipeline runs are named custom")
            check(first[0] == second[0], f"{label}: same model bytes (rerun with the report's --pipeline)")
            check(without_recipe_name(first[1]) == without_recipe_name(second[1]),
                  f"{label}: same report apart from timing and the recipe's name")
            if model == VIT and "--budget" not in args and (not opts.quick or i in THREADED_QUICK):
                threaded = quantize(vitq, model, args, os.path.join(tmp, f"{i}_c.onnx"), 2, samples)
                check(threaded[0] == first[0], f"{label}: same model bytes with --threads 2")
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
