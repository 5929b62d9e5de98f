#!/usr/bin/env python3
"""Config files (--config, docs/config.md): options from a [quantize] table give the same model as
the same options on the command line; the command line wins over the file; gates from the file
exit 3; unknown keys, bad values, unparsable and missing files exit 2 naming the file, writing
nothing."""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from e2e_checks import check, exit_code  # noqa: E402

MODEL = os.path.join(REPO, "tests", "data", "models", "fmnist_vit_op13.onnx")
DATA = os.path.join(REPO, "data", "fashion_mnist", "calib_x.npy")


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    vitq = parser.parse_args().vitq
    tmp = tempfile.mkdtemp(prefix="vitq-config-")
    p = lambda name: os.path.join(tmp, name)  # noqa: E731

    def run(*args):
        return subprocess.run([vitq, *args], capture_output=True, text=True)

    def write(name, text):
        with open(p(name), "w") as f:
            f.write(text)
        return p(name)

    cfg = write("ci.toml", '# CI recipe\n[quantize]\nrecipe = "percentile"\npercentile = 99.9\nwbits = 6\n'
                           'calib-samples = 32\neval-samples = 16\nthreads = 1\nreduce-range = true\n'
                           f'exclude = ["head", "Gemm"]\nreport = "{p("ci.json")}"\n\n[sensitivity]\nwbits = 4\n')
    proc = run("-q", "quantize", MODEL, "--data", DATA, "-o", p("from_file.onnx"), "--config", cfg)
    check(proc.returncode == 0, f"quantize --config: exit {proc.returncode} {proc.stderr.strip()}")
    proc = run("-q", "quantize", MODEL, "--data", DATA, "-o", p("from_cli.onnx"), "--recipe", "percentile",
               "--percentile", "99.9", "--wbits", "6", "--calib-samples", "32", "--eval-samples", "16",
               "--threads", "1", "--reduce-range", "--exclude", "head", "--exclude", "Gemm")
    check(proc.returncode == 0, "the same options on the command line")
    check(digest(p("from_file.onnx")) == digest(p("from_cli.onnx")), "config file == command line (same bytes)")
    recipe = json.load(open(p("ci.json")))["recipe"]
    check(recipe["name"] == "percentile" and recipe["weight_bits"] == 6 and recipe["reduce_range"],
          f"the report records the file's options: {recipe}")

    proc = run("--config", cfg, "-q", "quantize", MODEL, "--data", DATA, "-o", p("override.onnx"), "--wbits", "8",
               "--report", p("override.json"))
    recipe = json.load(open(p("override.json")))["recipe"] if proc.returncode == 0 else {}
    check(recipe.get("weight_bits") == 8 and recipe.get("name") == "percentile",
          f"--config before the subcommand; the command line wins over the file: {recipe}")

    gate = write("gate.toml", '[quantize]\ncalib-samples = 16\neval-samples = 8\nfail-if = ["sqnr_min_db<99"]\n')
    proc = run("-q", "quantize", MODEL, "--data", DATA, "-o", p("gated.onnx"), "--config", gate)
    check(proc.returncode == 3 and "accuracy gate failed: sqnr_min_db<99" in proc.stderr,
          f"a gate from the file exits 3: {proc.stderr.strip()}")

    cases = [
        ("typo.toml", '[quantize]\nrecipie = "mse"\n', "INI was not able to parse quantize.recipie"),
        ("range.toml", "[quantize]\nwbits = 99\n", "--wbits: Value 99 not in range 2 to 8"),
        ("broken.toml", "[quantize\nwbits = 6\n", "INI was not able to parse [quantize"),
    ]
    for name, text, words in cases:
        path = write(name, text)
        proc = run("quantize", MODEL, "--data", DATA, "-o", p("bad.onnx"), "--config", path)
        message = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ""
        check(proc.returncode == 2 and words in message and not os.path.exists(p("bad.onnx")),
              f"{name}: exit {proc.returncode}: {message}")
    proc = run("quantize", MODEL, "--data", DATA, "-o", p("bad.onnx"), "--config", p("nothere.toml"))
    message = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ""
    check(proc.returncode == 2 and f"config file '{p('nothere.toml')}'" in message and "not readable" in message,
          f"missing config file: exit {proc.returncode}: {message}")
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
