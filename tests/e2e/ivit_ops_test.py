#!/usr/bin/env python3
"""The integer lowering of the CNN ops that PP-OCR-style hybrids use, on a small generated model.

x [N, 4, 6, W] (W dynamic) -> zero Pad by 1 (as a MobileViT-style hybrid pads 28 to 32) -> Conv ->
HardSwish (opset-14 op) and HardSigmoid(0.2, 0.5) -> their product -> AveragePool 2x2 ->
GlobalAveragePool (over the dynamic width) -> x * Sigmoid(1.5 x) -> Reshape to [N, -1], the N computed
in float from Shape (Shape -> Gather -> Cast to float -> Mul -> Cast to int64, as exporters compute
interpolated sizes) -> Gemm. Calibrated on width 8, run on width 12, so that the dynamic GlobalAveragePool
divides by a width it never saw. Checked:
1. `vitq quantize --recipe i-vit --format integer` lowers every op (integer only between the
   input quantizer and the output dequantizer).
2. ONNX Runtime's outputs equal `vitq run`'s element for element.
3. The integer model's outputs stay close to the float model's (SQNR floor).
4. --float-boundary: a decoder's ConvTranspose, Resize and lone Sigmoid, refused without it, run in
   float between a dequantizer and a quantizer with it, listed in the report; ORT == vitq exactly.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from e2e_checks import check, exit_code, ort_run, vitq_run  # noqa: E402
from ivit_test import integer_only  # noqa: E402

MIN_SQNR_DB = 25.0  # measured 33.7 dB (8-bit activations, a 16-bit product, two requantizations)


def build_model(path):
    rng = np.random.default_rng(7)
    w1 = rng.normal(0, 0.4, (8, 4, 3, 3)).astype(np.float32)
    b1 = rng.normal(0, 0.2, 8).astype(np.float32)
    w2 = rng.normal(0, 0.5, (8, 5)).astype(np.float32)
    b2 = rng.normal(0, 0.1, 5).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"), (np.array(1.5, np.float32), "k"),
              (np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"), (np.array(0.0, np.float32), "fill"),
              (np.array(0, np.int64), "batch_axis"), (np.array(1.0, np.float32), "one"),
              (np.array([0], np.int64), "axes0"), (np.array([-1], np.int64), "rest"))]
    nodes = [
        helper.make_node("Pad", ["x", "pads", "fill"], ["xp"], name="pad"),
        helper.make_node("Conv", ["xp", "w1", "b1"], ["c"], name="conv"),
        helper.make_node("HardSwish", ["c"], ["hs"], name="hardswish"),
        helper.make_node("HardSigmoid", ["c"], ["gate"], alpha=0.2, beta=0.5, name="hardsigmoid"),
        helper.make_node("Mul", ["hs", "gate"], ["p"], name="product"),
        helper.make_node("AveragePool", ["p"], ["a"], kernel_shape=[2, 2], strides=[2, 2], name="avgpool"),
        helper.make_node("GlobalAveragePool", ["a"], ["g"], name="gap"),
        helper.make_node("Mul", ["g", "k"], ["gk"], name="slope"),
        helper.make_node("Sigmoid", ["gk"], ["sig"], name="sigmoid"),
        helper.make_node("Mul", ["g", "sig"], ["silu"], name="silu"),
        helper.make_node("Shape", ["silu"], ["silu_shape"], name="shape"),
        helper.make_node("Gather", ["silu_shape", "batch_axis"], ["n"], name="batch"),
        helper.make_node("Cast", ["n"], ["n_float"], to=TensorProto.FLOAT, name="n_to_float"),
        helper.make_node("Mul", ["n_float", "one"], ["n_scaled"], name="n_times_one"),
        helper.make_node("Cast", ["n_scaled"], ["n_int"], to=TensorProto.INT64, name="n_to_int"),
        helper.make_node("Unsqueeze", ["n_int", "axes0"], ["n_vec"], name="n_vec"),
        helper.make_node("Concat", ["n_vec", "rest"], ["flat_shape"], axis=0, name="flat_shape"),
        helper.make_node("Reshape", ["silu", "flat_shape"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], name="fc"),
    ]
    graph = helper.make_graph(nodes, "cnn_ops",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4, 6, "w"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def build_decoder(path):
    """x -> Conv -> Relu -> ConvTranspose (stride 2, bias) -> Resize (nearest, x2) -> Sigmoid: three ops
    without an integer form, for --float-boundary."""
    rng = np.random.default_rng(9)
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((rng.normal(0, 0.4, (6, 4, 3, 3)).astype(np.float32), "w1"), (rng.normal(0, 0.1, 6).astype(np.float32), "b1"),
              (rng.normal(0, 0.3, (6, 3, 2, 2)).astype(np.float32), "wt"), (rng.normal(0, 0.1, 3).astype(np.float32), "bt"),
              (np.array([1, 1, 2, 2], np.float32), "scales"))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("ConvTranspose", ["r", "wt", "bt"], ["u"], strides=[2, 2], name="deconv"),
             helper.make_node("Resize", ["u", "", "scales"], ["z"], mode="nearest", name="resize"),
             helper.make_node("Sigmoid", ["z"], ["y"], name="sigmoid")]
    graph = helper.make_graph(nodes, "decoder", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3, 24, 24])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def float_boundary(vitq, tmp, rng):
    """Without --float-boundary the export names the first op it cannot lower; with it, those ops run
    in float between a dequantizer and a quantizer, ONNX Runtime and vitq agree exactly, and the
    report lists them."""
    model, out = os.path.join(tmp, "decoder.onnx"), os.path.join(tmp, "decoder_int.onnx")
    build_decoder(model)
    calib = os.path.join(tmp, "decoder_calib.npy")
    np.save(calib, rng.uniform(-2, 2, (32, 4, 6, 6)).astype(np.float32))
    base = [vitq, "-q", "quantize", model, "--data", calib, "-o", out, "--recipe", "i-vit", "--format", "integer"]
    proc = subprocess.run(base, capture_output=True, text=True)
    check(proc.returncode == 2 and "node 'deconv' (ConvTranspose): op ConvTranspose has no integer lowering" in proc.stderr,
          f"without --float-boundary: exit 2 naming the ConvTranspose ({proc.returncode}: {proc.stderr.strip()[-200:]})")
    report = os.path.join(tmp, "decoder.json")
    proc = subprocess.run(base + ["--float-boundary", "--report", report], capture_output=True, text=True)
    check(proc.returncode == 0, f"with --float-boundary: exit 0 ({proc.stderr.strip()[-300:]})")
    if proc.returncode != 0:
        return
    import json
    kept = json.load(open(report))["integer_lowering"]["float_ops"]
    check(kept == ["'deconv' (ConvTranspose)", "'resize' (Resize)", "'sigmoid' (Sigmoid)"],
          f"the report lists the ops kept in float: {kept}")
    ops = {n.op_type for n in onnx.load(out).graph.node}
    check("ConvInteger" in ops and "Conv" not in ops, "the Conv is still integer (ConvInteger), no float Conv")
    x = rng.uniform(-2, 2, (8, 4, 6, 6)).astype(np.float32)
    got = ort_run(out, x)
    mine, err = vitq_run(vitq, out, x, tmp)
    check(mine is not None and np.array_equal(mine, got), f"ORT outputs == vitq's on the model with float boundaries {err}")
    ref = ort_run(model, x)
    sqnr = 10 * np.log10(np.sum(ref ** 2) / max(np.sum((ref - got) ** 2), 1e-30))
    check(sqnr >= MIN_SQNR_DB, f"float-boundary outputs vs float: SQNR {sqnr:.1f} dB >= {MIN_SQNR_DB}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory() as tmp:
        model, out = os.path.join(tmp, "cnn_ops.onnx"), os.path.join(tmp, "cnn_ops_int.onnx")
        build_model(model)
        calib = os.path.join(tmp, "calib.npy")
        np.save(calib, rng.uniform(-2, 2, (64, 4, 6, 8)).astype(np.float32))
        proc = subprocess.run([args.vitq, "-q", "quantize", model, "--data", calib, "-o", out, "--recipe", "i-vit",
                               "--format", "integer"], capture_output=True, text=True)
        check(proc.returncode == 0, f"vitq quantize --recipe i-vit --format integer on the CNN ops {proc.stderr[-1500:]}")
        if proc.returncode != 0:
            return exit_code()
        integer_only(out, "cnn-ops", required={"ConvInteger", "MatMulInteger", "ShiftGELU"})
        x = rng.uniform(-2, 2, (32, 4, 6, 12)).astype(np.float32)
        got = ort_run(out, x)
        mine, err = vitq_run(args.vitq, out, x, tmp)
        check(mine is not None, f"vitq run on the integer model {err[-1000:]}")
        if mine is not None:
            check(got.shape == mine.shape and np.array_equal(got, mine),
                  f"ORT outputs == vitq's, every element ({got.shape} vs {mine.shape})")
        ref = ort_run(model, x)
        sqnr = 10 * np.log10(np.sum(ref ** 2) / max(np.sum((ref - got) ** 2), 1e-30))
        check(sqnr >= MIN_SQNR_DB, f"integer outputs vs float on width 12: SQNR {sqnr:.1f} dB >= {MIN_SQNR_DB}")
        float_boundary(args.vitq, tmp, rng)
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
