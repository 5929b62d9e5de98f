#!/usr/bin/env python3
"""Round trip through `vitq convert` checked with ONNX Runtime.

--suite node : every model of Debian's libonnx-testdata node suite. The converted model must give
               ONNX Runtime outputs identical to the original's on the suite's own inputs.
--suite ppocr: the PP-OCR det/rec/cls models on fixed seeded inputs, same requirement.
Prints a summary; exits non-zero on any mismatch or any model vitq fails to convert.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODE_SUITE = "/usr/share/libonnx-testdata/data/node"

# Node tests vitq cannot round-trip, with the reason. Keep empty unless a reason is real.
KNOWN_CONVERT_FAILURES = {}


def ppocr_dir():
    for d in (os.path.join(REPO, "models", "ppocr"), os.path.join(REPO, "..", "shared", "models", "ppocr")):
        if os.path.exists(os.path.join(d, "ch_PP-OCRv4_rec_infer.onnx")):
            return d
    sys.exit("PP-OCR models not found (run scripts/setup.sh)")


def session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 4
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def load_inputs(test_dir, model):
    names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    feeds = {}
    for idx, name in enumerate(names):
        path = os.path.join(test_dir, "test_data_set_0", f"input_{idx}.pb")
        if not os.path.exists(path):
            return None
        tensor = onnx.TensorProto()
        with open(path, "rb") as f:
            tensor.ParseFromString(f.read())
        feeds[name] = numpy_helper.to_array(tensor)
    return feeds


def check_node_test(args):
    vitq, test_dir, out_dir = args
    name = os.path.basename(test_dir)
    src = os.path.join(test_dir, "model.onnx")
    dst = os.path.join(out_dir, name + ".onnx")
    proc = subprocess.run([vitq, "-q", "convert", src, "-o", dst], capture_output=True, text=True)
    if proc.returncode != 0:
        return name, "convert_failed", proc.stderr.strip()
    try:
        model = onnx.load(src)
        feeds = load_inputs(test_dir, model)
        if feeds is None:
            return name, "no_inputs", ""
        original = session(src)
    except Exception as e:  # ONNX Runtime cannot run the original: nothing to compare
        return name, "ort_skip", str(e).splitlines()[0][:200]
    try:
        converted = session(dst)
        ref = original.run(None, feeds)
        got = converted.run(None, feeds)
    except Exception as e:
        if "ref" not in locals():
            return name, "ort_skip", str(e).splitlines()[0][:200]
        return name, "mismatch", "converted model fails in ONNX Runtime: " + str(e).splitlines()[0][:200]
    if len(ref) != len(got) or not all(same(a, b) for a, b in zip(ref, got)):
        return name, "mismatch", "outputs differ"
    return name, "identical", ""


def run_node_suite(vitq, jobs):
    tests = sorted(d for d in glob.glob(os.path.join(NODE_SUITE, "test_*")) if os.path.isdir(d))
    if not tests:
        sys.exit(f"no node tests under {NODE_SUITE} (install libonnx-testdata)")
    with tempfile.TemporaryDirectory() as out_dir:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(check_node_test, [(vitq, t, out_dir) for t in tests], chunksize=8))
    counts = {}
    for _, status, _ in results:
        counts[status] = counts.get(status, 0) + 1
    print(f"node suite: {len(tests)} models: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    failed = False
    for name, status, detail in results:
        if status == "ort_skip":
            continue
        if status == "convert_failed" and name in KNOWN_CONVERT_FAILURES:
            print(f"  known: {name}: {KNOWN_CONVERT_FAILURES[name]}")
            continue
        if status in ("convert_failed", "mismatch"):
            failed = True
            print(f"  FAIL {name}: {status}: {detail}")
    skipped = [(n, d) for n, s, d in results if s == "ort_skip"]
    print(f"  {len(skipped)} models ONNX Runtime itself cannot run (not compared), e.g.:")
    for n, d in skipped[:5]:
        print(f"    {n}: {d}")
    return failed


def run_ppocr(vitq):
    d = ppocr_dir()
    shapes = {
        "ch_PP-OCRv4_rec_infer.onnx": (1, 3, 48, 320),
        "ch_PP-OCRv4_det_infer.onnx": (1, 3, 320, 320),
        "ch_ppocr_mobile_v2.0_cls_infer.onnx": (2, 3, 48, 192),
    }
    failed = False
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as out_dir:
        for name, shape in shapes.items():
            src = os.path.join(d, name)
            dst = os.path.join(out_dir, name)
            proc = subprocess.run([vitq, "convert", src, "-o", dst], capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"FAIL {name}: vitq convert exited {proc.returncode}: {proc.stderr}")
                failed = True
                continue
            x = rng.uniform(-1, 1, size=shape).astype(np.float32)
            a = session(src).run(None, {"x": x})
            b = session(dst).run(None, {"x": x})
            constants = sum(1 for n in onnx.load(dst).graph.node if n.op_type == "Constant")
            ok = all(same(p, q) for p, q in zip(a, b))
            diff = max(float(np.max(np.abs(p - q))) for p, q in zip(a, b))
            print(f"{name}: outputs {'identical' if ok else 'DIFFER'} (max abs diff {diff:g}), "
                  f"Constant nodes left: {constants}")
            failed |= not ok
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vitq", required=True)
    parser.add_argument("--suite", choices=["node", "ppocr"], required=True)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    failed = run_node_suite(args.vitq, args.jobs) if args.suite == "node" else run_ppocr(args.vitq)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
