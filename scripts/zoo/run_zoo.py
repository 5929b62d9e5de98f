#!/usr/bin/env python3
"""Quantizes every model of the zoo corpus (make_zoo.py) with vitq and checks the result in ONNX Runtime.

    run_zoo.py [--vitq build/apps/vitq/vitq] [--zoo models/zoo] [--only NAME_GLOB] [--json OUT.json]

For each manifest entry, W8A8 with the default recipe (``auto``: the row names the recipe and placement
it chose), and also with ``--recipe repq-vit`` where the model has LayerNorms or attention:

    vitq quantize MODEL --data SAMPLES --holdout H -o OUT --report R.json --threads 1

(``--holdout``: calibration on the ``calib_*`` samples, vitq's report on the ``holdout_*`` ones, the
very samples ONNX Runtime is scored on below). Then, on exit 0, the FP32 and the quantized model run
in ONNX Runtime on the held-out samples, once with the default graph optimizations (integer kernels)
and once with none (ORT_DISABLE_ALL: Q/DQ computed as written); the cosine of each output against
FP32 (over all elements, as vitq's report computes it) and, for classifiers, the top-1 agreement.
``vitq run`` of the FP32 model on the first held-out sample must match ONNX Runtime within 1e-4
(max |diff| / max |reference|).

Status: ``green`` (exit 0, cosine >= 0.99 in both sessions, vitq run within 1e-4); ``refused``
(exit 2, the message recorded); ``BROKEN`` (exit 0 but a cosine below 0.99, a model ONNX Runtime
cannot run, vitq run off, or vitq's report claiming a cosine more than 0.02 above ONNX Runtime's);
``guard`` (exit 3: vitq's fidelity guard found its own model broken; the model it wrote for
inspection is scored like the others); ``crash`` (any other exit code, or a timeout).

"sim cos" is an independent W8A8 min/max simulation of the same model (``reference_w8a8``): where it
stays below 0.99 too, the model rather than vitq is the likely cause of a low cosine.

Prints a Markdown table; ``--json`` writes the rows.
"""
import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COSINE_MIN = 0.99
CLAIM_MARGIN = 0.02
RUN_TOLERANCE = 1e-4


def load_manifest(zoo):
    with open(os.path.join(zoo, "manifest.json")) as f:
        return json.load(f)["models"]


def sample_names(zoo, entry, split="holdout"):
    """The names (files or folders) of the `split` samples ("calib" or "holdout") in file-name order."""
    folder = os.path.join(zoo, entry["samples"])
    return sorted(n for n in os.listdir(folder) if n.startswith(split + "_"))


def sample_feed(zoo, entry, name):
    """{input name: array} of one sample, as make_zoo.py wrote it."""
    path = os.path.join(zoo, entry["samples"], name)
    if len(entry["inputs"]) == 1:
        return {entry["inputs"][0]["name"]: np.load(path)}
    return {i["name"]: np.load(os.path.join(path, i["name"] + ".npy")) for i in entry["inputs"]}


def ort_outputs(model, feeds, optimize):
    """The outputs of `model` (a path or serialized bytes) for each sample (a list per sample), or the
    error as a string."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3  # keep_initializers_as_inputs models warn once per weight
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        return [s.run(None, feed) for feed in feeds]
    except Exception as e:  # noqa: BLE001 - ONNX Runtime raises several exception types
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300]}"


def cosine(ref, q):
    """Over all elements of all samples, as vitq's report computes it."""
    r = np.concatenate([x.astype(np.float64).ravel() for x in ref])
    q = np.concatenate([x.astype(np.float64).ravel() for x in q])
    nr, nq = np.dot(r, r), np.dot(q, q)
    if nr == 0 or nq == 0:
        return 1.0 if nr == nq else 0.0
    return float(np.dot(r, q) / np.sqrt(nr * nq))


def top1(ref, q):
    """Argmax agreement over the last dim, per row of every sample."""
    r = np.concatenate([x.reshape(-1, x.shape[-1]) for x in ref])
    q = np.concatenate([x.reshape(-1, x.shape[-1]) for x in q])
    return float((r.argmax(1) == q.argmax(1)).mean())


def reference_w8a8(path, calib, holdout, fp32):
    """The output cosine (worst output, held-out samples, against `fp32`) of an independent W8A8
    min/max simulation: per-channel symmetric int8 weights (initializers only), QuantizeLinear /
    DequantizeLinear pairs on the float inputs and outputs of every Conv, ConvTranspose, Gemm and
    MatMul with per-tensor uint8 ranges from the calibration samples, run by ONNX Runtime without
    optimizations. It tells a model that W8A8 min/max cannot hold from a vitq defect."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    m = onnx.load(path)
    g = m.graph
    init = {t.name: t for t in g.initializer}
    acts = []
    for n in g.node:
        if n.op_type not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
            continue
        acts += [x for x in list(n.input[:2]) + [n.output[0]] if x and x not in init and x not in acts]
        if n.input[1] in init:
            w = numpy_helper.to_array(init[n.input[1]]).astype(np.float32)
            trans_b = any(a.name == "transB" and a.i for a in n.attribute)
            axis = {"Conv": 0, "ConvTranspose": 1}.get(n.op_type, 0 if trans_b else w.ndim - 1)
            rest = tuple(i for i in range(w.ndim) if i != axis)
            scale = np.maximum(np.abs(w).max(axis=rest, keepdims=True), 1e-30) / 127
            init[n.input[1]].CopyFrom(numpy_helper.from_array(
                (np.clip(np.round(w / scale), -127, 127) * scale).astype(np.float32), n.input[1]))
    inputs = set(calib[0])
    probe = onnx.ModelProto()
    probe.CopyFrom(m)
    del probe.graph.output[:]
    probe.graph.output.extend(helper.make_tensor_value_info(a, TensorProto.FLOAT, None)
                              for a in acts if a not in inputs)
    seen = ort_outputs(probe.SerializeToString(), calib, False)
    if isinstance(seen, str):
        return None
    values = {a: [f[a] for f in calib] for a in acts if a in inputs}
    values.update({a: [r[k] for r in seen] for k, a in enumerate(a for a in acts if a not in inputs)})
    quantizers = {}
    for a in acts:
        lo, hi = min(0.0, min(float(v.min()) for v in values[a])), max(0.0, max(float(v.max()) for v in values[a]))
        scale = max(hi - lo, 1e-30) / 255
        g.initializer.extend([numpy_helper.from_array(np.array(scale, np.float32), a + "/ref_scale"),
                              numpy_helper.from_array(np.array(round(-lo / scale), np.uint8), a + "/ref_zero")])
        quantizers[a] = [helper.make_node("QuantizeLinear", [a, a + "/ref_scale", a + "/ref_zero"], [a + "/ref_q"]),
                         helper.make_node("DequantizeLinear", [a + "/ref_q", a + "/ref_scale", a + "/ref_zero"],
                                          [a + "/ref_dq"])]
    nodes = [q for a in acts if a in inputs for q in quantizers[a]]
    for n in g.node:
        for k, x in enumerate(n.input):
            if x in quantizers:
                n.input[k] = x + "/ref_dq"
        nodes += [n] + [q for y in n.output if y in quantizers for q in quantizers[y]]
    del g.node[:]
    g.node.extend(nodes)
    q = ort_outputs(m.SerializeToString(), holdout, False)
    if isinstance(q, str):
        return None
    return min(cosine([r[j] for r in fp32], [o[j] for o in q]) for j in range(len(fp32[0])))


def last_line(text):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def vitq_run_check(vitq, zoo, entry, first, reference, work):
    """`vitq run` of the FP32 model on the first held-out sample against `reference`, ONNX Runtime's
    outputs for it: (max |diff| / max |ref|, error)."""
    out_dir = os.path.join(work, entry["name"] + ".run")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    folder = os.path.join(zoo, entry["samples"], first)
    if len(entry["inputs"]) == 1:
        inputs = [f"{entry['inputs'][0]['name']}={folder}"]
    else:
        inputs = [f"{i['name']}={os.path.join(folder, i['name'] + '.npy')}" for i in entry["inputs"]]
    cmd = [vitq, "-q", "run", os.path.join(zoo, entry["file"]), "--output-dir", out_dir, "--threads", "1"]
    for i in inputs:
        cmd += ["--input", i]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, f"vitq run exit {proc.returncode}: {last_line(proc.stderr)}"
    worst = 0.0
    for name, ref in zip(entry["outputs"], reference):
        path = os.path.join(out_dir, name + ".npy")
        if not os.path.exists(path):
            return None, f"vitq run wrote no {name}.npy"
        got = np.load(path)
        if got.shape != ref.shape:
            return None, f"vitq run: {name} has shape {got.shape}, ONNX Runtime {ref.shape}"
        worst = max(worst, float(np.abs(got - ref).max() / max(float(np.abs(ref).max()), 1e-30)))
    return worst, ""


def quantize_command(vitq, zoo, entry, recipe, out, report, threads):
    cmd = [vitq, "quantize", os.path.join(zoo, entry["file"]), "--data", os.path.join(zoo, entry["samples"]),
           "--holdout", str(entry["holdout_samples"]), "-o", out, "--report", report, "--threads", str(threads)]
    return cmd + ([] if recipe == "default" else ["--recipe", recipe])


def run_entry(vitq, zoo, entry, work, threads=1, timeout=900, extra_recipes=()):
    """One row per recipe for a manifest entry (the default, repq-vit where there is attention, and
    extra_recipes, e.g. minmax)."""
    model = os.path.join(zoo, entry["file"])
    names = sample_names(zoo, entry)
    feeds = [sample_feed(zoo, entry, n) for n in names]
    fp32 = {opt: ort_outputs(model, feeds, opt) for opt in (True, False)}
    reference = None
    if isinstance(fp32[False], str):
        run_diff, run_error = None, f"ONNX Runtime cannot run the FP32 model: {fp32[False]}"
    else:
        run_diff, run_error = vitq_run_check(vitq, zoo, entry, names[0], fp32[False][0], work)
        calib = [sample_feed(zoo, entry, n) for n in sample_names(zoo, entry, "calib")]
        reference = reference_w8a8(model, calib, feeds, fp32[False])
    recipes = ["default"] + (["repq-vit"] if entry["attention"] else []) + list(extra_recipes)
    rows = []
    for recipe in recipes:
        stem = os.path.join(work, f"{entry['name']}.{recipe}")
        cmd = quantize_command(vitq, zoo, entry, recipe, stem + ".onnx", stem + ".json", threads)
        row = {"name": entry["name"], "model": entry["model"], "style": entry["style"], "recipe": recipe,
               "command": " ".join(cmd), "exit": None, "stderr": "", "seconds": None, "ort_cosine_opt": None,
               "ort_cosine_noopt": None, "vitq_cosine": None, "top1_agreement": None, "vitq_run_rel_diff": run_diff,
               "reference_cosine": reference, "status": "", "reason": ""}
        t0 = time.time()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            row["exit"], row["stderr"] = proc.returncode, last_line(proc.stderr)
        except subprocess.TimeoutExpired:
            row["exit"], row["stderr"] = "timeout", f"timed out after {timeout} s"
        row["seconds"] = round(time.time() - t0, 1)
        if row["exit"] == 2:
            row["status"], row["reason"] = "refused", row["stderr"]
        elif row["exit"] == 3 and os.path.exists(stem + ".onnx"):
            # the fidelity guard: vitq wrote the model for inspection and says it is broken
            judge(row, entry, fp32, feeds, stem, run_error)
            row["status"] = "guard"
            row["reason"] = "; ".join(x for x in (row["stderr"].split("; most damaged")[0], row["reason"]) if x)
        elif row["exit"] != 0:
            row["status"], row["reason"] = "crash", row["stderr"]
        else:
            judge(row, entry, fp32, feeds, stem, run_error)
        if row["status"] != "green" and reference is not None and reference < COSINE_MIN:
            row["reason"] += f" (the independent W8A8 simulation gets {reference:.4f} too)"
        rows.append(row)
    return rows


ORT_INTEGER_KERNELS = ("QLinearConv", "QLinearMatMul", "MatMulIntegerToFloat", "QGemm")
ORT_FLOAT_LAYERS = ("Conv", "FusedConv", "ConvTranspose", "MatMul", "FusedMatMul", "Gemm", "FusedGemm")


def ort_kernels(model):
    """The integer kernels and the float Conv/MatMul/Gemm layers in the graph ONNX Runtime's CPU
    provider optimizes (level extended: the QDQ fusions, not the NCHWc layout), or the error."""
    import collections
    import onnx
    import onnxruntime as ort
    with tempfile.TemporaryDirectory() as d:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        so.optimized_model_filepath = os.path.join(d, "optimized.onnx")
        try:
            ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - ONNX Runtime raises several exception types
            return f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300]}"
        ops = collections.Counter(n.op_type for n in onnx.load(so.optimized_model_filepath, load_external_data=False).graph.node)
    return {k: ops[k] for k in ORT_INTEGER_KERNELS if ops[k]}, sum(ops[k] for k in ORT_FLOAT_LAYERS)


def forecast_mismatch(report, model):
    """Where the report's `ort_cpu` forecast differs from the graph ONNX Runtime optimizes: a text,
    or "" when the integer kernels and the float layers agree."""
    forecast = report.get("ort_cpu")
    if forecast is None:
        return "the report has no ort_cpu section"
    measured = ort_kernels(model)
    if isinstance(measured, str):
        return measured
    integer, floats = measured
    predicted = forecast["float_on_dequantized"] + forecast["float_unquantized"] + forecast.get("float_log_quantized", 0)
    if forecast["integer_kernels"] == integer and predicted == floats:
        return ""
    return (f"forecast {forecast['integer_kernels']} and {predicted} float layers, ONNX Runtime {integer} and "
            f"{floats} float layers")


def judge(row, entry, fp32, feeds, stem, run_error):
    """Scores a quantized model (exit 0) against FP32 in both ONNX Runtime sessions."""
    problems = []
    with open(stem + ".json") as f:
        report = json.load(f)
    row["vitq_cosine"] = report.get("summary", {}).get("output_cosine")
    row["ort_forecast"] = forecast_mismatch(report, stem + ".onnx")
    if "auto" in report:  # what the default chose, e.g. "default (mse, inputs)"
        chosen = report["auto"]["chosen"]
        smooth = f", smooth {chosen['smooth_quant']}" if "smooth_quant" in chosen else ""
        row["recipe"] = f"{row['recipe']} ({chosen['recipe']}, {chosen['placement']}{smooth})"
    for opt, key in ((True, "ort_cosine_opt"), (False, "ort_cosine_noopt")):
        ref, q = fp32[opt], ort_outputs(stem + ".onnx", feeds, opt)
        where = "optimized" if opt else "unoptimized"
        if isinstance(ref, str) or isinstance(q, str):
            problems.append(f"ONNX Runtime ({where}) fails on the {'FP32' if isinstance(ref, str) else 'quantized'} "
                            f"model: {ref if isinstance(ref, str) else q}")
            continue
        per_output = [([r[j] for r in ref], [o[j] for o in q]) for j in range(len(ref[0]))]
        row[key] = min(cosine(r, o) for r, o in per_output)
        if opt and (entry["family"] == "classifier" or entry["outputs"][0] == "logits"):
            row["top1_agreement"] = top1(*per_output[0])
        if row[key] < COSINE_MIN:
            problems.append(f"ONNX Runtime ({where}) cosine {row[key]:.4f} < {COSINE_MIN}")
    measured = [c for c in (row["ort_cosine_opt"], row["ort_cosine_noopt"]) if c is not None]
    if row["vitq_cosine"] is not None and measured and row["vitq_cosine"] - min(measured) > CLAIM_MARGIN:
        problems.append(f"vitq's report says cosine {row['vitq_cosine']:.4f}, ONNX Runtime gives {min(measured):.4f}")
    if run_error:
        problems.append(run_error)
    elif row["vitq_run_rel_diff"] is not None and row["vitq_run_rel_diff"] > RUN_TOLERANCE:
        problems.append(f"vitq run differs from ONNX Runtime FP32 by {row['vitq_run_rel_diff']:.2e} (relative)")
    row["status"] = "BROKEN" if problems else "green"
    row["reason"] = "; ".join(problems)


def fmt(x, digits=4):
    return "-" if x is None else f"{x:.{digits}f}"


def table(rows):
    lines = ["| model | style | recipe | status | exit | ORT cos opt | ORT cos noopt | vitq cos | top-1 agree | "
             "sim cos | time s | reason |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        reason = r["reason"].replace("|", "\\|")
        lines.append(f"| {r['model']} | {r['style']} | {r['recipe']} | {r['status']} | {r['exit']} | "
                     f"{fmt(r['ort_cosine_opt'])} | {fmt(r['ort_cosine_noopt'])} | {fmt(r['vitq_cosine'])} | "
                     f"{fmt(r['top1_agreement'], 3)} | {fmt(r['reference_cosine'])} | {fmt(r['seconds'], 1)} | "
                     f"{reason} |")
    counts = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    lines.append("")
    lines.append(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return "\n".join(lines)


def run_all(vitq, zoo, only=None, work=None, threads=1, timeout=900, log=print, extra_recipes=()):
    entries = [e for e in load_manifest(zoo)
               if not only or fnmatch.fnmatch(e["name"], only) or fnmatch.fnmatch(e["model"], only)]
    work = work or os.path.join(zoo, "runs")
    os.makedirs(work, exist_ok=True)
    rows = []
    for e in entries:
        for r in run_entry(vitq, zoo, e, work, threads, timeout, extra_recipes):
            log(f"{r['name']} {r['recipe']}: {r['status']} (exit {r['exit']}, {r['seconds']} s) {r['reason']}")
            rows.append(r)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    built = [os.path.join(ROOT, "build", "apps", "vitq", "vitq"), os.path.join(ROOT, "build", "apps", "vitq")]
    ap.add_argument("--vitq", default=next((p for p in built if os.path.isfile(p)), built[0]))
    ap.add_argument("--zoo", default=os.path.join(ROOT, "models", "zoo"))
    ap.add_argument("--only", help="glob on the model name or NAME.STYLE")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--work", help="quantized models and reports (default ZOO/runs)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=900, help="seconds per vitq quantize")
    ap.add_argument("--extra-recipe", action="append", default=[], help="also run this recipe on every entry "
                    "(repeatable), e.g. auto")
    args = ap.parse_args()
    rows = run_all(os.path.abspath(args.vitq), args.zoo, args.only, args.work, args.threads, args.timeout,
                   log=lambda s: print(s, file=sys.stderr, flush=True), extra_recipes=args.extra_recipe)
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
