#!/usr/bin/env python3
"""Render out/bench/peers.json as Markdown tables (stdout, or --update docs/benchmarks.md between
the ``<!-- peers:begin -->`` and ``<!-- peers:end -->`` markers)."""
import argparse
import json
import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEY_METRICS = {
    "ppocr-rec": [("cer", "CER", "pct"), ("exact_line_rate", "exact lines", "pct"),
                  ("agreement_with_reference", "same text as FP32", "pct")],
    "ppocr-det": [("map_iou", "map IoU vs FP32", "f3"), ("box_f", "box F", "f3")],
    "ppocr-cls": [("accuracy", "accuracy", "pct"), ("agreement_with_reference", "agree FP32", "pct")],
    "fashion-mnist": [("top1", "top-1", "pct"), ("agreement_with_reference", "agree FP32", "pct")],
    "minilm": [("cosine_mean", "cos mean", "f4"), ("cosine_min", "cos min", "f4"),
               ("retrieval_top1_agreement", "NN@1 agree", "pct")],
    "synthetic": [("output_cosine_mean", "logit cos", "f4"), ("output_sqnr_db", "SQNR dB", "f1")],
}


def fmt(v, kind):
    if v is None:
        return "–"
    if kind == "pct":
        return f"{100 * v:.2f} %"
    return {"f3": f"{v:.3f}", "f4": f"{v:.4f}", "f1": f"{v:.1f}"}[kind]


def clean(err):
    return re.sub(r":? ?Command (exited with non-zero status \d+|terminated by signal \d+)", "", err).strip()


def render_fp32(res):
    out = ["| model | kind | task | samples | FP32 metrics | FP32 latency ms (batch 1, 1 thread) |",
           "|---|---|---|---|---|---|"]
    for mid, rec in res.get("models", {}).items():
        lat = [m["fp32_latency_ms"] for m in rec.get("methods", {}).values() if "fp32_latency_ms" in m]
        kinds = {k: kind for k, _, kind in KEY_METRICS[rec["task"]]}
        mets = ", ".join(f"{k} {fmt(v, kinds[k])}" if k in kinds else f"{k} {v:.3g}"
                         for k, v in rec["fp32"].items())
        out.append(f"| {mid} | {rec['kind']} | {rec['task']} | {rec['eval_n']} | {mets} | "
                   f"{sorted(lat)[len(lat) // 2]:.2f} |" if lat else
                   f"| {mid} | {rec['kind']} | {rec['task']} | {rec['eval_n']} | {mets} | – |")
    return "\n".join(out)


def render_fmnist():
    path = os.path.join(ROOT, "tests", "data", "models", "fashion_mnist.json")
    if not os.path.exists(path):
        return "(not trained yet)"
    with open(path) as f:
        j = json.load(f)
    out = ["| file | arch | opset | params | epochs | train s | FP32 top-1 |", "|---|---|---|---|---|---|---|"]
    for name, r in sorted(j["models"].items()):
        out.append(f"| `{name}` | {r['arch']} | {r['opset']} | {r['params']:,} | {r['epochs']} | "
                   f"{r['train_seconds']:.0f} | {100 * r['top1']:.2f} % |")
    return "\n".join(out)


def nruns(res):
    counts = {len(m.get("runs", [])) for r in res.get("models", {}).values() for m in r.get("methods", {}).values()
              if "metrics" in m}
    return "/".join(str(c) for c in sorted(counts)) or "?"


def render(res):
    meta = res.get("meta", {})
    out = [f"Last run {meta.get('date', '?')} on {meta.get('cpus', '?')} shared CPU cores; ONNX Runtime "
           f"{meta.get('onnxruntime', '?')}, NNCF {meta.get('nncf', '?')}, onnx {meta.get('onnx', '?')}; "
           f"medians of {nruns(res)} runs per quantizer (a failing quantizer stops at its first failure) (wall time and peak RSS of one "
           f"quantization process, measured with `/usr/bin/time -v`); latency: batch 1, one ORT thread, "
           f"median of 3 alternating rounds of 30 runs each of FP32 and the quantized model.", ""]
    for mid, rec in res.get("models", {}).items():
        cols = KEY_METRICS[rec["task"]]
        out.append(f"### {mid} ({rec['kind']})")
        out.append("")
        note = f"`{rec['model']}`, evaluated on {rec['eval_n']} samples"
        if rec.get("input", {}).get("converted_to"):
            note += (f"; opset {rec['input']['opset']} converted to opset 13 with onnx.version_converter before "
                     f"every peer (identical outputs)")
        out.append(note + ".")
        out.append("")
        head = ["method"] + [c[1] for c in cols] + ["quantize s", "process s", "peak RSS MiB", "latency ms",
                                                     "FP32 latency ms"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        out.append("| FP32 | " + " | ".join(fmt(rec["fp32"].get(c[0]) if c[0] != "agreement_with_reference"
                                                  else None, c[2]) for c in cols) + " | | | | | |")
        for method, m in rec.get("methods", {}).items():
            if "metrics" not in m:
                out.append(f"| {method} | " + " | ".join("–" for _ in cols) +
                           f" | {m.get('quantize_s', 0):.1f} | | | | |" if m.get("quantize_s") else
                           f"| {method} | failed: {clean(m.get('error', '?'))} |")
                if m.get("quantize_s") and m.get("error"):
                    out.append(f"| | {m['error']} |")
                continue
            row = [method] + [fmt(m["metrics"].get(c[0]), c[2]) for c in cols]
            row += [f"{m['quantize_s']:.1f}", f"{m['process_s']:.1f}", f"{m['peak_rss_bytes'] / 2**20:.0f}",
                    f"{m['latency_ms']:.2f}", f"{m['fp32_latency_ms']:.2f}"]
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", default=os.path.join(ROOT, "out", "bench", "peers.json"))
    ap.add_argument("--update", help="Markdown file to update between the peers markers")
    args = ap.parse_args()
    with open(args.json) as f:
        res = json.load(f)
    text, fp32 = render(res), render_fp32(res)
    if not args.update:
        print(fp32 + "\n\n" + text)
        return
    with open(args.update) as f:
        doc = f.read()
    new = re.sub(r"(<!-- peers:begin -->\n).*?(<!-- peers:end -->)", lambda m: m.group(1) + text + "\n" + m.group(2),
                 doc, flags=re.S)
    new = re.sub(r"(<!-- fp32:begin -->\n).*?(<!-- fp32:end -->)",
                 lambda m: m.group(1) + fp32 + "\n" + m.group(2), new, flags=re.S)
    new = re.sub(r"(<!-- fmnist:begin -->\n).*?(<!-- fmnist:end -->)",
                 lambda m: m.group(1) + render_fmnist() + "\n" + m.group(2), new, flags=re.S)
    with open(args.update, "w") as f:
        f.write(new)


if __name__ == "__main__":
    main()
