"""What the end-to-end tests share: named checks that are all reported before the test fails, and
running a model on a batch with ONNX Runtime (one thread)."""
import sys

import numpy as np
import onnxruntime as ort

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def exit_code():
    """1 (after saying how many) when a check failed, else 0."""
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    return 0


def ort_run(path, x, batch=500):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    return np.concatenate([s.run(None, {name: x[i:i + batch]})[0] for i in range(0, len(x), batch)])
