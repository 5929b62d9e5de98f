#!/usr/bin/env python3
"""NoisyQuant (`--recipe mse+noisy`) on the Fashion-MNIST ViT at W6A6, checked with ONNX Runtime.

- the exported model holds the noise as Add nodes before the quantizers; ORT's logits equal vitq's
  own execution of it;
- same seed, same bytes; another seed draws other noise vectors;
- the report lists every searched activation with its amplitude and the consumers' SQNR before
  and after, and the search never makes a layer worse on its calibration rows.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from e2e_checks import check, exit_code  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FASHION = os.path.join(REPO, "data", "fashion_mnist")
MODEL = os.path.join(REPO, "tests", "data", "models", "fmnist_vit_op17.onnx")
def quantize(vitq, out, *extra):
    proc = subprocess.run([vitq, "-q", "quantize", MODEL, "--data", os.path.join(FASHION, "calib_x.npy"),
                           "--calib-samples", "128", "--eval-samples", "8", "--wbits", "6", "--abits", "6",
                           "--recipe", "mse+noisy", "--threads", "1", "-o", out, "--report", out[:-5] + ".json",
                           *extra], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    with open(out[:-5] + ".json") as f:
        return json.load(f)


def noise_vectors(path):
    m = onnx.load(path)
    return {i.name: numpy_helper.to_array(i) for i in m.graph.initializer if i.name.endswith("_noise")}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    vitq = parser.parse_args().vitq
    with tempfile.TemporaryDirectory() as tmp:
        a, b, c = (os.path.join(tmp, n) for n in ("a.onnx", "b.onnx", "c.onnx"))
        report = quantize(vitq, a)
        sites = report["noisy_bias"]
        check(len(sites) >= 12, f"{len(sites)} activations searched")
        check(all(s["sqnr_after_db"] >= s["sqnr_before_db"] for s in sites), "no layer is made worse on its rows")
        noises = noise_vectors(a)
        check(len(noises) > 0, f"{len(noises)} noise vectors exported")
        quantize(vitq, b)
        digest = [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in (a, b)]
        check(digest[0] == digest[1], "same seed: identical bytes")
        quantize(vitq, c, "--noise-seed", "7")
        other = noise_vectors(c)
        common = set(noises) & set(other)
        check(any(not np.array_equal(noises[k], other[k]) for k in common) or set(noises) != set(other),
              "another seed draws other noise")
        x = np.load(os.path.join(FASHION, "test_x.npy"))[:300]
        np.save(os.path.join(tmp, "x.npy"), x)
        os.makedirs(os.path.join(tmp, "run"))
        subprocess.run([vitq, "-q", "run", a, "--input", os.path.join(tmp, "x.npy"), "--output-dir",
                        os.path.join(tmp, "run")], check=True, capture_output=True)
        mine = np.load(os.path.join(tmp, "run", "logits.npy"))
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        s = ort.InferenceSession(a, so, providers=["CPUExecutionProvider"])
        theirs = s.run(None, {s.get_inputs()[0].name: x})[0]
        agree = float((mine.argmax(1) == theirs.argmax(1)).mean())
        diff = float(np.abs(mine - theirs).max())
        check(agree >= 0.99 and diff < 0.5, f"ORT equals vitq's simulation: agreement {agree:.3f}, max diff {diff:.3g}")
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
