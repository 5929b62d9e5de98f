#!/usr/bin/env python3
"""Mixed precision under an accuracy budget against uniform precision and a hand-picked exclusion
list (docs/benchmarks.md "Sensitivity and budgets").

    budget_table.py --vitq build/apps/vitq [--models fmnist-vit-op17,fmnist-hybrid-op17,ppocr-rec-c16]
                    [--bits W6A6,W4A4] [--recipe repq-vit] [--out out/budget] [--json results.json]

For every model and bit width, three vitq runs with the same calibration samples: uniform
precision; the hand choice (LayerNorm, Softmax and residual adds are float in every vitq run, as
ONNX Runtime advises; the hand list adds the first and the last compute layer, the usual advice for
CNNs and ViTs); and `--budget` searched on held-out samples. Each model is scored by ONNX Runtime
on the full evaluation set (scripts/eval/evaluate.py). Prints the table and the sensitivity
ranking's head.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import registry  # noqa: E402
from recipe_table import METRIC, evaluate, parse_bits  # noqa: E402

# Per model: held-out samples for the search, and the budget (on the agreement with FP32).
SEARCH = {"fashion-mnist": (256, "top1_drop<=0.5"), "ppocr-rec": (16, "top1_drop<=1")}


def quantize(args, entry, bits, dst, extra):
    wb, ab = parse_bits(bits)
    holdout, _ = SEARCH[entry["task"]]
    cmd = [args.vitq, "-q", "quantize", registry.path(entry["model"]), "--data", registry.path(entry["calib"]),
           "-o", dst, "--report", dst[:-5] + ".json", "--wbits", str(wb), "--abits", str(ab),
           "--recipe", args.recipe, "--threads", str(args.threads), "--holdout", str(holdout), "--reduce-range",
           "--no-guard"]  # tables score weak settings too
    if entry.get("calib_limit"):
        cmd += ["--calib-samples", str(entry["calib_limit"])]
    t0 = time.time()
    proc = subprocess.run(cmd + extra, capture_output=True, text=True)
    seconds = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"vitq failed ({' '.join(cmd + extra)}): {proc.stderr[-1500:]}")
    with open(dst[:-5] + ".json") as f:
        return json.load(f), seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitq", default=registry.path("build/apps/vitq"))
    ap.add_argument("--models", default="fmnist-vit-op17,fmnist-hybrid-op17,ppocr-rec-c16")
    ap.add_argument("--bits", default="W6A6,W4A4")
    ap.add_argument("--recipe", default="repq-vit")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=registry.path("out/budget"))
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows, rankings = [], []
    for mid in args.models.split(","):
        entry = registry.BY_ID[mid]
        fp32 = evaluate(entry["task"], registry.path(entry["model"]), args.threads)
        for bits in args.bits.split(","):
            base = os.path.join(args.out, f"{mid}_{bits}")
            uniform, t_uniform = quantize(args, entry, bits, base + "_uniform.onnx", [])
            first, last = uniform["layers"][0]["node"], uniform["layers"][-1]["node"]
            _, t_hand = quantize(args, entry, bits, base + "_hand.onnx", ["--exclude", first, "--exclude", last])
            budget_text = SEARCH[entry["task"]][1]
            budget, t_budget = quantize(args, entry, bits, base + "_budget.onnx", ["--budget", budget_text])
            b = budget["budget"]
            kept = b["kept"]
            row = dict(model=mid, bits=bits, fp32=fp32, budget=budget_text,
                       uniform=evaluate(entry["task"], base + "_uniform.onnx", args.threads),
                       hand=evaluate(entry["task"], base + "_hand.onnx", args.threads),
                       mixed=evaluate(entry["task"], base + "_budget.onnx", args.threads),
                       hand_layers=[first, last], kept=kept, met=b["met"],
                       baseline_value=b["baseline"]["budget_value"], final_value=b["final"]["budget_value"],
                       evaluations=b["evaluations"], search_seconds=b["seconds"],
                       seconds=dict(uniform=t_uniform, hand=t_hand, budget=t_budget))
            rows.append(row)
            rankings.append((mid, bits, budget["sensitivity"]["layers"][:5]))
            print(json.dumps({k: v for k, v in row.items() if k != "kept"}), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(rows=rows, rankings=rankings), f, indent=1)
    print("\n| model | bits | metric | FP32 | uniform | hand: first+last float | budget | budget result "
          "| layers kept (float / raised) | search |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        floats = sum(1 for k in r["kept"] if k["to"] == "float")
        label = METRIC[registry.BY_ID[r["model"]]["task"]][2]
        print(f"| {r['model']} | {r['bits']} | {label} | {r['fp32']:.2f} | {r['uniform']:.2f} | {r['hand']:.2f} "
              f"| {r['budget']} | {r['mixed']:.2f} (search {r['baseline_value']:.2f} -> {r['final_value']:.2f}) "
              f"| {len(r['kept'])} ({floats} / {len(r['kept']) - floats}) "
              f"| {r['evaluations']} runs, {r['search_seconds']:.0f} s |")
    print("\nSensitivity ranking (output SQNR with only the layer quantized):")
    for mid, bits, top in rankings:
        print(f"- {mid} {bits}: " + ", ".join(f"{t['node']} ({t['op']}, {t['only_sqnr_db']} dB)" for t in top))


if __name__ == "__main__":
    main()
