#!/usr/bin/env python3
"""`vitq inspect --json` on the real PP-OCR models reports what is really in them: PP-OCRv4 rec
has 2 attention blocks, 5 decomposed LayerNorms (2 per SVTR block plus the final one), all weights
held in Constant nodes, and one bridge each way between its conv backbone and SVTR neck. Its
`quantizable_nodes` (and `inspect --nodes`) name the 51 quantizable nodes with their ops and weight
shapes, and each name is one `--exclude` accepts."""
import argparse
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "onnx_io"))
from roundtrip_ort import ppocr_dir  # noqa: E402

import onnx  # noqa: E402


def inspect(vitq, path):
    proc = subprocess.run([vitq, "inspect", "--json", path], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    vitq = parser.parse_args().vitq
    d = ppocr_dir()
    rec_path = os.path.join(d, "ch_PP-OCRv4_rec_infer.onnx")
    rec = inspect(vitq, rec_path)
    proto = onnx.load(rec_path)
    constants = sum(1 for n in proto.graph.node if n.op_type == "Constant")
    t = rec["transformer"]
    checks = {
        "2 attention blocks": len(t["attention"]) == 2,
        "5 decomposed LayerNorms, none fused": t["layernorm"]["decomposed"] == 5 and t["layernorm"]["fused"] == 0,
        "every Constant lifted": rec["parameters"]["lifted_from_constant_nodes"] == constants > 0,
        "no initializers in the file, all in Constants": len(proto.graph.initializer) == 0,
        "node count excludes lifted Constants": rec["nodes"] == len(proto.graph.node) - constants,
        "2.69 M float parameters": abs(rec["parameters"]["count"] - 2.69e6) < 0.01e6,
        "one bridge each way": sorted(b["direction"] for b in t["bridges"]) == ["conv->transformer", "transformer->conv"],
        "input x with dynamic width": rec["inputs"][0]["name"] == "x" and rec["inputs"][0]["shape"][1:3] == [3, 48],
        "opset 9": rec["opsets"] == [{"domain": "ai.onnx", "version": 9}],
        "quantizable = Conv + MatMul": rec["quantizable"]["by_op"] == {"Conv": 38, "MatMul": 13},
    }
    for name in ("ch_PP-OCRv4_det_infer.onnx", "ch_ppocr_mobile_v2.0_cls_infer.onnx"):
        cnn = inspect(vitq, os.path.join(d, name))
        checks[f"{name}: no attention, no bridge"] = not cnn["transformer"]["attention"] and not cnn["transformer"]["bridges"]
    text = subprocess.run([vitq, "inspect", rec_path], capture_output=True, text=True, check=True).stdout
    checks["text output lists attention"] = "attention blocks (MatMul-Softmax-MatMul): 2" in text
    nodes = rec["quantizable_nodes"]
    names = {n.name: n for n in proto.graph.node}
    checks["51 quantizable nodes listed by name with their op"] = len(nodes) == 51 and all(
        q["name"] in names and names[q["name"]].op_type == q["op"] for q in nodes)
    conv = next(q for q in nodes if q["op"] == "Conv")
    checks["a Conv's weight shape is listed"] = isinstance(conv["weight"], list) and len(conv["weight"]) == 4
    listed = subprocess.run([vitq, "inspect", rec_path, "--nodes"], capture_output=True, text=True, check=True).stdout
    checks["--nodes prints one line per quantizable node"] = all(f"  {q['name']}  {q['op']}  " in listed for q in nodes)
    failed = [k for k, ok in checks.items() if not ok]
    for k, ok in checks.items():
        print(("ok   " if ok else "FAIL ") + k)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
