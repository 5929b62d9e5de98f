#!/usr/bin/env python3
"""Peer baselines: ONNX Runtime quantize_static (MinMax, Entropy, Percentile) and NNCF at W8A8.

For every model of registry.py and every method, quantize_one.py runs ``--repeats`` times in a
fresh process under ``/usr/bin/time -v``; recorded: the median wall time of the quantization
calls (``quantize_s``), the median wall time of the whole process (``process_s``, with imports),
the median peak RSS of the process, the task metric of the produced model (evaluate.py against the
FP32 model) and its ONNX Runtime latency (batch 1, 1 thread, median of ``--latency-runs``),
measured alternately with the FP32 model's so that the ratio comes from one run.

Models below opset 13 (the PP-OCR exports) are first converted to opset 13 with
``onnx.version_converter`` (checked to give identical outputs, not timed): ORT writes invalid
per-channel DequantizeLinear nodes into an opset-9 model and NNCF refuses opset < 10.

Each quantization process runs under an address-space cap (``--mem-cap-gib``, default 12 GiB) so
that a calibrator that keeps every activation in memory fails alone instead of waking the OOM
killer. Results go to ``out/bench/peers.json`` (updated after each method); report.py renders them.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "eval"))
import registry  # noqa: E402
import evaluate  # noqa: E402

ROOT = registry.ROOT
METHODS = ["ort-minmax", "ort-entropy", "ort-percentile", "nncf"]


def prepare_input(entry, work):
    import onnx
    import onnxruntime as ort
    src = registry.path(entry["model"])
    m = onnx.load(src, load_external_data=False)
    opset = max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    if opset >= 13:
        return src, {"opset": opset}
    from onnx import version_converter
    conv = os.path.join(work, "input_op13.onnx")
    onnx.save(version_converter.convert_version(onnx.load(src), 13), conv)
    names = [i.name for i in ort.InferenceSession(src, providers=["CPUExecutionProvider"]).get_inputs()]
    feed = registry.calib_feeds(entry, names)[0]
    a = ort.InferenceSession(src, providers=["CPUExecutionProvider"]).run(None, feed)[0]
    b = ort.InferenceSession(conv, providers=["CPUExecutionProvider"]).run(None, feed)[0]
    diff = float(np.abs(a - b).max())
    if diff > 1e-5:
        raise SystemExit(f"{entry['id']}: opset-13 conversion changes outputs (max diff {diff})")
    return conv, {"opset": opset, "converted_to": 13, "conversion_max_abs_diff": diff}


def time_v(cmd, timeout, mem_cap_gib):
    def cap():
        import resource
        lim = int(mem_cap_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))

    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, timeout=timeout,
                       preexec_fn=cap if mem_cap_gib else None)
    wall = time.perf_counter() - t0
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    res = None
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            res = json.loads(line)
    return p.returncode, wall, int(rss.group(1)) * 1024 if rss else None, res, p.stderr[-3000:]


def latency_pair(task, fp32, qmodel, runs, rounds=3):
    """Alternate FP32 and quantized latency measurements; return medians of the round medians."""
    import argparse
    data = evaluate.rpath(evaluate.DEFAULT_DATA[task])
    lat = lambda model: evaluate.latency(argparse.Namespace(task=task, model=model, threads=1), data,
                                         runs=runs)["median"]
    f, q = [], []
    for _ in range(rounds):
        f.append(lat(fp32))
        q.append(lat(qmodel))
    return statistics.median(f), statistics.median(q)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(m["id"] for m in registry.MODELS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--mem-cap-gib", type=float, default=12.0,
                    help="address-space limit of each quantization process (0: none); a run that needs "
                         "more fails and is recorded as out of memory")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "bench", "peers.json"))
    ap.add_argument("--eval-limit", type=int, default=None, help="evaluate on the first N samples only")
    args = ap.parse_args()
    results = {}
    if os.path.exists(args.out):
        with open(args.out) as fh:
            results = json.load(fh)
    import onnxruntime
    results.setdefault("meta", {}).update({
        "python": sys.version.split()[0], "onnxruntime": onnxruntime.__version__, "cpus": os.cpu_count(),
        "repeats": args.repeats, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    })
    try:
        import nncf
        results["meta"]["nncf"] = nncf.__version__
    except Exception:  # noqa: BLE001
        pass
    import onnx
    results["meta"]["onnx"] = onnx.__version__
    results.setdefault("models", {})
    src_json = os.path.join(ROOT, "data", "ppocr", "SOURCE.json")
    if any(registry.BY_ID[m]["task"].startswith("ppocr") for m in args.models.split(",")) and os.path.exists(src_json):
        with open(src_json) as fh:
            if json.load(fh).get("fast"):
                raise SystemExit("data/ppocr holds the --fast subset: run scripts/prepare_all.sh (without --fast) first")
    for mid in args.models.split(","):
        entry = registry.BY_ID[mid]
        if not os.path.isfile(registry.path(entry["model"])):
            print(f"skip {mid}: {entry['model']} missing", flush=True)
            continue
        work = os.path.join(ROOT, "out", "bench", mid)
        os.makedirs(work, exist_ok=True)
        src, conv = prepare_input(entry, work)
        fp32 = evaluate.evaluate(entry["task"], entry["model"], limit=args.eval_limit)
        rec = results["models"].setdefault(mid, {})
        rec.update({"task": entry["task"], "model": entry["model"], "kind": entry["kind"], "input": conv,
                    "fp32": fp32["metrics"], "eval_n": fp32["n"]})
        rec.setdefault("methods", {})
        print(f"== {mid}: FP32 {fp32['metrics']}", flush=True)
        for method in args.methods.split(","):
            out_model = os.path.join(work, f"{method}.onnx")
            runs, err = [], None
            for r in range(args.repeats):
                cmd = [sys.executable, os.path.join(HERE, "quantize_one.py"), "--id", mid, "--method", method,
                       "--out", out_model, "--src", src]
                try:
                    rc, wall, rss, res, stderr = time_v(cmd, args.timeout, args.mem_cap_gib)
                except subprocess.TimeoutExpired:
                    err = f"timeout after {args.timeout} s"
                    break
                if rc != 0 or res is None:
                    lines = [l for l in stderr.splitlines() if l.strip() and not l.startswith("\t")
                             and not l.startswith("Command ") and "warn" not in l.lower()]
                    err = (lines[-1] if lines else f"exit {rc}")[:300]
                    if "MemoryError" in stderr or "bad_alloc" in stderr or "Failed to allocate" in stderr \
                            or "signal 9" in err:
                        err = f"out of memory (process capped at {args.mem_cap_gib:g} GiB address space): {err}"
                    break
                runs.append({"quantize_s": res["quantize_s"], "process_s": wall, "peak_rss_bytes": rss})
                print(f"   {method} run {r + 1}: {res['quantize_s']:.1f} s, {rss / 2**20:.0f} MiB", flush=True)
            m = {"runs": runs}
            if err:
                m["error"] = err
                print(f"   {method}: ERROR {err}", flush=True)
            if runs:
                m["quantize_s"] = statistics.median(x["quantize_s"] for x in runs)
                m["process_s"] = statistics.median(x["process_s"] for x in runs)
                m["peak_rss_bytes"] = statistics.median(x["peak_rss_bytes"] for x in runs)
                m["calib_samples"] = res["calib_samples"]
                try:
                    ev = evaluate.evaluate(entry["task"], out_model, reference=entry["model"], limit=args.eval_limit)
                    m["metrics"] = ev["metrics"]
                    f_ms, q_ms = latency_pair(entry["task"], entry["model"], out_model, 30)
                    m["latency_ms"], m["fp32_latency_ms"] = q_ms, f_ms
                except Exception as e:  # noqa: BLE001  (an invalid produced model is a result too)
                    m["error"] = f"produced model fails in ORT: {type(e).__name__}: {str(e)[:300]}"
                    print(f"   {method}: {m['error']}", flush=True)
                print(f"   {method}: {m.get('metrics')} latency {m.get('latency_ms')} vs FP32 "
                      f"{m.get('fp32_latency_ms')}", flush=True)
            rec["methods"][method] = m
            with open(args.out, "w") as fh:
                json.dump(results, fh, indent=1)
    print(f"results -> {args.out}")


if __name__ == "__main__":
    main()
