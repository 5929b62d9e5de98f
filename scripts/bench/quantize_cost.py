#!/usr/bin/env python3
"""What a W8A8 quantization costs: vitq quantize against ONNX Runtime's quantize_static on the same
model and the same calibration samples, as wall time and peak RSS of one process each
(``/usr/bin/time -v``), and vitq's peak RSS as the number of calibration samples grows.

    .venv/bin/python scripts/bench/quantize_cost.py --vitq build/apps/vitq [--models ID,...]
        [--samples 64] [--recipes minmax,entropy,repq-vit] [--threads 1] [--repeats 3] [--flat 64,256,1024]
        [--peer-python out/venv-bench/bin/python]
        [--out out/bench/quantize_cost.json]

* vitq: ``vitq quantize MODEL --data CALIB --calib-samples N --eval-samples 16 --recipe
  minmax|entropy|repq-vit --threads T`` (the whole command: load, calibrate, export, a 16-sample
  report); repq-vit is timed against ORT's MinMax.
* ONNX Runtime: ``scripts/bench/quantize_one.py --method ort-minmax|ort-entropy --calib-limit N``
  (quant_pre_process + quantize_static with ORT's defaults: its calibration session uses every core
  while vitq uses one thread; the process
  time includes Python's imports, as a user's script would).
* Runs alternate between the tools in each repeat (same load on the shared machine); medians.
  Each process runs under an address-space cap (``--mem-cap-gib``) so that a calibrator that keeps
  every activation fails alone.
* Flatness: vitq minmax peak RSS on the Fashion-MNIST ViT with 64 ... 1024 calibration images
  (the test images), median of the repeats.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import registry  # noqa: E402

RECIPES = {"minmax": "ort-minmax", "entropy": "ort-entropy", "repq-vit": "ort-minmax"}  # vitq recipe -> peer


def timed(cmd, cap_gib):
    """(wall seconds, peak RSS MiB, ok, stderr tail) of one process under /usr/bin/time -v."""
    limit = f"ulimit -v {int(cap_gib * 1024 * 1024)}; " if cap_gib else ""
    shell = limit + "exec /usr/bin/time -v " + " ".join(f"'{c}'" for c in cmd)
    proc = subprocess.run(["bash", "-c", shell], capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    seconds = (int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))) if wall else None
    lines = [ln for ln in proc.stderr.strip().splitlines() if not ln.startswith("\t")]
    tail = lines[-3:]
    return seconds, int(rss.group(1)) / 1024 if rss else None, proc.returncode == 0, tail


def vitq_cmd(args, model, data, samples, recipe, out):
    return [args.vitq, "-q", "quantize", model, "--data", data, "--calib-samples", str(samples),
            "--eval-samples", "16", "--recipe", recipe, "--threads", str(args.threads), "-o", out, "--no-guard"]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitq", required=True)
    ap.add_argument("--models", default="fmnist-vit-op13,fmnist-hybrid-op13,minilm,ppocr-rec")
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--recipes", default="minmax,entropy",
                    help="vitq recipes, each timed against its peer: minmax and repq-vit against ORT MinMax, "
                         "entropy against ORT Entropy")
    ap.add_argument("--threads", type=int, default=1,
                    help="vitq --threads (ONNX Runtime's calibration session uses every core whatever this says)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--flat", default="64,256,1024")
    ap.add_argument("--mem-cap-gib", type=float, default=12)
    ap.add_argument("--peer-python", default=os.path.join(registry.ROOT, "out", "venv-bench", "bin", "python"),
                    help="Python with ONNX Runtime's quantization tools (onnx >= 1.16; scripts/bench/run_peers.sh "
                         "makes out/venv-bench)")
    ap.add_argument("--out", default=os.path.join(registry.ROOT, "out", "bench", "quantize_cost.json"))
    args = ap.parse_args()
    py = args.peer_python
    results = {"samples": args.samples, "models": {}, "flat": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for mid in args.models.split(","):
            entry = registry.BY_ID[mid]
            model, data = registry.path(entry["model"]), registry.vitq_data(entry, tmp)
            runs = {}
            recipes = args.recipes.split(",")
            for _ in range(args.repeats):
                peers_timed = set()
                for recipe in recipes:
                    runs.setdefault(f"vitq-{recipe}", []).append(
                        timed(vitq_cmd(args, model, data, args.samples, recipe, os.path.join(tmp, "v.onnx")),
                              args.mem_cap_gib))
                    peer = RECIPES[recipe]
                    if peer in peers_timed:
                        continue
                    peers_timed.add(peer)
                    runs.setdefault(peer, []).append(
                        timed([py, os.path.join(HERE, "quantize_one.py"), "--id", mid, "--method", peer,
                               "--calib-limit", str(args.samples), "--out", os.path.join(tmp, "o.onnx")],
                              args.mem_cap_gib))
            row = {}
            for tool, rs in runs.items():
                ok = all(r[2] for r in rs)
                row[tool] = {"seconds": median([r[0] for r in rs]) if ok else None,
                             "rss_mib": median([r[1] for r in rs]), "ok": ok,
                             "error": None if ok else next(r[3] for r in rs if not r[2])}
            results["models"][mid] = row
            print(mid, json.dumps(row), flush=True)
        vit = registry.BY_ID["fmnist-vit-op13"]
        test_x = os.path.join(registry.ROOT, "data", "fashion_mnist", "test_x.npy")
        for n in [int(x) for x in args.flat.split(",") if x]:
            rs = [timed(vitq_cmd(args, registry.path(vit["model"]), test_x, n, "minmax", os.path.join(tmp, "f.onnx")),
                        args.mem_cap_gib) for _ in range(args.repeats)]
            results["flat"][n] = {"seconds": median([r[0] for r in rs]), "rss_mib": median([r[1] for r in rs])}
            print("flat", n, results["flat"][n], flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print_table(results)


def print_table(results):
    print("\n| model | vitq recipe | s / MiB | peer | s / MiB | time vitq/peer | RSS vitq/peer |")
    print("|---|---|---|---|---|---|---|")
    fmt = lambda r: f"{r['seconds']:.1f} / {r['rss_mib']:.0f}" if r["ok"] else "failed"  # noqa: E731
    ratio = lambda a, b, k: f"{a[k] / b[k]:.2f}x" if a["ok"] and b["ok"] else "-"  # noqa: E731
    for mid, row in results["models"].items():
        for tool, mine in row.items():
            if not tool.startswith("vitq-"):
                continue
            peer = RECIPES[tool[len("vitq-"):]]
            theirs = row[peer]
            print(f"| {mid} | {tool[len('vitq-'):]} | {fmt(mine)} | {peer} | {fmt(theirs)} | "
                  f"{ratio(mine, theirs, 'seconds')} | {ratio(mine, theirs, 'rss_mib')} |")
    if results["flat"]:
        print("\n| calibration samples | vitq minmax s | peak RSS MiB |\n|---|---|---|")
        for n, r in results["flat"].items():
            print(f"| {n} | {r['seconds']:.1f} | {r['rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
