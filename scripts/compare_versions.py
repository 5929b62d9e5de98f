#!/usr/bin/env python3
"""Two vitq binaries, the same results: runs every case of tests/e2e/determinism_test.py (each
recipe, --budget and the integer export) with both and compares the written model bytes and the
reports (timing aside). For refactors that must not change what vitq writes.

    scripts/compare_versions.py --old /tmp/vitq_before --new build/apps/vitq/vitq [--only SUBSTR]
                                [--ignore KEY ...]

(--ignore: report keys left out of the comparison, e.g. one the new version adds.)

Exits 1 and names each case whose model or report differs.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from determinism_test import CASES, DATA, digest, without_timing  # noqa: E402


def without_keys(doc, keys):
    if isinstance(doc, dict):
        return {k: without_keys(v, keys) for k, v in doc.items() if k not in keys}
    if isinstance(doc, list):
        return [without_keys(v, keys) for v in doc]
    return doc


def quantize(vitq, model, args, out, ignore):
    report = out[:-5] + ".json"
    cmd = [vitq, "-q", "quantize", model, "--data", DATA, "--calib-samples", "32", "--eval-samples", "8",
           "--threads", "1", "-o", out, "--report", report] + args
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    with open(report) as f:
        return digest(out), without_keys(without_timing(json.load(f)), ignore)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--only", help="cases whose arguments contain this text")
    ap.add_argument("--ignore", action="append", default=[], help="a report key to leave out (repeatable)")
    args = ap.parse_args()
    differ = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (model, case) in enumerate(CASES):
            label = f"{os.path.basename(model)} {' '.join(case)}"
            if args.only and args.only not in label:
                continue
            old = quantize(args.old, model, case, os.path.join(tmp, f"{i}_old.onnx"), set(args.ignore))
            new = quantize(args.new, model, case, os.path.join(tmp, f"{i}_new.onnx"), set(args.ignore))
            same_model, same_report = old[0] == new[0], old[1] == new[1]
            print(f"{'same' if same_model and same_report else 'DIFF'} {label}"
                  + ("" if same_model else " (model bytes)") + ("" if same_report else " (report)"), flush=True)
            differ += not (same_model and same_report)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
