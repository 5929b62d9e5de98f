#!/usr/bin/env python3
"""The progress bar: drawn on stderr when it is a terminal (a pseudo-terminal here), never into a
pipe, never with -q or VITQ_PROGRESS=never; VITQ_PROGRESS=always draws into a pipe too. stdout
(the report) is the same in every case."""
import argparse
import os
import pty
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from e2e_checks import check, exit_code  # noqa: E402

MODEL = os.path.join(REPO, "tests", "data", "models", "fmnist_vit_op17.onnx")
DATA = os.path.join(REPO, "data", "fashion_mnist", "calib_x.npy")


def run(vitq, out, terminal, env_mode=None, quiet=False):
    """(stdout, stderr) of a small quantize run, stderr a pty when terminal."""
    env = dict(os.environ)
    env.pop("VITQ_PROGRESS", None)
    if env_mode:
        env["VITQ_PROGRESS"] = env_mode
    cmd = [vitq] + (["-q"] if quiet else []) + ["quantize", MODEL, "--recipe", "minmax", "--data", DATA, "--calib-samples", "16",
                                                  "--eval-samples", "4", "-o", out]
    if not terminal:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        return proc.stdout, proc.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        err += chunk
    stdout = proc.communicate()[0].decode()
    os.close(master)
    return stdout, err.decode(errors="replace")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    vitq = parser.parse_args().vitq
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "q.onnx")
        ref_out, tty_err = run(vitq, out, terminal=True)
        check("\rcalibrating" in tty_err and "16/16" in tty_err and "comparing with float" in tty_err,
              "a terminal gets the calibration and comparison bars")
        outputs = [ref_out]
        for label, kwargs, drawn in (("a pipe", dict(terminal=False), False),
                                     ("-q on a terminal", dict(terminal=True, quiet=True), False),
                                     ("VITQ_PROGRESS=never on a terminal", dict(terminal=True, env_mode="never"), False),
                                     ("VITQ_PROGRESS=always into a pipe", dict(terminal=False, env_mode="always"), True)):
            stdout, err = run(vitq, out, **kwargs)
            outputs.append(stdout)
            check(("calibrating" in err) == drawn, f"{label}: bar {'drawn' if drawn else 'absent'}")
        check(all(o == outputs[0] and "# vitq quantize" in o for o in outputs), "stdout is the same report every time")
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
