#!/usr/bin/env python3
"""Calibration on a real Slurm cluster (#32): a one-node cluster from Debian's packages on
localhost (scripts/scaleout/slurm_local.sh), an `sbatch --array` job whose tasks run
`vitq calibrate --shard auto`, and a job that depends on it merging the shards' folder and
quantizing with --stats, as docs/scale-out.md shows. The merged statistics equal one process's
on all the samples, and the model is byte for byte the one-process minmax model."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from e2e_checks import check, digest, exit_code  # noqa: E402

CLUSTER = os.path.join(REPO, "scripts", "scaleout", "slurm_local.sh")
MODEL = os.path.join(REPO, "tests", "data", "models", "fmnist_hybrid_op13.onnx")
DATA = os.path.join(REPO, "data", "fashion_mnist", "calib_x.npy")
SAMPLES = ["--calib-samples", "90"]


def job_state(job, env):
    text = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, env=env).stdout
    return " ".join(w for w in text.split() if w.startswith(("JobState=", "ExitCode=")))


def run_jobs(vitq, work, env):
    """Submits the calibration array (ids 4, 6, 8: a stepped array) and the merge + quantize job."""
    os.makedirs(os.path.join(work, "stats"))
    os.makedirs(os.path.join(work, "logs"))
    calibrate = os.path.join(work, "calibrate.sbatch")
    with open(calibrate, "w") as f:
        f.write(f"""#!/bin/bash
#SBATCH --array=4-8:2
#SBATCH --cpus-per-task=1
#SBATCH --output={work}/logs/calibrate-%A_%a.out
set -euo pipefail
{vitq} calibrate {MODEL} --data {DATA} {' '.join(SAMPLES)} --shard auto --threads 1 \\
    -o {work}/stats/shard-$SLURM_ARRAY_TASK_ID.json
""")
    quantize = os.path.join(work, "quantize.sbatch")
    with open(quantize, "w") as f:
        f.write(f"""#!/bin/bash
#SBATCH --output={work}/logs/quantize-%j.out
set -euo pipefail
{vitq} merge-stats {work}/stats -o {work}/merged.json
{vitq} quantize {MODEL} --data {DATA} {' '.join(SAMPLES)} --eval-samples 16 --stats {work}/merged.json \\
    --threads 1 -o {work}/slurm.onnx
""")
    array = subprocess.run(["sbatch", "--parsable", calibrate], capture_output=True, text=True, env=env, cwd=work)
    check(array.returncode == 0, f"sbatch --array: {array.stdout.strip()} {array.stderr.strip()}")
    array_id = array.stdout.strip().split(";")[0]
    dependent = subprocess.run(["sbatch", "--parsable", "--wait", f"--dependency=afterok:{array_id}", quantize],
                               capture_output=True, text=True, env=env, cwd=work, timeout=900)
    dep_id = dependent.stdout.strip().split(";")[0]
    # sbatch --wait returns 0 for a dependent job that was cancelled, so its state says what ran.
    # It ran only if every array task exited 0 (afterok; a failed task cancels it). The array's
    # own records are not asked for: Slurm may fold finished tasks into one record.
    state = job_state(dep_id, env)
    check(dependent.returncode == 0 and "JobState=COMPLETED ExitCode=0:0" in state,
          f"the dependent job ran after the array's 3 tasks and completed: {state}")
    for log in sorted(os.listdir(os.path.join(work, "logs"))):
        text = open(os.path.join(work, "logs", log)).read().strip()
        if text:
            print(f"  {log}: {text.splitlines()[-1]}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    vitq = os.path.abspath(parser.parse_args().vitq)
    with tempfile.TemporaryDirectory(prefix="vitq-slurm-") as work:
        state = os.path.join(work, "cluster")
        # Ports other than Slurm's defaults, so that a real slurmctld on the machine is left alone.
        env = {**os.environ, "SLURM_LOCAL_CTLD_PORT": "16817", "SLURM_LOCAL_SLURMD_PORT": "16818"}
        env = {k: v for k, v in env.items() if not k.startswith(("SLURM_ARRAY", "SLURM_JOB", "JOB_COMPLETION_"))}
        start = subprocess.run([CLUSTER, "start", state], capture_output=True, text=True, env=env, timeout=180)
        exports = [line for line in start.stdout.splitlines() if line.startswith("export SLURM_CONF=")]
        check(start.returncode == 0 and exports,
              f"a one-node Slurm cluster starts (scripts/setup.sh installs slurmctld, slurmd, munge): "
              f"{start.stderr.strip()[-600:]}")
        if not exports:
            return exit_code()
        env["SLURM_CONF"] = exports[0].split("=", 1)[1].strip("'\"")
        try:
            run_jobs(vitq, work, env)
        finally:
            subprocess.run([CLUSTER, "stop", state], capture_output=True, text=True, env=env, timeout=120)

        shards = sorted(os.listdir(os.path.join(work, "stats")))
        check(shards == ["shard-4.json", "shard-6.json", "shard-8.json"], f"one statistics file per task: {shards}")
        single = os.path.join(work, "single.json")
        subprocess.run([vitq, "-q", "calibrate", MODEL, "--data", DATA, *SAMPLES, "--threads", "1", "-o", single],
                       check=True)
        check(os.path.exists(os.path.join(work, "merged.json")), "the dependent job wrote merged statistics")
        if os.path.exists(os.path.join(work, "merged.json")):
            merged, one = (json.load(open(p))["values"] for p in (os.path.join(work, "merged.json"), single))
            same = merged.keys() == one.keys() and all(
                merged[k][f] == v[f] for k, v in one.items() for f in ("min", "max", "count"))
            shard_samples = [s["samples"] for s in json.load(open(os.path.join(work, "merged.json")))["shards"]]
            check(same and shard_samples == [30, 30, 30],
                  f"merged min/max/count == one process on all 90 samples ({len(one)} activations), shards {shard_samples}")
        local = os.path.join(work, "local.onnx")
        subprocess.run([vitq, "-q", "quantize", MODEL, "--recipe", "minmax", "--data", DATA, *SAMPLES, "--eval-samples",
                        "16", "--threads", "1", "-o", local], check=True, capture_output=True)
        slurm = os.path.join(work, "slurm.onnx")
        check(os.path.exists(slurm) and digest(slurm) == digest(local),
              "the model quantized on Slurm == vitq quantize minmax in one process (same bytes)")
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
