#!/usr/bin/env python3
"""`cmake --install` gives a working tool (#32): the installed vitq runs, its man page renders with a
section per subcommand, bash completion offers the subcommands, options and choices the binary's
help lists, and the docs are in place. With --consumer: a project outside vitq's tree
(tests/install_consumer) finds the installed package with find_package(vitq), builds against
vitq::vitq, and its quantized models are byte for byte what `vitq quantize` writes. Installs into
a temporary prefix; the build tree is left as it was."""
import argparse
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from e2e_checks import check, digest, exit_code  # noqa: E402

MODEL = os.path.join(REPO, "tests", "data", "models", "fmnist_vit_op17.onnx")
DATA = os.path.join(REPO, "data", "fashion_mnist", "calib_x.npy")


def check_consumer(args, prefix, work):
    """Builds tests/install_consumer against the installed package and compares its models with
    the CLI's."""
    build = os.path.join(work, "consumer")
    configure = subprocess.run([args.cmake, "-S", args.consumer, "-B", build, "-G", "Ninja",
                                f"-DCMAKE_PREFIX_PATH={prefix}"], capture_output=True, text=True)
    compiled = subprocess.run([args.cmake, "--build", build], capture_output=True, text=True)
    built = configure.returncode == 0 and compiled.returncode == 0
    failure = "" if built else (configure.stderr + compiled.stdout).strip()[-600:]
    check(built, f"a project with find_package(vitq) builds against the prefix {failure}")
    if not built:
        return
    program = os.path.join(build, "quantize_with_api")
    for recipe in ("minmax", "repq-vit"):
        api_out, cli_out = os.path.join(work, f"api_{recipe}.onnx"), os.path.join(work, f"cli_{recipe}.onnx")
        api = subprocess.run([program, MODEL, DATA, recipe, api_out], capture_output=True, text=True)
        cli = subprocess.run([args.vitq, "-q", "quantize", MODEL, "--data", DATA, "--recipe", recipe, "--calib-samples",
                              "32", "--eval-samples", "8", "--threads", "1", "-o", cli_out], capture_output=True, text=True)
        sqnr = float(api.stdout.split()[2]) if api.returncode == 0 else 0.0
        check(api.returncode == 0 and cli.returncode == 0 and digest(api_out) == digest(cli_out) and sqnr > 20,
              f"{recipe} through the API == vitq quantize (same bytes), output SQNR {sqnr:.2f} dB "
              f"{api.stderr.strip()}{cli.stderr.strip()}")
    missing = subprocess.run([program, os.path.join(work, "none.onnx"), DATA, "minmax", os.path.join(work, "x.onnx")],
                             capture_output=True, text=True)
    check(missing.returncode == 2 and "none.onnx" in missing.stderr and not os.path.exists(os.path.join(work, "x.onnx")),
          f"an API error names the file: {missing.stderr.strip()}")


def completions(prefix, *words):
    """What the installed bash completion offers for the command line \\p words (the last one is
    the word being completed)."""
    script = (f'source "{prefix}/share/bash-completion/completions/vitq"\n'
              'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _vitq; printf "%s\\n" "${COMPREPLY[@]}"')
    env = {**os.environ, "PATH": f"{prefix}/bin:/usr/bin:/bin"}
    proc = subprocess.run(["bash", "-c", script, "bash", *words], capture_output=True, text=True, env=env)
    return set(proc.stdout.split())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    parser.add_argument("--cmake", required=True)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--consumer", help="tests/install_consumer: build it against the installed package")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vitq-install-") as prefix:
        proc = subprocess.run([args.cmake, "--install", args.build_dir, "--prefix", prefix], capture_output=True,
                              text=True)
        check(proc.returncode == 0, f"cmake --install --prefix {prefix}: {proc.stderr.strip()[-300:]}")
        installed = os.path.join(prefix, "bin", "vitq")
        version = subprocess.run([installed, "--version"], capture_output=True, text=True)
        built = subprocess.run([args.vitq, "--version"], capture_output=True, text=True).stdout
        check(version.returncode == 0 and version.stdout == built and built.startswith("vitq "),
              f"the installed vitq runs: {version.stdout.strip()}")

        page = os.path.join(prefix, "share", "man", "man1", "vitq.1")
        man = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                             env={**os.environ, "MANWIDTH": "100", "MAN_KEEP_FORMATTING": "0"})
        subcommands = ["convert", "inspect", "run", "bench", "calibrate", "merge-stats", "quantize", "sensitivity",
                       "report", "passes"]
        text = re.sub(".\b", "", man.stdout)  # bold and underline as overstrikes
        check(man.returncode == 0 and not man.stderr.strip(), f"man -l vitq.1 renders without warnings {man.stderr[:200]}")
        check(all(f"vitq {s}\n" in text for s in subcommands), "the man page has a section per subcommand")
        for words in ("--shard TEXT=0/1", "--recipe TEXT=minmax", "EXIT STATUS", "SLURM_ARRAY_TASK_ID"):
            check(words in text, f"the man page shows {words!r}")
        check("--threads INT:INT in [1 - 256]=" not in text,
              "the man page shows no machine's core count as --threads' default")

        check(completions(prefix, "vitq", "") >= set(subcommands), "completion: every subcommand")
        check(completions(prefix, "vitq", "calibrate", "--sha") == {"--shard", "--shard-count"},
              "completion: options of the subcommand typed")
        check(completions(prefix, "vitq", "quantize", "m.onnx", "--placement", "") == {"integer", "inputs"},
              "completion: a choice list from the help")
        check({"minmax", "repq-vit", "auto"} <= completions(prefix, "vitq", "quantize", "--recipe", ""),
              "completion: the recipes vitq passes lists, and auto")

        docs = os.path.join(prefix, "share", "doc", "vitq")
        check(all(os.path.isfile(os.path.join(docs, f)) for f in ("README.md", "cli.md", "scale-out.md")),
              "README and docs installed")
        if args.consumer:
            with tempfile.TemporaryDirectory(prefix="vitq-consumer-") as work:
                check_consumer(args, prefix, work)
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
