#!/usr/bin/env python3
"""Summarize NoisyQuant's per-activation search from vitq reports (the `noisy_bias` list of
`vitq quantize --recipe R+noisy --report X.json`): the readers' SQNR before and after, grouped by
what reads the activation (fc2 = post-GELU, qkv/fc1 = post-LayerNorm, proj = attention output).

    noisy_sites.py out/noisy/*noisy.json
"""
import collections
import json
import statistics
import sys


def group(consumers):
    c = " ".join(consumers)
    if "fc2" in c:
        return "fc2 input (post-GELU)"
    if "qkv" in c or "fc1" in c or "query" in c:
        return "qkv/fc1 input (post-LayerNorm)"
    if "proj" in c:
        return "proj input (attention output)"
    return "other"


def main():
    print("| report | readers | activations | SQNR before dB | after dB | mean gain dB | max gain dB | noise kept |")
    print("|---|---|---|---|---|---|---|---|")
    for path in sys.argv[1:]:
        with open(path) as f:
            sites = json.load(f).get("noisy_bias", [])
        groups = collections.defaultdict(list)
        for s in sites:
            groups[group(s["consumers"])].append(s)
        for name, items in sorted(groups.items()):
            before = statistics.mean(s["sqnr_before_db"] for s in items)
            after = statistics.mean(s["sqnr_after_db"] for s in items)
            gains = [s["sqnr_after_db"] - s["sqnr_before_db"] for s in items]
            kept = sum(1 for s in items if s["amplitude"] > 0)
            print(f"| {path.split('/')[-1][:-5]} | {name} | {len(items)} | {before:.2f} | {after:.2f} | "
                  f"{statistics.mean(gains):.3f} | {max(gains):.3f} | {kept} |")


if __name__ == "__main__":
    main()
