#!/usr/bin/env python3
"""`vitq quantize --int4`: W4A4 exports with ONNX's INT4/UINT4 types at opset 21 load and run in
ONNX Runtime, compute what the same model with 8-bit containers computes, agree with vitq's own
execution of the file, take less space, and are deterministic. Models: the Fashion-MNIST ViT
(opset 17), the hybrid at opset 13 (decomposed LayerNorms: ReduceMean raised to opset 21, per-channel
4-bit depthwise inputs) and PP-OCR rec (opset 9, Relus feeding 4-bit quantizers).

    int4_export_test.py --vitq build/apps/vitq

--quick (the sanitizer build): the same exports and checks on 16 calibration images instead of 32
to 128 and 4 PP-OCR lines instead of 8 (the fewest with which RepQ-ViT folds its LayerNorms: 256
rows per channel), compared on 200 test images instead of 1000 and 4 lines instead of 8; vitq's
report on 2 samples instead of 8.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_checks import check, digest, exit_code, ort_run, vitq_run  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FASHION = os.path.join(REPO, "data", "fashion_mnist")
INT4, UINT4 = 22, 21  # TensorProto.DataType values (onnx >= 1.16 names them)
REPORT_SAMPLES = "8"  # samples of vitq's report, of which only the tensor counts are read; 2 with --quick


def quantize(vitq, model, data, out, *flags):
    report = out[:-5] + ".json"
    # --no-guard: this test compares storage forms of the same model; some W4A4 settings here are
    # weak on purpose (symmetric min/max activations on the ViT: output cosine about 0.5).
    proc = subprocess.run([vitq, "-q", "quantize", model, "--data", data, "-o", out, "--report", report,
                           "--eval-samples", REPORT_SAMPLES, "--no-guard", *flags], capture_output=True, text=True)
    check(proc.returncode == 0, f"quantize {os.path.basename(out)} {' '.join(flags)}: {proc.stderr.strip()[-300:]}")
    with open(report) as f:
        return json.load(f), proc.stderr


def storage(path):
    """(ai.onnx opset, IR version, weight element types, activation quantizer types) of a QDQ model."""
    m = onnx.load(path)
    init = {t.name: t for t in m.graph.initializer}
    weights = [init[n.input[0]].data_type for n in m.graph.node
               if n.op_type == "DequantizeLinear" and n.input[0] in init and init[n.input[0]].data_type != 6]
    acts = [init[n.input[2]].data_type for n in m.graph.node if n.op_type == "QuantizeLinear"]
    opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    return opset, m.ir_version, weights, acts


def compare_pair(vitq, name, model, data, x, tmp, flags, agree_floor, with_vitq=True):
    """Quantizes twice (8-bit containers and --int4) and checks the 4-bit file against the other."""
    plain, packed = os.path.join(tmp, f"{name}.onnx"), os.path.join(tmp, f"{name}_int4.onnx")
    quantize(vitq, model, data, plain, *flags)
    report, _ = quantize(vitq, model, data, packed, *flags, "--int4")
    if not (os.path.exists(plain) and os.path.exists(packed)):
        return None
    opset, ir, weights, acts = storage(packed)
    check(opset == 21 and ir >= 10, f"{name}: opset {opset}, IR {ir} (21, >= 10)")
    check(weights and all(t == INT4 for t in weights), f"{name}: {len(weights)} weights, all INT4")
    four = sum(t in (INT4, UINT4) for t in acts)
    check(four > 0 and report["quantization"]["four_bit_tensors"] == four + len(weights),
          f"{name}: {four} of {len(acts)} activation quantizers 4-bit, report says "
          f"{report['quantization']['four_bit_tensors']} 4-bit tensors in all")
    ratio = os.path.getsize(packed) / os.path.getsize(plain)
    check(ratio < 0.8, f"{name}: file {ratio:.2f}x the 8-bit container export's (< 0.8)")
    a, b = ort_run(plain, x, batch=8), ort_run(packed, x, batch=8)
    agree = float((a.argmax(-1) == b.argmax(-1)).mean())
    check(agree >= agree_floor, f"{name}: ONNX Runtime, 4-bit types vs 8-bit containers: argmax agreement {agree:.4f} "
          f"(>= {agree_floor}), max |diff| {np.abs(a - b).max():.3g} of max |out| {np.abs(a).max():.3g}")
    if with_vitq:
        v, err = vitq_run(vitq, packed, x, tmp)
        check(v is not None, f"{name}: vitq runs its 4-bit export {err.strip()[-200:]}")
        if v is not None:
            agree = float((v.argmax(-1) == b.argmax(-1)).mean())
            check(agree >= agree_floor, f"{name}: vitq vs ONNX Runtime on the 4-bit export: argmax agreement "
                  f"{agree:.4f} (>= {agree_floor}), max |diff| {np.abs(v - b).max():.3g}")
    return packed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitq", required=True)
    ap.add_argument("--quick", action="store_true", help="fewer calibration samples and test images (sanitizer builds)")
    args = ap.parse_args()
    vitq, quick = args.vitq, args.quick
    if quick:
        global REPORT_SAMPLES
        REPORT_SAMPLES = "2"

    def samples(n):
        """Calibration samples: 16 with --quick."""
        return "16" if quick else str(n)

    tmp = tempfile.mkdtemp(prefix="vitq-int4-")
    calib = os.path.join(FASHION, "calib_x.npy")
    test_x = np.load(os.path.join(FASHION, "test_x.npy"))[:200 if quick else 1000]
    models = os.path.join(REPO, "tests", "data", "models")

    vit = compare_pair(vitq, "vit", os.path.join(models, "fmnist_vit_op17.onnx"), calib, test_x, tmp,
                       ["--calib-samples", samples(128), "--wbits", "4", "--abits", "4", "--recipe", "repq-vit"], 0.99)
    if vit:
        again = os.path.join(tmp, "vit_int4_again.onnx")
        quantize(vitq, os.path.join(models, "fmnist_vit_op17.onnx"), calib, again, "--calib-samples", samples(128),
                 "--wbits", "4", "--abits", "4", "--recipe", "repq-vit", "--int4")
        check(os.path.exists(again) and digest(again) == digest(vit), "vit: the same command writes the same bytes")

    # Symmetric activations: INT4 codes on [-7, 7], clipped like the 8-bit container export.
    compare_pair(vitq, "vit_symmetric", os.path.join(models, "fmnist_vit_op17.onnx"), calib, test_x, tmp,
                 ["--calib-samples", samples(32), "--wbits", "4", "--abits", "4", "--recipe", "minmax",
                  "--symmetric-activations"], 0.99,
                 with_vitq=False)

    hybrid = compare_pair(vitq, "hybrid", os.path.join(models, "fmnist_hybrid_op13.onnx"), calib, test_x, tmp,
                          ["--calib-samples", samples(128), "--wbits", "4", "--abits", "4", "--recipe", "minmax", "--placement", "inputs",
                           "--depthwise-inputs", "per-channel"], 0.99)
    if hybrid:
        m = onnx.load(hybrid)
        means = [n for n in m.graph.node if n.op_type == "ReduceMean"]
        check(means and all(len(n.input) == 2 and not any(a.name == "axes" for a in n.attribute) for n in means),
              f"hybrid: {len(means)} ReduceMean nodes take their axes as an input at opset 21")
        axis = [n for n in m.graph.node if n.op_type == "QuantizeLinear" and any(a.name == "axis" for a in n.attribute)]
        check(len(axis) > 0, f"hybrid: {len(axis)} per-channel 4-bit activation quantizers")

    rec_model = os.path.join(REPO, "models", "ppocr", "ch_PP-OCRv4_rec_infer.onnx")
    lines = 4 if quick else 8
    rec_x = np.load(os.path.join(REPO, "data", "ppocr", "rec_eval", "x.npy"), mmap_mode="r")[:lines].copy()
    rec_calib = os.path.join(tmp, "rec_calib.npy")
    np.save(rec_calib, np.load(os.path.join(REPO, "data", "ppocr", "rec_calib", "x.npy"), mmap_mode="r")[:lines])
    rec = compare_pair(vitq, "ppocr_rec", rec_model, rec_calib, rec_x, tmp,
                       ["--wbits", "4", "--abits", "4", "--recipe", "repq-vit", "--placement", "inputs",
                        "--depthwise-inputs", "per-channel"], 0.95, with_vitq=False)
    if rec:
        m = onnx.load(rec)
        made = {o: n for n in m.graph.node for o in n.output}
        init = {t.name: t for t in m.graph.initializer}
        behind = [n.name for n in m.graph.node if n.op_type == "QuantizeLinear" and init[n.input[2]].data_type in (INT4, UINT4)
                  and n.input[0] in made and made[n.input[0]].op_type in ("Relu", "Clip")]
        check(not behind, f"ppocr_rec: no Relu/Clip feeds a 4-bit quantizer ({behind[:3]})")

    # W8A4: the activations of layers with 8-bit weights stay in 8-bit containers (ONNX Runtime would
    # fuse QLinearConv/QLinearMatMul and refuse 4-bit inputs); the attention MatMuls' are 4-bit.
    plain, packed = os.path.join(tmp, "w8a4.onnx"), os.path.join(tmp, "w8a4_int4.onnx")
    flags = ["--calib-samples", samples(64), "--wbits", "8", "--abits", "4", "--recipe", "minmax"]
    quantize(vitq, os.path.join(models, "fmnist_vit_op17.onnx"), calib, plain, *flags)
    quantize(vitq, os.path.join(models, "fmnist_vit_op17.onnx"), calib, packed, *flags, "--int4")
    if os.path.exists(plain) and os.path.exists(packed):
        _, _, weights, acts = storage(packed)
        a, b = ort_run(plain, test_x), ort_run(packed, test_x)
        agree = float((a.argmax(-1) == b.argmax(-1)).mean())
        check(INT4 not in weights and UINT4 in acts and agree >= 0.99,
              f"W8A4 --int4: weights 8-bit, {sum(t == UINT4 for t in acts)} of {len(acts)} activations 4-bit, loads "
              f"in ONNX Runtime, argmax agreement with the 8-bit containers {agree:.4f} (>= 0.99)")
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
