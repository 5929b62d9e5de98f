#!/usr/bin/env python3
"""Block reconstruction speed of one vitq binary against another (the previous version) in the
same run: the same ``vitq quantize ... --recipe repquant`` command under ``/usr/bin/time -v``,
alternating between the binaries in each repeat; medians of wall time, of the reconstruction's own
seconds (the report's ``reconstruction[].seconds``) and of peak RSS, and whether both write the
same bytes.

    .venv/bin/python scripts/bench/recon_speed.py --base out/base/build/apps/vitq --new build/apps/vitq
        [--models ppocr-rec-c16,fmnist-hybrid-op17] [--iters 20] [--threads 1] [--repeats 3]
        [--out out/bench/recon_speed.json]

A base binary from an earlier commit: ``git worktree add out/base REV && cmake -S out/base -B
out/base/build -G Ninja -DVITQ_BUILD_TESTS=OFF && cmake --build out/base/build --target vitq``.
The command is W4A4 ``--recipe repquant --placement inputs --depthwise-inputs per-channel
--recon-drop 0.5 --seed 0`` with ``--recon-iters`` steps per block (few: the cost per step is what
changes; calibration and the dual-clipping search are in the wall time, not in the reconstruction's).
"""
import argparse
import filecmp
import json
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import registry  # noqa: E402
from quantize_cost import timed  # noqa: E402


def quantize_cmd(vitq, entry, data, args, out, report):
    cmd = [vitq, "-q", "quantize", registry.path(entry["model"]), "--data", data, "--wbits", "4", "--abits", "4",
           "--recipe", "repquant", "--placement", "inputs", "--depthwise-inputs", "per-channel",
           "--recon-drop", "0.5", "--recon-iters", str(args.iters), "--seed", "0", "--threads", str(args.threads),
           "--eval-samples", "4", "-o", out, "--report", report, "--no-guard"]
    if entry.get("calib_limit"):
        cmd += ["--calib-samples", str(entry["calib_limit"])]
    return cmd


def reconstruction_seconds(report):
    with open(report) as f:
        return sum(block["seconds"] for block in json.load(f)["reconstruction"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="the previous vitq binary")
    ap.add_argument("--new", required=True, help="the vitq binary to measure")
    ap.add_argument("--models", default="ppocr-rec-c16,fmnist-hybrid-op17")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(registry.ROOT, "out", "bench", "recon_speed.json"))
    args = ap.parse_args()
    results = {"iters": args.iters, "threads": args.threads, "repeats": args.repeats, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for mid in args.models.split(","):
            entry = registry.BY_ID[mid]
            data = registry.vitq_data(entry, tmp)
            runs = {"base": [], "new": []}
            for _ in range(args.repeats):
                for name in runs:
                    out, report = os.path.join(tmp, f"{name}.onnx"), os.path.join(tmp, f"{name}.json")
                    wall, rss, ok, tail = timed(quantize_cmd(getattr(args, name), entry, data, args, out, report), 0)
                    if not ok:
                        sys.exit(f"{mid}: the {name} binary failed: {' '.join(tail)}")
                    runs[name].append((wall, reconstruction_seconds(report), rss))
            row = {name: {"wall_s": statistics.median(r[0] for r in rs),
                          "reconstruction_s": statistics.median(r[1] for r in rs),
                          "rss_mib": statistics.median(r[2] for r in rs)} for name, rs in runs.items()}
            row["same_bytes"] = filecmp.cmp(os.path.join(tmp, "base.onnx"), os.path.join(tmp, "new.onnx"),
                                            shallow=False)
            results["models"][mid] = row
            print(mid, json.dumps(row), flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\n{args.iters} steps per block, {args.threads} thread(s), medians of {args.repeats}\n")
    print("| model | wall s base / new | reconstruction s base / new (ratio) | peak RSS MiB base / new | same bytes |")
    print("|---|---|---|---|---|")
    for mid, row in results["models"].items():
        b, n = row["base"], row["new"]
        print(f"| {mid} | {b['wall_s']:.1f} / {n['wall_s']:.1f} | {b['reconstruction_s']:.1f} / "
              f"{n['reconstruction_s']:.1f} ({n['reconstruction_s'] / b['reconstruction_s']:.2f}x) | "
              f"{b['rss_mib']:.0f} / {n['rss_mib']:.0f} | {'yes' if row['same_bytes'] else 'no'} |")


if __name__ == "__main__":
    main()
