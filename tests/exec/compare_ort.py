#!/usr/bin/env python3
"""vitq's executor against ONNX Runtime on real models: same seeded inputs through `vitq run` and
through ONNX Runtime. Per output it reports the max abs difference and the max relative difference
to the output's largest magnitude, and passes when every element satisfies
|vitq - ort| <= atol + rtol * |ort| (numpy.allclose; rtol 1e-4, atol 1e-6).

  compare_ort.py --vitq build/apps/vitq [--models ppocr,fashion,minilm,deit] [--rtol 1e-4]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_PPOCR = os.path.join(REPO, "..", "shared", "models", "ppocr")


def first_existing(*paths):
    for p in paths:
        if os.path.exists(p):
            return p
    return None


def model_table():
    ppocr = first_existing(os.path.join(REPO, "models", "ppocr"), SHARED_PPOCR)
    fm = os.path.join(REPO, "tests", "data", "models")
    table = {
        "ppocr": [
            (os.path.join(ppocr, "ch_PP-OCRv4_rec_infer.onnx"), {"x": (2, 3, 48, 320)}),
            (os.path.join(ppocr, "ch_PP-OCRv4_det_infer.onnx"), {"x": (1, 3, 320, 448)}),
            (os.path.join(ppocr, "ch_ppocr_mobile_v2.0_cls_infer.onnx"), {"x": (4, 3, 48, 192)}),
        ],
        "fashion": [(os.path.join(fm, f), {}) for f in sorted(os.listdir(fm)) if f.startswith("fmnist_") and f.endswith(".onnx")]
        if os.path.isdir(fm) else [],
        "minilm": [(os.path.join(REPO, "models", "minilm", f), {"*": (2, 16)})
                   for f in ("all-MiniLM-L6-v2.onnx", "all-MiniLM-L6-v2_op13.onnx")],
        "deit": [(os.path.join(REPO, "models", "synthetic", f), {}) for f in ("deit_small.onnx", "deit_small_op13.onnx")],
    }
    return table


def make_inputs(path, shapes, rng):
    model = onnx.load(path, load_external_data=False)
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        tt = inp.type.tensor_type
        shape = shapes.get(inp.name) or shapes.get("*")
        if shape is None:
            shape = tuple(d.dim_value if d.dim_value > 0 else 2 for d in tt.shape.dim)
        if tt.elem_type == onnx.TensorProto.FLOAT:
            feeds[inp.name] = rng.uniform(-1, 1, size=shape).astype(np.float32)
        elif "mask" in inp.name:
            feeds[inp.name] = np.ones(shape, dtype=np.int64)
        elif "type" in inp.name:
            feeds[inp.name] = np.zeros(shape, dtype=np.int64)
        else:
            feeds[inp.name] = rng.integers(0, 1000, size=shape).astype(np.int64)
    return feeds


def sanitize(name):
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) + ".npy"


def compare(vitq, path, shapes, rtol, atol, threads):
    rng = np.random.default_rng(0)
    feeds = make_inputs(path, shapes, rng)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    sess = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    with tempfile.TemporaryDirectory() as d:
        args = [vitq, "-q", "run", path, "--output-dir", d, "--threads", str(threads)]
        for name, arr in feeds.items():
            f = os.path.join(d, "in_" + sanitize(name))
            np.save(f, arr)
            args += ["--input", f"{name}={f}"]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            return {"model": os.path.basename(path), "ok": False, "error": proc.stderr.strip()}
        results = []
        ok = True
        for name, want in ref.items():
            got = np.load(os.path.join(d, sanitize(name)))
            if got.shape != want.shape:
                ok = False
                results.append({"output": name, "error": f"shape {got.shape} vs {want.shape}"})
                continue
            diff = float(np.max(np.abs(got.astype(np.float64) - want))) if want.size else 0.0
            scale = float(np.max(np.abs(want))) if want.size else 1.0
            rel = diff / max(scale, 1e-12)
            close = bool(np.allclose(got, want, rtol=rtol, atol=atol))
            ok &= close
            results.append({"output": name, "shape": list(want.shape), "max_abs_diff": diff, "rel_diff": rel,
                            "allclose": close})
    return {"model": os.path.basename(path), "ok": ok, "outputs": results}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vitq", required=True)
    parser.add_argument("--models", default="ppocr,fashion")
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--atol", type=float, default=1e-6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    table = model_table()
    reports = []
    for group in args.models.split(","):
        for path, shapes in table[group]:
            if not os.path.exists(path):
                print(f"missing {path}: run scripts/prepare_all.sh", file=sys.stderr)
                reports.append({"model": path, "ok": False, "error": "missing"})
                continue
            r = compare(args.vitq, path, shapes, args.rtol, args.atol, args.threads)
            reports.append(r)
            if "error" in r:
                print(f"FAIL {r['model']}: {r['error']}")
                continue
            for o in r["outputs"]:
                status = "ok  " if o.get("allclose") else "FAIL"
                print(f"{status} {r['model']} {o['output']} {o.get('shape')}: max abs diff {o.get('max_abs_diff', float('nan')):.3g}, "
                      f"relative to max {o.get('rel_diff', float('nan')):.3g}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(reports, f, indent=2)
    failed = sum(1 for r in reports if not r["ok"])
    print(f"{len(reports) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
