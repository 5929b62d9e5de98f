#!/usr/bin/env python3
"""Quantize models with vitq's recipes at several bit widths and score each exported model with
ONNX Runtime (scripts/eval/evaluate.py): the RepQ-ViT / NoisyQuant / baseline tables of
docs/benchmarks.md.

    recipe_table.py --vitq build/apps/vitq [--models fmnist-vit-op17,fmnist-hybrid-op17,ppocr-rec-c16]
                    [--bits W6A6,W4A4] [--variants minmax,mse,repq-ln,repq-softmax,repq-vit]
                    [--threads 1] [--out out/recipes] [--json results.json]

Each variant is one vitq command line (VARIANTS below); models and calibration data come from
scripts/bench/registry.py. Prints a Markdown table: the task metric of every model x bits x variant,
the FP32 metric, and the quantization time (vitq's wall time, calibration + export + report).
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import registry  # noqa: E402

VARIANTS = {
    "minmax": ["--recipe", "minmax"],
    "auto": ["--recipe", "auto"],
    "mse": ["--recipe", "mse"],
    "percentile": ["--recipe", "percentile"],
    "repq-ln": ["--recipe", "repq-vit", "--no-log-softmax"],
    "repq-softmax": ["--recipe", "repq-vit", "--no-ln-reparam"],
    "repq-vit": ["--recipe", "repq-vit"],
    "repq-vit-median": ["--recipe", "repq-vit", "--median-scale"],
    # RepQuant's learned per-channel dual clipping alone (no reconstruction), and the whole recipe.
    "repq-vit-dual": ["--recipe", "repq-vit", "--dual-clip"],
    "repquant": ["--recipe", "repquant"],
    "repquant-in-dw": ["--recipe", "repquant", "--placement", "inputs", "--depthwise-inputs", "per-channel"],
    # ... with the activation scales learned along with the rounding (LSQ, QDrop's joint optimization).
    "repquant-lsq": ["--recipe", "repquant", "--recon-act-scales"],
    "repquant-in-dw-lsq": ["--recipe", "repquant", "--placement", "inputs", "--depthwise-inputs", "per-channel",
                           "--recon-act-scales"],
    "q-hyvit": ["--recipe", "q-hyvit"],
    "minmax+noisy": ["--recipe", "minmax+noisy"],
    "mse+noisy": ["--recipe", "mse+noisy"],
    "repq-vit+noisy": ["--recipe", "repq-vit+noisy"],
    "minmax+bc": ["--recipe", "minmax", "--bias-correction"],
    "mean-minmax+bc": ["--recipe", "mean-minmax", "--bias-correction"],
    "inputs": ["--recipe", "minmax", "--placement", "inputs"],
    # NNCF's pipeline for transformers: input-only placement, per-sample mean ranges, SmoothQuant
    # 0.95, fast bias correction.
    "nncf-like": ["--recipe", "mean-minmax", "--placement", "inputs", "--smooth-quant", "0.95", "--bias-correction"],
    # Input-only placement with bias correction, depthwise inputs with one scale or per channel.
    "minmax-in": ["--recipe", "minmax", "--placement", "inputs", "--bias-correction"],
    "repq-vit-in": ["--recipe", "repq-vit", "--placement", "inputs", "--bias-correction", "--depthwise-inputs",
                    "per-tensor"],
    "repq-vit-in-dw": ["--recipe", "repq-vit", "--placement", "inputs", "--bias-correction", "--depthwise-inputs",
                       "per-channel"],
    "q-hyvit-in": ["--recipe", "q-hyvit", "--placement", "inputs", "--bias-correction"],
    "mse-in": ["--recipe", "mse", "--placement", "inputs"],
    # GPTQ rounding of the MatMul/Gemm weights on the recipe's grid (passes/ptq/gptq.h).
    "mse-gptq": ["--recipe", "mse", "--gptq"],
    "repq-vit-gptq": ["--recipe", "repq-vit", "--gptq"],
    "mse-gptq-float": ["--pipeline", "plan, calibrate{range=mse, weights=mse}, gptq{inputs=float}, materialize-qdq"],
    "minmax-gptq": ["--recipe", "minmax", "--gptq"],
    # Weight-only (language models): RTN and GPTQ, per output channel and in groups along the input.
    "rtn": ["--recipe", "minmax", "--weight-only"],
    "rtn-g128": ["--recipe", "minmax", "--weight-only", "--group-size", "128"],
    "rtn-g32": ["--recipe", "minmax", "--weight-only", "--group-size", "32"],
    "gptq": ["--recipe", "minmax", "--weight-only", "--gptq"],
    "gptq-g128": ["--recipe", "minmax", "--weight-only", "--group-size", "128", "--gptq"],
    "gptq-g32": ["--recipe", "minmax", "--weight-only", "--group-size", "32", "--gptq"],
    "rtn-g128-asym": ["--recipe", "minmax", "--weight-only", "--group-size", "128", "--asymmetric-weights"],
    "rtn-g32-asym": ["--recipe", "minmax", "--weight-only", "--group-size", "32", "--asymmetric-weights"],
    "gptq-g128-asym": ["--recipe", "minmax", "--weight-only", "--group-size", "128", "--gptq", "--asymmetric-weights"],
    "gptq-g32-asym": ["--recipe", "minmax", "--weight-only", "--group-size", "32", "--gptq", "--asymmetric-weights"],
    # AWQ scales before the plan (passes/ptq/awq.h), alone and before GPTQ.
    "awq-g128-asym": ["--recipe", "minmax", "--weight-only", "--group-size", "128", "--awq", "--asymmetric-weights"],
    "awq-g32-asym": ["--recipe", "minmax", "--weight-only", "--group-size", "32", "--awq", "--asymmetric-weights"],
    "awq-gptq-g128-asym": ["--recipe", "minmax", "--weight-only", "--group-size", "128", "--awq", "--gptq",
                           "--asymmetric-weights"],
    "awq-gptq-g32-asym": ["--recipe", "minmax", "--weight-only", "--group-size", "32", "--awq", "--gptq",
                          "--asymmetric-weights"],
    "awq-noclip-g32-asym": ["--pipeline", "awq{clip=none}, plan{weights-only, group-size=32, asymmetric-weights}, "
                            "calibrate, materialize-qdq{int4}"],
    "awq-noclip-g128-asym": ["--pipeline", "awq{clip=none}, plan{weights-only, group-size=128, asymmetric-weights}, "
                             "calibrate, materialize-qdq{int4}"],
    "awq-g128": ["--recipe", "minmax", "--weight-only", "--group-size", "128", "--awq"],
    "awq-g32": ["--recipe", "minmax", "--weight-only", "--group-size", "32", "--awq"],
    "encoder": ["--recipe", "mse", "--placement", "inputs", "--smooth-quant", "0.8"],
    "encoder-gptq": ["--recipe", "mse", "--placement", "inputs", "--smooth-quant", "0.8", "--gptq"],
    "repq-vit-gptq-act": ["--pipeline", "ln-reparam, plan{inputs-8bit}, log-softmax, calibrate{range=mse, weights=mse}, "
                          "gptq{act-order}, materialize-qdq"],
    # The same models with ONNX's 4-bit types (opset 21) where tensors have 4 bits or fewer.
    "repq-vit-int4": ["--recipe", "repq-vit", "--int4"],
    "repq-vit-in-dw-int4": ["--recipe", "repq-vit", "--placement", "inputs", "--bias-correction", "--depthwise-inputs",
                            "per-channel", "--int4"],
    # MiniLM's best W8A8 setting (docs/benchmarks.md, "Uniform W8A8").
    "inputs-sq0.8": ["--recipe", "minmax", "--placement", "inputs", "--smooth-quant", "0.8"],
}
METRIC = {"gloss-lm": ("perplexity", 1.0, "perplexity"), "fashion-mnist": ("top1", 100.0, "top-1 %"), "ppocr-rec": ("cer", 100.0, "CER %"),
          "ppocr-cls": ("accuracy", 100.0, "acc %"), "minilm": ("cosine_mean", 1.0, "cosine"),
          "ppocr-det": ("map_iou", 1.0, "map IoU vs FP32")}
# Tasks whose metric compares with the FP32 model's outputs (evaluate.py --reference).
AGAINST_FP32 = {"ppocr-det", "minilm"}


def evaluate(task, model, threads, reference):
    cmd = [sys.executable, registry.path("scripts/eval/evaluate.py"), "--task", task, "--model", model,
           "--threads", str(threads)]
    if task in AGAINST_FP32:
        cmd += ["--reference", reference]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"evaluate.py failed on {model}: {out.stderr[-2000:]}")
    data = json.loads(out.stdout[out.stdout.index("{"):])
    key, factor, _ = METRIC[task]
    return data["metrics"][key] * factor


def shown(task, value):
    """Percentages with 2 decimals, unit-scale metrics (cosine, IoU) with 4."""
    return f"{value:.2f}" if METRIC[task][1] == 100.0 else f"{value:.4f}"


def parse_bits(text):
    w, a = text.upper().lstrip("W").split("A")
    return int(w), int(a)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitq", default=registry.path("build/apps/vitq"))
    ap.add_argument("--models", default="fmnist-vit-op17,fmnist-hybrid-op17,ppocr-rec-c16")
    ap.add_argument("--bits", default="W6A6,W4A4")
    ap.add_argument("--variants", default="minmax,mse,repq-ln,repq-softmax,repq-vit")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--extra", default="", help="more vitq flags for every run (e.g. --reduce-range)")
    ap.add_argument("--out", default=registry.path("out/recipes"))
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    results = []
    for mid in args.models.split(","):
        entry = registry.BY_ID[mid]
        fp32_model = registry.path(entry["model"])
        fp32 = evaluate(entry["task"], fp32_model, args.threads, fp32_model)
        results.append(dict(model=mid, bits="FP32", variant="-", metric=fp32, seconds=0.0))
        print(f"{mid} FP32 {shown(entry['task'], fp32)}", flush=True)
        for bits in args.bits.split(","):
            wb, ab = parse_bits(bits)
            for variant in args.variants.split(","):
                dst = os.path.join(args.out, f"{mid}_{bits}_{variant}.onnx")
                cmd = [args.vitq, "-q", "quantize", registry.path(entry["model"]), "--data", registry.vitq_data(entry, args.out),
                       "-o", dst, "--wbits", str(wb), "--abits", str(ab), "--threads", str(args.threads),
                       "--report", dst[:-5] + ".json", "--no-guard"] + VARIANTS[variant]  # weak settings are table rows
                if entry.get("calib_limit"):
                    cmd += ["--calib-samples", str(entry["calib_limit"])]
                cmd += ["--eval-samples", "8"] + args.extra.split()
                t0 = time.time()
                proc = subprocess.run(cmd, capture_output=True, text=True)
                seconds = time.time() - t0
                if proc.returncode != 0:
                    print(f"{mid} {bits} {variant}: vitq failed: {proc.stderr[-1000:]}", file=sys.stderr)
                    continue
                metric = evaluate(entry["task"], dst, args.threads, fp32_model)
                results.append(dict(model=mid, bits=bits, variant=variant, metric=metric, seconds=seconds))
                print(f"{mid} {bits} {variant}: {shown(entry['task'], metric)} ({seconds:.1f} s)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    variants = args.variants.split(",")
    print("\n| model | metric | FP32 | bits | " + " | ".join(variants) + " |")
    print("|---|---|---|---|" + "---|" * len(variants))
    for mid in args.models.split(","):
        entry = registry.BY_ID[mid]
        fp32 = next(r["metric"] for r in results if r["model"] == mid and r["bits"] == "FP32")
        for bits in args.bits.split(","):
            cells = []
            for v in variants:
                r = next((r for r in results if r["model"] == mid and r["bits"] == bits and r["variant"] == v), None)
                cells.append(f"{shown(entry['task'], r['metric'])} ({r['seconds']:.0f} s)" if r else "failed")
            print(f"| {mid} | {METRIC[entry['task']][2]} | {shown(entry['task'], fp32)} | {bits} | " + " | ".join(cells) +
                  " |")


if __name__ == "__main__":
    main()
