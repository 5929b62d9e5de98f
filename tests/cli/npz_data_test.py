#!/usr/bin/env python3
""".npz calibration data (np.savez and np.savez_compressed): a three-input model (MiniLM) fed by
one archive quantizes to the same bytes as from a folder of per-sample .npy files; a one-input model
takes an archive's only array whatever its name; corrupt, truncated, incomplete and size-lying
archives are refused with exit 2 and a message naming the file."""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from e2e_checks import check, digest, exit_code  # noqa: E402

MINILM = os.path.join(REPO, "models", "minilm", "all-MiniLM-L6-v2.onnx")
VIT = os.path.join(REPO, "tests", "data", "models", "fmnist_vit_op17.onnx")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SAMPLES = 4


def quantize(vitq, model, data, out):
    return subprocess.run([vitq, "-q", "quantize", model, "--recipe", "minmax", "--data", data, "-o", out,
                           "--calib-samples", str(SAMPLES),
                           "--eval-samples", "2", "--threads", "1"], capture_output=True, text=True)


def refused(vitq, model, data, out, words, case):
    proc = quantize(vitq, model, data, out)
    message = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    check(proc.returncode == 2 and all(w in message for w in words) and not os.path.exists(out),
          f"{case}: exit {proc.returncode}: {message}")


def huge_claim(path):
    """A stored entry whose ZIP64 sizes claim 100 GB but whose data is 16 bytes."""
    name, payload = b"x.npy", b"\x93NUMPY" + b"\0" * 10
    extra = struct.pack("<HHQQ", 1, 16, 100 << 30, len(payload))
    local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, 0, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF, len(name), len(extra))
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0, 0, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF,
                          len(name), len(extra), 0, 0, 0, 0, 0)
    body = local + name + extra + payload
    directory = central + name + extra
    end = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 1, 1, len(directory), len(body), 0)
    with open(path, "wb") as f:
        f.write(body + directory + end)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    vitq = parser.parse_args().vitq
    arrays = {k: np.load(os.path.join(REPO, "data", "minilm", f"calib_{k}.npy"))[:SAMPLES] for k in INPUTS}
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "samples")
        for i in range(SAMPLES):
            os.makedirs(os.path.join(folder, f"{i:03d}"))
            for k in INPUTS:
                np.save(os.path.join(folder, f"{i:03d}", f"{k}.npy"), arrays[k][i:i + 1])
        stored, packed = os.path.join(tmp, "stored.npz"), os.path.join(tmp, "packed.npz")
        np.savez(stored, **arrays)
        np.savez_compressed(packed, **arrays)
        outs = {}
        for label, data in (("folder", folder), ("savez", stored), ("savez_compressed", packed)):
            outs[label] = os.path.join(tmp, f"{label}.onnx")
            proc = quantize(vitq, MINILM, data, outs[label])
            check(proc.returncode == 0, f"MiniLM from {label}: exit {proc.returncode} {proc.stderr.strip()[-300:]}")
        check(len({digest(p) for p in outs.values() if os.path.exists(p)}) == 1,
              "the three forms of the same samples give the same model bytes")

        x = np.load(os.path.join(REPO, "data", "fashion_mnist", "calib_x.npy"))[:SAMPLES]
        np.save(os.path.join(tmp, "x.npy"), x)
        np.savez_compressed(os.path.join(tmp, "x.npz"), images=x)
        a, b = quantize(vitq, VIT, os.path.join(tmp, "x.npy"), os.path.join(tmp, "a.onnx")), \
            quantize(vitq, VIT, os.path.join(tmp, "x.npz"), os.path.join(tmp, "b.onnx"))
        check(a.returncode == 0 and b.returncode == 0 and digest(os.path.join(tmp, "a.onnx")) ==
              digest(os.path.join(tmp, "b.onnx")), "one-input model: the archive's only array, whatever its name")

        out = os.path.join(tmp, "bad.onnx")
        with open(packed, "rb") as f:
            good = bytearray(f.read())
        corrupt = bytearray(good)
        corrupt[200] ^= 0xFF
        for name, data in (("corrupt.npz", corrupt), ("truncated.npz", good[:len(good) // 2])):
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
        refused(vitq, MINILM, os.path.join(tmp, "corrupt.npz"), out, ["corrupt.npz"], "a flipped byte")
        refused(vitq, MINILM, os.path.join(tmp, "truncated.npz"), out, ["truncated.npz", "truncated"], "half the file")
        np.savez(os.path.join(tmp, "partial.npz"), input_ids=arrays["input_ids"], attention_mask=arrays["attention_mask"])
        refused(vitq, MINILM, os.path.join(tmp, "partial.npz"), out, ["token_type_ids", "input_ids, attention_mask"],
                "an input without an array")
        huge_claim(os.path.join(tmp, "huge.npz"))
        refused(vitq, VIT, os.path.join(tmp, "huge.npz"), out, ["huge.npz", "impossible size"], "100 GB claimed")
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
