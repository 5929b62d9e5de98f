#!/usr/bin/env python3
"""`vitq sensitivity` and `vitq quantize --budget` on the trained Fashion-MNIST ViT at W4A4.

Sensitivity: the ranking is ordered, its fully quantized metrics equal the report's, and the
"all but the top layer" measurement equals an independent `vitq quantize --exclude` of that layer;
two runs give the same report. Budget: the written model meets the budget on the held-out samples
in vitq and in ONNX Runtime, layers kept in float have float weights in the file, and the budget
fails when the most sensitive kept layer goes back to the base precision (the search kept no
layer it did not need).

--quick (the sanitizer build): the same checks on 32 calibration and 32 held-out samples."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_checks import check, exit_code, ort_run  # noqa: E402
from ort_cpu import vitq_weight_flags  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(REPO, "data", "fashion_mnist", "calib_x.npy")
MODEL = os.path.join(REPO, "tests", "data", "models", "fmnist_vit_op17.onnx")
BUDGET = 1.0  # points of top-1 disagreement with the float model
HOLDOUT = 128
COMMON = []


def set_samples(samples):
    """Calibration and held-out sample counts (both `samples`) for every vitq command."""
    global HOLDOUT, COMMON
    HOLDOUT = samples
    COMMON = ["--data", DATA, "--calib-samples", str(samples), "--holdout", str(samples), "--wbits", "4",
              "--abits", "4", "--recipe", "minmax", "--threads", "1"]


# W4A4 min/max models of the search are weak on purpose (the budget raises what it needs): the
# fidelity guard would stop the models below the budget, which this test inspects.
NO_GUARD = ["--no-guard"]


def vitq_json(vitq, args, report, expect=0):
    proc = subprocess.run([vitq, "-q"] + args + ["--report", report], capture_output=True, text=True)
    if proc.returncode != expect:
        raise RuntimeError(f"{' '.join(args)}: exit {proc.returncode}: {proc.stderr}")
    with open(report) as f:
        return json.load(f)


def db(value):
    """SQNR from a report: null stands for +inf (the output did not change)."""
    return float("inf") if value is None else value


def check_sensitivity(vitq, tmp):
    args = ["sensitivity", MODEL] + COMMON
    s1 = vitq_json(vitq, args, os.path.join(tmp, "s1.json"))
    s2 = vitq_json(vitq, args + ["--no-all-but", "--no-activations"], os.path.join(tmp, "s2.json"))
    sens = s1["sensitivity"]
    layers = sens["layers"]
    check(len(layers) == len(s1["layers"]) == 27, f"{len(layers)} layers ranked (27 compute layers)")
    only = [db(row["only_sqnr_db"]) for row in layers]
    check(only == sorted(only) and [r["rank"] for r in layers] == list(range(1, len(layers) + 1)),
          "layers ranked by the output SQNR with only them quantized, lowest first")
    acts = [db(row["only_sqnr_db"]) for row in sens["activations"]]
    check(len(acts) > 0 and acts == sorted(acts), f"{len(acts)} activation quantizers ranked")
    check(sens["samples"] == HOLDOUT, f"scored on the {HOLDOUT} held-out samples")
    check(abs(sens["all_quantized"]["sqnr_db"] - s1["summary"]["output_sqnr_db"]) < 0.01,
          f"all quantized: {sens['all_quantized']['sqnr_db']} dB = report {s1['summary']['output_sqnr_db']} dB")
    check(all(row["all_but_sqnr_db"] > sens["all_quantized"]["sqnr_db"] - 1.0 for row in layers),
          "keeping one layer float never costs more than 1 dB")
    strip = ("all_but_sqnr_db", "all_but_cosine", "all_but_top1_agreement")
    check([{k: v for k, v in row.items() if k not in strip} for row in layers] == s2["sensitivity"]["layers"] and
          s1["layers"] == s2["layers"], "a second run ranks the same with the same figures")
    top = layers[0]
    excluded = vitq_json(vitq, ["quantize", MODEL] + COMMON + NO_GUARD + ["-o", os.path.join(tmp, "excl.onnx"),
                                                               "--exclude", top["node"]],
                         os.path.join(tmp, "excl.json"))
    check(abs(excluded["summary"]["output_sqnr_db"] - top["all_but_sqnr_db"]) < 0.01,
          f"all but {top['node']}: {top['all_but_sqnr_db']} dB = quantize --exclude: "
          f"{excluded['summary']['output_sqnr_db']} dB")


def level_flags(kept):
    flags = []
    for k in kept:
        flags += ["--exclude", k["node"]] if k["to"] == "float" else ["--layer-bits", f"{k['node']}={k['layer_bits']}"]
    return flags


def check_budget(vitq, tmp):
    out = os.path.join(tmp, "budget.onnx")
    flags = vitq_weight_flags()
    r = vitq_json(vitq, ["quantize", MODEL] + COMMON + NO_GUARD + flags + ["-o", out, "--budget", f"top1_drop<={BUDGET}"],
                  os.path.join(tmp, "budget.json"))
    b = r["budget"]
    kept = b["kept"]
    check(b["baseline"]["budget_value"] > BUDGET, f"uniform W4A4 misses the budget: {b['baseline']['budget_value']:.2f} points")
    check(b["met"] and b["final"]["budget_value"] <= BUDGET,
          f"written model meets top1_drop<={BUDGET}: {b['final']['budget_value']:.2f} points, {len(kept)} layers kept")
    check(0 < len(kept) < 27, f"{len(kept)} of 27 layers above W4A4: " + ", ".join(f"{k['node']}->{k['to']}" for k in kept))

    x = np.load(DATA)[-HOLDOUT:]
    ref = ort_run(MODEL, x).argmax(1)
    got = ort_run(out, x).argmax(1)
    drop = 100.0 * float(np.mean(ref != got))
    check(drop <= BUDGET + 100.0 / HOLDOUT, f"ONNX Runtime: {drop:.2f} points of disagreement on the held-out samples")

    graph = onnx.load(out).graph
    produced_by = {o: n.op_type for n in graph.node for o in n.output}
    initializers = {i.name for i in graph.initializer}
    by_name = {n.name: n for n in graph.node}
    floats = [k["node"] for k in kept if k["to"] == "float"]
    check(all(by_name[n].input[1] in initializers and n not in produced_by for n in floats),
          f"the {len(floats)} float layers read float weights")

    check_report_command(vitq, tmp, out, x, ref, got)

    first = min(kept, key=lambda k: k["rank"])
    rest = [k for k in kept if k is not first]
    lowered = vitq_json(vitq, ["quantize", MODEL] + COMMON + NO_GUARD + flags + level_flags(rest) +
                        ["-o", os.path.join(tmp, "lowered.onnx")], os.path.join(tmp, "lowered.json"))
    lowered_drop = 100.0 * (1.0 - lowered["summary"]["top1_agreement"])
    check(lowered_drop > BUDGET,
          f"with {first['node']} back at W4A4 the budget fails: {lowered_drop:.2f} points")


def check_report_command(vitq, tmp, quantized, x, ref, got):
    """`vitq report` of the written model with labels: accuracies equal ONNX Runtime's, gates work."""
    labels = np.load(DATA.replace("calib_x", "calib_y"))[-HOLDOUT:]
    args = ["report", MODEL, quantized, "--data", DATA, "--labels", DATA.replace("calib_x", "calib_y"),
            "--holdout", str(HOLDOUT), "--threads", "1"]
    r = vitq_json(vitq, args, os.path.join(tmp, "report.json"))
    acc = r.get("accuracy", {})
    ort_float, ort_quant = float(np.mean(ref == labels)), float(np.mean(got == labels))
    check(acc.get("samples") == HOLDOUT and acc.get("float_top1") == ort_float,
          f"vitq report: float top-1 {acc.get('float_top1')} = ONNX Runtime {ort_float}")
    check(abs(acc.get("quantized_top1", -1) - ort_quant) <= 1.0 / HOLDOUT,
          f"vitq report: quantized top-1 {acc.get('quantized_top1')} ~ ONNX Runtime {ort_quant}")
    gated = subprocess.run([vitq, "-q"] + args + ["--fail-if", f"top1_drop>{r['summary']['top1_drop'] - 0.01}"],
                           capture_output=True, text=True)
    check(gated.returncode == 3 and "top1_drop" in gated.stderr, "--fail-if top1_drop trips with exit 3")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    parser.add_argument("--quick", action="store_true", help="32 samples each (for the sanitizer build)")
    args = parser.parse_args()
    vitq = args.vitq
    set_samples(32 if args.quick else 128)
    with tempfile.TemporaryDirectory() as tmp:
        check_sensitivity(vitq, tmp)
        check_budget(vitq, tmp)
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
