#!/usr/bin/env python3
"""Quantize one model with one peer tool at W8A8, or W4A4 for ONNX Runtime (run by peers.py under
/usr/bin/time -v).

    quantize_one.py --id MODEL_ID --method {ort-minmax,ort-entropy,ort-percentile,nncf} --out OUT.onnx
                    [--bits 8|4] [--result RESULT.json]

* ``ort-*``: ONNX Runtime's documented static flow: ``quant_pre_process`` (symbolic shape
  inference + basic graph optimization), then ``quantize_static`` with QDQ format, per-channel
  weights, S8 weights and S8 activations (ORT's defaults for QDQ), and the named calibrator
  (MinMax, Entropy, Percentile at ORT's defaults).
* ``nncf``: ``nncf.quantize`` on the ONNX model with its defaults (preset PERFORMANCE for CNNs,
  MIXED for transformers) and ``model_type=TRANSFORMER`` for models with attention,
  ``subset_size`` = the number of calibration samples.

The result JSON has ``quantize_s`` (time of the quantization calls only, not of Python's imports).
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import registry  # noqa: E402


def ort_quantize(src, dst, feeds, method, bits=8):
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
        # 4 bits: ONNX Runtime's opset-21 int4 QDQ (unsigned activations, signed weights); it has
        # no 6-bit type.
        act, wt = (QuantType.QUInt4, QuantType.QInt4) if bits == 4 else (QuantType.QInt8, QuantType.QInt8)
        quantize_static(pre, dst, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=act, weight_type=wt, calibrate_method=cm)


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
    ap.add_argument("--bits", type=int, choices=[8, 4], default=8, help="ORT methods: W8A8 (int8) or W4A4 (int4)")
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
    if args.method == "nncf":
        nncf_quantize(src, args.out, feeds, entry["transformer"])
    else:
        ort_quantize(src, args.out, feeds, args.method, args.bits)
    secs = time.perf_counter() - t0
    res = {"id": args.id, "method": args.method, "bits": args.bits, "quantize_s": secs, "calib_samples": len(feeds)}
    print(json.dumps(res))
    if args.result:
        with open(args.result, "w") as f:
            json.dump(res, f)


if __name__ == "__main__":
    main()
