#!/usr/bin/env python3
"""Quantize one model with one peer tool at W8A8, or at fewer bits for ONNX Runtime (run by
peers.py under /usr/bin/time -v, and by ort_lowbit_table.py).

    quantize_one.py --id MODEL_ID --method {ort-minmax,ort-entropy,ort-percentile,nncf} --out OUT.onnx
                    [--bits 8|7|6|5|4|3|2] [--container int4|clip] [--src MODEL.onnx] [--result RESULT.json]

* ``ort-*``: ONNX Runtime's documented static flow: ``quant_pre_process`` (symbolic shape
  inference + basic graph optimization), then ``quantize_static`` with QDQ format, per-channel
  weights, S8 weights and S8 activations (ORT's defaults for QDQ), and the named calibrator
  (MinMax, Entropy, Percentile at ORT's defaults).
* ``nncf``: ``nncf.quantize`` on the ONNX model with its defaults (preset PERFORMANCE for CNNs,
  MIXED for transformers) and ``model_type=TRANSFORMER`` for models with attention,
  ``subset_size`` = the number of calibration samples.

Below 8 bits ONNX Runtime's own quantizer still computes every scale and zero point (same
calibrators, same formulas), on one of two grids:

* ``--container int4`` (4 bits only): its opset-21 INT4/UINT4 QDQ (unsigned activations, signed
  weights), as ``quantize_static`` writes it.
* ``--container clip`` (any width): ONNX Runtime has no 6-bit type, so its int8/uint8 ranges are
  narrowed to N bits while it quantizes (weights per channel on [-(2^(N-1)-1), 2^(N-1)-1] as its
  int8 symmetric grid, activations asymmetric on [0, 2^N-1], biases int32 at input scale x weight
  scale) and every activation QuantizeLinear then gets a Clip to the bounds of its N-bit grid,
  because an 8-bit container would otherwise saturate at 0 and 255.

The result JSON has ``quantize_s`` (time of the quantization calls only, not of Python's imports).
"""
import argparse
import contextlib
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import registry  # noqa: E402


@contextlib.contextmanager
def narrowed_int8_grids(bits):
    """While active, ONNX Runtime's quantizer takes int8/uint8 to hold \p bits-bit grids."""
    from onnx import TensorProto
    from onnxruntime.quantization import quant_utils
    tables = (quant_utils.ONNX_INT_TYPE_RANGE, quant_utils.ONNX_INT_TYPE_SYMMETRIC_RANGE)
    saved = [dict(t) for t in tables]
    half = 2 ** (bits - 1)
    quant_utils.ONNX_INT_TYPE_RANGE[TensorProto.UINT8] = (np.array(0, np.uint8), np.array(2 * half - 1, np.uint8))
    quant_utils.ONNX_INT_TYPE_RANGE[TensorProto.INT8] = (np.array(-half, np.int8), np.array(half - 1, np.int8))
    quant_utils.ONNX_INT_TYPE_SYMMETRIC_RANGE[TensorProto.UINT8] = (np.array(0, np.uint8),
                                                                    np.array(2 * half - 2, np.uint8))
    quant_utils.ONNX_INT_TYPE_SYMMETRIC_RANGE[TensorProto.INT8] = (np.array(1 - half, np.int8),
                                                                   np.array(half - 1, np.int8))
    try:
        yield
    finally:
        for table, old in zip(tables, saved):
            table.clear()
            table.update(old)


def clip_activation_quantizers(path, bits):
    """Puts a Clip to its N-bit grid's bounds in front of every activation QuantizeLinear of the
    model at \p path (rewritten in place); returns how many."""
    import onnx
    from onnx import helper, numpy_helper
    model = onnx.load(path)
    graph = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    nodes, clipped = [], 0
    for node in graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] not in consts:
            scale = consts[node.input[1]].astype(np.float64)
            zero = consts[node.input[2]].astype(np.float64)
            if scale.size != 1:
                raise SystemExit(f"{node.name}: per-axis activation quantizer; this script's settings write none")
            qmin, qmax = (0, 2 ** bits - 1) if consts[node.input[2]].dtype == np.uint8 else \
                (-2 ** (bits - 1), 2 ** (bits - 1) - 1)
            bounds = [f"clip{bits}b_{clipped}_lo", f"clip{bits}b_{clipped}_hi"]
            for name, q in zip(bounds, (qmin, qmax)):
                graph.initializer.append(numpy_helper.from_array(
                    np.array((q - zero.item()) * scale.item(), np.float32), name))
            clipped_name = f"{node.input[0]}_clip{bits}b_{clipped}"
            nodes.append(helper.make_node("Clip", [node.input[0]] + bounds, [clipped_name],
                                          name=f"clip{bits}b_{clipped}"))
            node.input[0] = clipped_name
            clipped += 1
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, path)
    return clipped


def ort_quantize(src, dst, feeds, method, bits=8, container="int4"):
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    cm = {"ort-minmax": CalibrationMethod.MinMax, "ort-entropy": CalibrationMethod.Entropy,
          "ort-percentile": CalibrationMethod.Percentile}[method]
    with tempfile.TemporaryDirectory() as tmp:
        pre = os.path.join(tmp, "pre.onnx")
        try:
            quant_pre_process(src, pre)
        except Exception as e:  # pre-processing is advisory in ORT's docs: go on without it
            print(f"quant_pre_process failed ({type(e).__name__}: {e}); quantizing the original model",
                  file=sys.stderr)
            pre = src
        if bits == 8:
            quantize_static(pre, dst, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=cm)
        elif container == "int4":
            quantize_static(pre, dst, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt4, weight_type=QuantType.QInt4, calibrate_method=cm)
        else:
            with narrowed_int8_grids(bits):
                quantize_static(pre, dst, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                calibrate_method=cm)
            return clip_activation_quantizers(dst, bits)
    return 0


def nncf_quantize(src, dst, feeds, transformer):
    import nncf
    import onnx
    model = onnx.load(src)
    kwargs = {"subset_size": len(feeds)}
    if transformer:
        kwargs["model_type"] = nncf.ModelType.TRANSFORMER
    q = nncf.quantize(model, nncf.Dataset(feeds), **kwargs)
    onnx.save(q, dst)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--id", required=True, choices=sorted(registry.BY_ID))
    ap.add_argument("--method", required=True, choices=["ort-minmax", "ort-entropy", "ort-percentile", "nncf"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--src", help="model to quantize (default: the registry's FP32 model); peers.py passes "
                    "an opset-13 conversion for older opsets")
    ap.add_argument("--result")
    ap.add_argument("--bits", type=int, choices=range(2, 9), default=8, help="ORT methods: weight and activation bits")
    ap.add_argument("--container", choices=["int4", "clip"], default="int4",
                    help="below 8 bits: ONNX's 4-bit types (4 bits only) or 8-bit containers with Clip")
    ap.add_argument("--calib-limit", type=int, help="calibration samples (default: the registry's)")
    args = ap.parse_args()
    import onnxruntime as ort
    entry = registry.BY_ID[args.id]
    src = args.src or registry.path(entry["model"])
    names = [i.name for i in ort.InferenceSession(src, providers=["CPUExecutionProvider"]).get_inputs()]
    if args.calib_limit:
        entry = dict(entry, calib_limit=args.calib_limit)
    feeds = registry.calib_feeds(entry, names)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    t0 = time.perf_counter()
    clipped = 0
    if args.method == "nncf":
        if args.bits != 8:
            ap.error("nncf runs at 8 bits only here")
        nncf_quantize(src, args.out, feeds, entry["transformer"])
    else:
        if args.bits not in (4, 8) and args.container == "int4":
            ap.error(f"--bits {args.bits} needs --container clip (ONNX has 4- and 8-bit integer types only)")
        clipped = ort_quantize(src, args.out, feeds, args.method, args.bits, args.container)
    secs = time.perf_counter() - t0
    res = {"id": args.id, "method": args.method, "bits": args.bits, "quantize_s": secs, "calib_samples": len(feeds)}
    if args.bits != 8:
        res.update(container=args.container, clipped_quantizers=clipped)
    print(json.dumps(res))
    if args.result:
        with open(args.result, "w") as f:
            json.dump(res, f)


if __name__ == "__main__":
    main()
