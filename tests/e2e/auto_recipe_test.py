#!/usr/bin/env python3
"""`vitq quantize --recipe auto`: the candidates are tried on three quarters of the calibration
samples and judged on the rest; the written model is the chosen candidate's, quantized with all of
them.

1. The Fashion ViT (32 calibration samples: 24 fit, 8 judge): the report's `auto` section lists the
   8 candidates (minmax, repq-vit, mse, percentile x placement integer, inputs) and then the best of
   them with --smooth-quant 0.5 and 0.8, each with an output SQNR and the forecast share of layers
   ONNX Runtime runs in float; the chosen one has the highest SQNR (the earlier on a tie) unless one
   with 10 points fewer float layers scores within 1 dB of it or at least 40 dB (--target ort-cpu,
   the default), and the report then names the one passed over; with the inputs placement, the
   placement search's requantized layers stay within its tolerance; the report's recipe is the chosen one; and `--recipe <chosen> --placement
   <chosen> [--smooth-quant <chosen>] [--requantize NODE ...]` writes the same bytes as the auto run.
2. A two-Conv CNN written here (no LayerNorm, no Softmax): repq-vit is not a candidate; with
   `--placement inputs` given, only that placement is tried; with `--smooth-quant` given, no
   smoothing strength is tried; with `--target ort-cpu` and `portable` the choice follows the rule.
3. `--auto-budget 0.001`: the first candidate runs, the others are skipped naming the budget, and
   the first is chosen.
4. Refusals, exit 2 with the reason: `--recipe auto --weight-only`, `--auto-budget` with another
   recipe, `--auto-budget soon`, `--target` with another recipe.
5. auto is the default: the CNN quantized without --recipe has the `auto` section and the chosen
   recipe; with `--reconstruct all` the candidates' pipelines have no reconstruction step and the
   written model's has (it runs once, on the chosen one); with `--budget` and no --recipe the
   recipe is minmax and nothing is tried. The hybrid with `--depthwise-inputs per-channel`: the
   inputs-placement candidates all score (per-channel ranges are observed, not shared per tensor).

--quick (the sanitizer build): 8 calibration samples in case 1 (6 fit, 2 judge).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_checks import check, exit_code  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(REPO, "data", "fashion_mnist", "calib_x.npy")
VIT = os.path.join(REPO, "tests", "data", "models", "fmnist_vit_op17.onnx")
HYBRID = os.path.join(REPO, "tests", "data", "models", "fmnist_hybrid_op13.onnx")


def quantize(vitq, model, data, out, *flags):
    return subprocess.run([vitq, "-q", "quantize", model, "--data", data, "-o", out, "--report", out + ".json",
                           "--eval-samples", "4", *flags], capture_output=True, text=True)


def cnn(path, data_path):
    rng = np.random.default_rng(3)
    w1 = numpy_helper.from_array((rng.standard_normal((8, 1, 3, 3)) * 0.5).astype(np.float32), "w1")
    w2 = numpy_helper.from_array((rng.standard_normal((4, 8, 3, 3)) * 0.3).astype(np.float32), "w2")
    nodes = [helper.make_node("Conv", ["x", "w1"], ["h"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "w2"], ["y"], name="conv2", pads=[1, 1, 1, 1])]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 12, 12])], [w1, w2])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), path)
    np.save(data_path, rng.standard_normal((12, 1, 12, 12)).astype(np.float32))


def expected_choice(candidates, target="ort-cpu"):
    """The index auto must choose among scored candidates: the best held-out SQNR (the earlier on a tie,
    to 0.001 dB); with --target ort-cpu, the best of those that ONNX Runtime runs with at least 10 points
    fewer float layers (the report's forecast) and that score within 1 dB of it or at least 40 dB."""
    score = [round(c["output_sqnr_db"], 3) for c in candidates]
    share = [c["ort_cpu_float_layer_share"] for c in candidates]
    best = max(range(len(score)), key=lambda i: (score[i], -i))
    if target != "ort-cpu":
        return best
    faster = [i for i in range(len(score)) if share[i] <= share[best] - 0.1 + 1e-9
              and (candidates[i]["output_sqnr_db"] >= candidates[best]["output_sqnr_db"] - 1.0
                   or candidates[i]["output_sqnr_db"] >= 40.0)]
    return max(faster, key=lambda i: (score[i], -i)) if faster else best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vitq", required=True)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    samples = 8 if args.quick else 32
    with tempfile.TemporaryDirectory() as tmp:
        auto = os.path.join(tmp, "auto.onnx")
        proc = quantize(args.vitq, VIT, DATA, auto, "--recipe", "auto", "--calib-samples", str(samples))
        check(proc.returncode == 0, f"--recipe auto on the Fashion ViT exits 0 ({proc.stderr.strip()[-300:]})")
        if proc.returncode != 0:
            return exit_code()
        report = json.load(open(auto + ".json"))
        a = report["auto"]
        tried = [(c["recipe"], c["placement"], c.get("smooth_quant")) for c in a["candidates"]]
        grid = [(r, p, None) for r in ("minmax", "repq-vit", "mse", "percentile") for p in ("integer", "inputs")]
        check(tried[:8] == grid, f"8 candidates in order (got {tried[:8]})")
        scores = [c.get("output_sqnr_db") for c in a["candidates"]]
        check(all(isinstance(s, (int, float)) for s in scores), f"every candidate scored ({scores})")
        check(all(0 <= c.get("ort_cpu_float_layer_share", -1) <= 1 for c in a["candidates"]),
              "every candidate has its forecast share of layers ONNX Runtime runs in float")
        first = expected_choice(a["candidates"][:8])
        check(tried[8:] == [grid[first][:2] + (0.5,), grid[first][:2] + (0.8,)],
              f"then the best of them, {grid[first][:2]}, with --smooth-quant 0.5 and 0.8 (got {tried[8:]})")
        fit = samples - samples // 4
        check((a["fit_samples"], a["judge_samples"]) == (fit, samples - fit),
              f"{fit} fit and {samples - fit} judge samples (got {a['fit_samples']}, {a['judge_samples']})")
        best = expected_choice(a["candidates"])
        chosen = (a["chosen"]["recipe"], a["chosen"]["placement"], a["chosen"].get("smooth_quant"))
        check(chosen == tried[best], f"the chosen {chosen} is the best held-out SQNR {scores[best]} of {scores}, "
                                     f"weighed with ONNX Runtime's float layers")
        accurate = expected_choice(a["candidates"], "portable")
        check(a["chosen"].get("for_speed_over", {}).get("output_sqnr_db") ==
              (None if best == accurate else round(scores[accurate], 3)),
              f"the report names the more accurate candidate where speed decided ({a['chosen']})")
        check(report["recipe"]["name"] == chosen[0] and report["recipe"]["placement"] == chosen[1],
              "the report's recipe is the chosen one")
        direct = os.path.join(tmp, "direct.onnx")
        smooth = ["--smooth-quant", str(chosen[2])] if chosen[2] is not None else []
        requantize = [f for name in a["chosen"].get("requantize", []) for f in ("--requantize", name)]
        if chosen[1] == "inputs":
            search = a.get("placement_search", {})
            check(search.get("requantized") == len(requantize) and
                  search.get("final_sqnr_db", -1e9) >= search.get("baseline_sqnr_db", 0) - search.get("tolerance_db", 0),
                  f"the placement search requantized {search.get('requantized')} of {search.get('candidates')} float "
                  f"layers within its tolerance ({ {k: v for k, v in search.items() if k != 'layers'} })")
        proc = quantize(args.vitq, VIT, DATA, direct, "--recipe", chosen[0], "--placement", chosen[1], *smooth,
                        *requantize, "--calib-samples", str(samples))
        check(proc.returncode == 0 and open(direct, "rb").read() == open(auto, "rb").read(),
              f"--recipe {chosen[0]} --placement {chosen[1]} {' '.join(smooth + requantize)} writes the auto run's bytes")
        print(f"Fashion ViT: chose {chosen}; held-out output SQNR per candidate {dict(zip(map(str, tried), scores))}")

        net, net_data = os.path.join(tmp, "cnn.onnx"), os.path.join(tmp, "cnn_x.npy")
        cnn(net, net_data)
        proc = quantize(args.vitq, net, net_data, os.path.join(tmp, "cnn_q.onnx"), "--recipe", "auto",
                        "--placement", "inputs", "--smooth-quant", "0.5")
        ok = proc.returncode == 0
        check(ok, f"--recipe auto on a CNN exits 0 ({proc.stderr.strip()[-300:]})")
        if ok:
            tried = [(c["recipe"], c["placement"]) for c in json.load(open(os.path.join(tmp, "cnn_q.onnx.json")))["auto"]["candidates"]]
            check(tried == [("minmax", "inputs"), ("mse", "inputs"), ("percentile", "inputs")],
                  f"a CNN with --placement inputs --smooth-quant 0.5: no repq-vit, the given placement only, no "
                  f"smoothing strengths (got {tried})")

        for target in ("ort-cpu", "portable"):
            out = os.path.join(tmp, f"cnn_{target}.onnx")
            proc = quantize(args.vitq, net, net_data, out, "--target", target)
            check(proc.returncode == 0, f"the CNN with --target {target} exits 0 ({proc.stderr.strip()[-300:]})")
            if proc.returncode == 0:
                a = json.load(open(out + ".json"))["auto"]
                scored = [c for c in a["candidates"] if "output_sqnr_db" in c]
                want = scored[expected_choice(scored, target)]
                check((a["target"], a["chosen"]["recipe"], a["chosen"]["placement"]) ==
                      (target, want["recipe"], want["placement"]),
                      f"the CNN with --target {target}: chose {a['chosen']} by the rule "
                      f"(SQNR and float share per candidate: "
                      f"{[(c['output_sqnr_db'], c['ort_cpu_float_layer_share']) for c in scored]})")

        quick = os.path.join(tmp, "quick.onnx")
        proc = quantize(args.vitq, VIT, DATA, quick, "--recipe", "auto", "--calib-samples", "8", "--auto-budget", "0.001")
        ok = proc.returncode == 0
        check(ok, f"--auto-budget 0.001 exits 0 ({proc.stderr.strip()[-300:]})")
        if ok:
            a = json.load(open(quick + ".json"))["auto"]
            rest = a["candidates"][1:]
            check("output_sqnr_db" in a["candidates"][0] and all("over --auto-budget 0.001" in c.get("skipped", "")
                                                                 for c in rest),
                  "a tiny budget runs the first candidate and skips the rest naming the budget")
            check((a["chosen"]["recipe"], a["chosen"]["placement"]) == ("minmax", "integer"), "and chooses the first")

        for flags, message in ((["--recipe", "auto", "--weight-only"], "--recipe auto cannot take --weight-only"),
                               (["--recipe", "minmax", "--auto-budget", "5m"],
                                "--auto-budget is the time --recipe auto spends"),
                               (["--recipe", "minmax", "--target", "portable"],
                                "--target weighs the runtime's speed in --recipe auto's choice"),
                               (["--recipe", "auto", "--auto-budget", "soon"], "--auto-budget takes seconds or minutes")):
            proc = quantize(args.vitq, VIT, DATA, os.path.join(tmp, "refused.onnx"), *flags)
            check(proc.returncode == 2 and message in proc.stderr,
                  f"{' '.join(flags)}: exit 2 saying '{message}' (got {proc.returncode}: {proc.stderr.strip()[-200:]})")
            check(not os.path.exists(os.path.join(tmp, "refused.onnx")), "and writes nothing")

        default = os.path.join(tmp, "default.onnx")
        proc = quantize(args.vitq, net, net_data, default, "--reconstruct", "all", "--recon-iters", "20")
        ok = proc.returncode == 0
        check(ok, f"no --recipe, --reconstruct all on the CNN exits 0 ({proc.stderr.strip()[-300:]})")
        if ok:
            report = json.load(open(default + ".json"))
            a = report.get("auto", {})
            pipelines = [c.get("pipeline", "") for c in a.get("candidates", [])]
            check(len(pipelines) == 8 and report["recipe"]["name"] == a["chosen"]["recipe"],
                  f"the default is auto: 8 candidates tried, the report's recipe is the chosen {a.get('chosen')}")
            check(all(p and "reconstruction" not in p for p in pipelines),
                  f"no candidate reconstructs ({pipelines[:2]} ...)")
            check("sequential-reconstruction" in report["recipe"]["pipeline"],
                  f"the chosen one does ({report['recipe']['pipeline']})")
            check("(chosen by auto, placement " in proc.stdout, "stdout says auto chose the recipe")
        # Per-channel depthwise inputs: every inputs-placement candidate runs (none may read the shared
        # per-tensor statistics), the integer ones are skipped with the reason.
        hybrid = os.path.join(tmp, "hybrid.onnx")
        proc = quantize(args.vitq, HYBRID, DATA, hybrid, "--depthwise-inputs", "per-channel", "--calib-samples",
                        "8" if args.quick else "16")
        ok = proc.returncode == 0
        check(ok, f"no --recipe, --depthwise-inputs per-channel on the hybrid exits 0 ({proc.stderr.strip()[-300:]})")
        if ok:
            rows = json.load(open(hybrid + ".json"))["auto"]["candidates"]
            scored = [(c["recipe"], c["placement"]) for c in rows if "output_sqnr_db" in c and "smooth_quant" not in c]
            skipped = [c["placement"] for c in rows if "skipped" in c]
            check(scored == [(r, "inputs") for r in ("minmax", "repq-vit", "mse", "percentile")]
                  and skipped == ["integer"] * 4 and not any("failed" in c for c in rows),
                  f"the four inputs-placement candidates scored, the integer ones skipped (scored {scored})")
        # The hybrid by default: the placement search requantizes some Convs; --requantize with the
        # report's names reproduces the bytes, and ONNX Runtime's forecast runs them as QLinearConv.
        default = os.path.join(tmp, "hybrid_default.onnx")
        proc = quantize(args.vitq, HYBRID, DATA, default, "--calib-samples", "8" if args.quick else "16")
        check(proc.returncode == 0, f"no --recipe on the hybrid exits 0 ({proc.stderr.strip()[-300:]})")
        if proc.returncode == 0:
            report = json.load(open(default + ".json"))
            a = report["auto"]
            names = a["chosen"].get("requantize", [])
            print(f"hybrid: chose {a['chosen']}; placement search "
                  f"{ {k: v for k, v in a.get('placement_search', {}).items() if k != 'layers'} }")
            if a["chosen"]["placement"] == "inputs" and names:
                flags = ["--recipe", a["chosen"]["recipe"], "--placement", "inputs"]
                flags += ["--smooth-quant", str(a["chosen"]["smooth_quant"])] if "smooth_quant" in a["chosen"] else []
                flags += [f for n in names for f in ("--requantize", n)]
                direct = os.path.join(tmp, "hybrid_direct.onnx")
                proc = quantize(args.vitq, HYBRID, DATA, direct, *flags, "--calib-samples", "8" if args.quick else "16")
                check(proc.returncode == 0 and open(direct, "rb").read() == open(default, "rb").read(),
                      f"{' '.join(flags)} writes the auto run's bytes")
                fused = json.load(open(direct + ".json"))["ort_cpu"]
                still_float = {layer["node"] for layer in fused["float_layers_largest"]}
                check(len(still_float) < 10 and not still_float & set(names),
                      f"no requantized layer is among the forecast's float layers ({sorted(still_float)})")
        budget = os.path.join(tmp, "budget.onnx")
        proc = quantize(args.vitq, net, net_data, budget, "--budget", "sqnr_db>=10")
        ok = proc.returncode == 0
        check(ok, f"no --recipe, --budget exits 0 ({proc.stderr.strip()[-300:]})")
        if ok:
            report = json.load(open(budget + ".json"))
            check(report["recipe"]["name"] == "minmax" and "auto" not in report,
                  f"with --budget the default is minmax, nothing tried (recipe {report['recipe']['name']})")
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
