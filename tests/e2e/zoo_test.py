#!/usr/bin/env python3
"""The model-zoo corpus (GitHub issue #27) in CI: builds `scripts/zoo/make_zoo.py --subset ci` (small
models in every export style, and every hand-built hostile graph) into a temporary folder, quantizes
each W8A8 with vitq (the default recipe, auto, and repq-vit where the model has LayerNorms or attention) and checks the
result in ONNX Runtime as `scripts/zoo/run_zoo.py` does, including that the report's `ort_cpu`
forecast names the integer kernels and float layers of the graph ONNX Runtime optimizes. Every entry that is BROKEN or crashes fails,
and so does every refusal not listed in EXPECTED_REFUSALS; each is named.

    zoo_test.py --vitq build/apps/vitq/vitq
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "scripts", "zoo"))
from e2e_checks import check, exit_code, failures  # noqa: E402
import run_zoo  # noqa: E402

# "NAME.STYLE RECIPE" -> why vitq is right to refuse it. Empty: every entry must quantize.
EXPECTED_REFUSALS = {}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitq", required=True)
    vitq = os.path.abspath(ap.parse_args().vitq)
    tmp = tempfile.mkdtemp(prefix="vitq-zoo-")
    zoo = os.path.join(tmp, "zoo")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    made = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "zoo", "make_zoo.py"), "--subset", "ci",
                           "--out", zoo], capture_output=True, text=True, env=env)
    check(made.returncode == 0, f"make_zoo.py --subset ci: {made.stderr.strip()[-500:]}")
    if made.returncode != 0:
        print("0 passed, 1 failed")
        return exit_code()

    rows = run_zoo.run_all(vitq, zoo, work=os.path.join(tmp, "runs"), log=lambda s: None)
    print(run_zoo.table(rows), flush=True)
    for r in rows:
        key = f"{r['name']} {r['recipe']}"
        if r["status"] == "refused" and key in EXPECTED_REFUSALS:
            check(True, f"{key}: refused as expected ({EXPECTED_REFUSALS[key]}): {r['reason']}")
        else:
            ok = r["status"] == "green"
            check(ok, f"{key}: {r['status']} (exit {r['exit']})" + ("" if ok else f" {r['reason']}  [{r['command']}]"))
        if r.get("ort_forecast") is not None:  # every quantized model the report judged
            check(r["ort_forecast"] == "", f"{key}: the report's ONNX Runtime kernel forecast matches the optimized "
                                           f"graph {r['ort_forecast']}")
    stale = sorted(set(EXPECTED_REFUSALS) - {f"{r['name']} {r['recipe']}" for r in rows})
    for key in stale:
        check(False, f"{key}: listed in EXPECTED_REFUSALS but not in the CI subset")

    print(f"{len(rows) + len(stale) - len(failures)} passed, {len(failures)} failed")
    if failures:
        print(f"corpus and quantized models kept in {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp)
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
