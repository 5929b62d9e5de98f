#!/usr/bin/env python3
"""The per-model table of docs/benchmarks.md ("Model-zoo corpus") from `run_zoo.py --json`: one row
per model and recipe, its styles, the status counts, the lowest ONNX Runtime cosines, the longest
vitq run, what auto chose and the first reason a row was not green.

    zoo_summary.py zoo.json
"""
import json
import sys


def main():
    rows = json.load(open(sys.argv[1]))
    groups = {}
    for r in rows:
        base = r["recipe"].split(" (")[0]
        groups.setdefault((r["model"], base), []).append(r)
    print("| model | styles | recipes | status | min ORT cosine (optimized / none) | max vitq time s | note |")
    print("|---|---|---|---|---|---|---|")
    for (model, base), rs in groups.items():
        counts = {}
        for r in rs:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        cos = [min((r[k] for r in rs if r[k] is not None), default=None) for k in ("ort_cosine_opt", "ort_cosine_noopt")]
        cosines = " / ".join("-" if c is None else f"{c:.4f}" for c in cos)
        seconds = max((r["seconds"] or 0) for r in rs)
        chose = sorted({r["recipe"].split(" (", 1)[1].rstrip(")") for r in rs if " (" in r["recipe"]})
        note = ("auto chose: " + "; ".join(chose)) if chose else ""
        reasons = [r["reason"] for r in rs if r["status"] != "green" and r["reason"]]
        if reasons:
            note += ("; " if note else "") + reasons[0][:160].replace("|", "\\|")
        styles = " ".join(sorted({r["style"] for r in rs}))
        print(f"| {model} | {styles} | {base} | {status} | {cosines} | {seconds:.1f} | {note} |")


if __name__ == "__main__":
    main()
