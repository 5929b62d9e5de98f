#!/usr/bin/env python3
"""Config files (--config, docs/config.md): options from a [quantize] table give the same model as
the same options on the command line, arrays over several lines too; the command line wins over the
file; gates from the file exit 3; unknown keys, bad values, unparsable, missing and oversized files,
devices, an array left open and a table given twice exit 2 naming the file, writing nothing and
never hanging."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from e2e_checks import check, digest, exit_code  # noqa: E402

MODEL = os.path.join(REPO, "tests", "data", "models", "fmnist_vit_op13.onnx")
DATA = os.path.join(REPO, "data", "fashion_mnist", "calib_x.npy")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    vitq = parser.parse_args().vitq
    tmp = tempfile.mkdtemp(prefix="vitq-config-")
    p = lambda name: os.path.join(tmp, name)  # noqa: E731

    def run(*args):
        try:  # a config file that is read forever must fail the check, not hang the test
            return subprocess.run([vitq, *args], capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(args, None, "", "timed out after 300 s")

    def write(name, text):
        with open(p(name), "w") as f:
            f.write(text)
        return p(name)

    cfg = write("ci.toml", '# CI recipe\n[quantize]\nrecipe = "percentile"\npercentile = 99.9\nwbits = 6\n'
                           'calib-samples = 32\neval-samples = 16\nthreads = 1\nreduce-range = true\n'
                           f'exclude = ["*/attn/proj*", "Gemm"]\nreport = "{p("ci.json")}"\n\n[sensitivity]\nwbits = 4\n')
    proc = run("-q", "quantize", MODEL, "--data", DATA, "-o", p("from_file.onnx"), "--config", cfg)
    check(proc.returncode == 0, f"quantize --config: exit {proc.returncode} {proc.stderr.strip()}")
    proc = run("-q", "quantize", MODEL, "--data", DATA, "-o", p("from_cli.onnx"), "--recipe", "percentile",
               "--percentile", "99.9", "--wbits", "6", "--calib-samples", "32", "--eval-samples", "16",
               "--threads", "1", "--reduce-range", "--exclude", "*/attn/proj*", "--exclude", "Gemm")
    check(proc.returncode == 0, "the same options on the command line")
    check(digest(p("from_file.onnx")) == digest(p("from_cli.onnx")), "config file == command line (same bytes)")
    recipe = json.load(open(p("ci.json")))["recipe"]
    check(recipe["name"] == "percentile" and recipe["weight_bits"] == 6 and recipe["reduce_range"],
          f"the report records the file's options: {recipe}")
    multiline = write("multiline.toml", '[quantize]\nrecipe = "percentile"\npercentile = 99.9\nwbits = 6\n'
                                        'calib-samples = 32\neval-samples = 16\nthreads = 1\nreduce-range = true\n'
                                        'exclude = ["*/attn/proj*",\n           "Gemm"]\n')
    proc = run("-q", "quantize", MODEL, "--data", DATA, "-o", p("multiline.onnx"), "--config", multiline)
    check(proc.returncode == 0 and digest(p("multiline.onnx")) == digest(p("from_cli.onnx")),
          f"an array over two lines == command line (same bytes): exit {proc.returncode} {proc.stderr.strip()}")

    proc = run("--config", cfg, "-q", "quantize", MODEL, "--data", DATA, "-o", p("override.onnx"), "--wbits", "8",
               "--report", p("override.json"))
    recipe = json.load(open(p("override.json")))["recipe"] if proc.returncode == 0 else {}
    check(recipe.get("weight_bits") == 8 and recipe.get("name") == "percentile",
          f"--config before the subcommand; the command line wins over the file: {recipe}")

    gate = write("gate.toml", '[quantize]\ncalib-samples = 16\neval-samples = 8\nfail-if = ["sqnr_min_db<99"]\n')
    proc = run("-q", "quantize", MODEL, "--data", DATA, "-o", p("gated.onnx"), "--config", gate)
    check(proc.returncode == 3 and "accuracy gate failed: sqnr_min_db<99" in proc.stderr,
          f"a gate from the file exits 3: {proc.stderr.strip()}")

    def refused(config, words, what):
        proc = run("quantize", MODEL, "--data", DATA, "-o", p("bad.onnx"), "--config", config)
        message = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ""
        check(proc.returncode == 2 and words in message and not os.path.exists(p("bad.onnx")),
              f"{what}: exit {proc.returncode}: {message}")

    cases = [  # {f}: the file's path
        ("typo.toml", '[quantize]\nrecipie = "mse"\n', "config file '{f}': INI was not able to parse quantize.recipie"),
        ("range.toml", "[quantize]\nwbits = 99\n", "config file '{f}': --wbits: Value 99 not in range 2 to 8"),
        ("other_table.toml", "[calibrate]\nbins = 5\n", "config file '{f}': --bins: Value 5 not in range 16 to 65536"),
        ("broken.toml", "[quantize\nwbits = 6\n", "INI was not able to parse [quantize"),
        ("open_array.toml", '[quantize]\nexclude = ["MatMul"\nwbits = 4\n',
         "config file '{f}' line 2: the array of 'exclude' is not closed before line 3 ('wbits = 4')"),
        ("open_at_end.toml", '[quantize]\nwbits = 4\nexclude = ["MatMul",\n  "Gemm"\n',
         "config file '{f}' line 3: the array of 'exclude' is not closed at the end of the file"),
        ("twice.toml", "[quantize]\nwbits = 6\n\n[sensitivity]\nwbits = 4\n[quantize]\nabits = 6\n",
         "config file '{f}' line 6: table [quantize] appears twice (first at line 1)"),
        ("array_comment.toml", '[quantize]\nexclude = ["Gemm",\n  # the classifier\n  "Conv"]\n',
         "config file '{f}' line 3: a comment in the multi-line array of 'exclude' (from line 2)"),
        ("table_comment.toml", "[quantize]  # W4A8\nwbits = 4\n",
         "config file '{f}' line 1: a comment after the table name [quantize] is not allowed"),
        ("key_twice.toml", "[quantize]\nwbits = 4\nabits = 8\nwbits = 7\n",
         "config file '{f}' line 4: key 'wbits' appears twice in [quantize] (first at line 2)"),
        ("hash.toml", '[quantize]\nreport = "run#1.json"\n', "config file '{f}' line 2: a '#' inside quotes"),
        # CLI11 converts flag values last, where its error ("Could not convert") named no file.
        ("flag.toml", "[quantize]\nwbits = 6\nreduce-range = maybe\n",
         "config file '{f}' line 3: 'reduce-range' is a flag: its value is true or false, not 'maybe'"),
        ("dotted_flag.toml", "quantize.reduce-range = 2.5\n",
         "config file '{f}' line 1: 'quantize.reduce-range' is a flag: its value is true or false, not '2.5'"),
    ]
    for name, text, words in cases:
        refused(write(name, text), words.format(f=p(name)), name)
    # Only a value from the file names the file: the same error from the command line does not.
    proc = run("quantize", MODEL, "--data", DATA, "-o", p("bad.onnx"), "--config", gate, "--wbits", "99")
    message = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ""
    check(proc.returncode == 2 and message == "vitq: error: --wbits: Value 99 not in range 2 to 8"
          and not os.path.exists(p("bad.onnx")), f"a bad value on the command line, not the file's: {message}")

    # Refused before they are read: a device (read forever), a FIFO (waits for a writer), a folder,
    # a file too large for a config of options.
    os.mkfifo(p("fifo.toml"))
    for path in ("/dev/zero", p("fifo.toml"), tmp):
        refused(path, f"config file '{path}': not a regular file", path)
    with open(p("huge.toml"), "w") as f:
        f.write("[quantize]\n" + "# padding\n" * 240000)  # 2.3 MiB
    refused(p("huge.toml"), f"config file '{p('huge.toml')}': 2.3 MiB, larger than the 1 MiB a config file may have",
            "huge.toml")
    proc = run("--config=/dev/zero", "quantize", MODEL, "--data", DATA, "-o", p("bad.onnx"))
    message = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ""
    check(proc.returncode == 2 and "config file '/dev/zero': not a regular file" in message
          and not os.path.exists(p("bad.onnx")), f"--config=/dev/zero before the subcommand: {message}")
    proc = run("quantize", MODEL, "--data", DATA, "-o", p("bad.onnx"), "--config", p("nothere.toml"))
    message = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ""
    check(proc.returncode == 2 and f"config file '{p('nothere.toml')}'" in message and "not readable" in message,
          f"missing config file: exit {proc.returncode}: {message}")
    before = digest(cfg)
    proc = run("-q", "quantize", MODEL, "--data", DATA, "-o", cfg, "--config", cfg)
    check(proc.returncode == 2 and "is the config file" in proc.stderr and digest(cfg) == before,
          f"-o naming the config file: exit {proc.returncode}, file unchanged: {proc.stderr.strip()[-160:]}")
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
