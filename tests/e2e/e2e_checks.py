"""What the end-to-end tests share: named checks that are all reported before the test fails,
running a model on a batch with ONNX Runtime (one thread) or with `vitq run`, and scoring a model on
its task with the evaluation script."""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def digest(path):
    """SHA-256 of a file's bytes: "same bytes" checks."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


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


EVALUATE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "scripts", "eval",
                        "evaluate.py")


def evaluate(task, model, reference, tmp, limit=None):
    """The task metrics of `model` in ONNX Runtime (scripts/eval/evaluate.py on the data in data/, the
    first `limit` samples when given)."""
    out = os.path.join(tmp, os.path.basename(model) + ".eval.json")
    subprocess.run([sys.executable, EVALUATE, "--task", task, "--model", model, "--reference", reference, "--json", out,
                    *(["--limit", str(limit)] if limit else [])], check=True, capture_output=True)
    with open(out) as f:
        result = json.load(f)
    return result.get("metrics", result)


def vitq_run(vitq, model, x, tmp):
    """`vitq run` of a single-input, single-output model on the batch `x`: (output, "") or (None, stderr)."""
    np.save(os.path.join(tmp, "vitq_run_input.npy"), x)
    out_dir = os.path.join(tmp, "vitq_run")
    os.makedirs(out_dir, exist_ok=True)
    for name in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, name))
    proc = subprocess.run([vitq, "-q", "run", model, "--input", os.path.join(tmp, "vitq_run_input.npy"),
                           "--output-dir", out_dir], capture_output=True, text=True)
    if proc.returncode != 0:
        return None, proc.stderr
    return np.load(os.path.join(out_dir, os.listdir(out_dir)[0])), ""
