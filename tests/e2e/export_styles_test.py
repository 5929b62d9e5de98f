"""Export styles that gave broken quantized models while vitq exited 0 (issue #27), each made here as
a small ONNX file, quantized at W8A8 and run in ONNX Runtime with its default graph optimizations
and with them off: every output within cosine 0.99 of the float model, and vitq's own report no
more optimistic than ONNX Runtime. Then the fidelity guard: a clearly broken model (2-bit) exits 3
unless --no-guard.

    tests/e2e/export_styles_test.py --vitq build/apps/vitq
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_checks  # noqa: E402
from e2e_checks import exit_code, failures  # noqa: E402
from ort_cpu import vitq_weight_flags  # noqa: E402

RNG = np.random.default_rng(0)
checks = 0


def check(ok, what):
    global checks
    checks += 1
    e2e_checks.check(ok, what)


def reseed(seed):
    """Each model draws its weights from its own seed, whatever the models before it drew."""
    global RNG
    RNG = np.random.default_rng(seed)


def init(name, shape, scale=0.5):
    return numpy_helper.from_array((RNG.standard_normal(shape) * scale).astype(np.float32), name)


def model(nodes, inputs, outputs, inits, opset=13, ir=8):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir
    onnx.checker.check_model(m)
    return m


def vinfo(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def conv_net_weights_as_inputs():
    """Conv -> Relu -> Conv -> GlobalAveragePool -> Gemm, every weight also a graph input (IR 3 style)."""
    inits = [init("w1", [8, 3, 3, 3]), init("b1", [8], 0.1), init("w2", [8, 8, 3, 3], 0.3), init("b2", [8], 0.1),
             init("fc", [10, 8]), init("fcb", [10], 0.1)]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("GlobalAveragePool", ["r2"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], transB=1)]
    inputs = [vinfo("x", [1, 3, 16, 16])] + [vinfo(t.name, list(t.dims)) for t in inits]
    return model(nodes, inputs, [vinfo("y", [1, 10])], inits, opset=11, ir=6), {"x": (1, 3, 16, 16)}


def gemm_alpha():
    inits = [init("w", [16, 12]), init("b", [16], 0.2), init("w2", [4, 16])]
    # alpha with beta = 1 and a bias is what ONNX Runtime's QGemm fusion misreads (its int32 bias at
    # scale alpha * s_x * s_w: cosine 0.95 here before the fold); beta != 1 it does not fuse.
    inits.append(init("b2", [4], 0.2))
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1, alpha=0.25),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1, alpha=3.0, beta=2.0)]
    return model(nodes, [vinfo("x", [2, 12])], [vinfo("y", [2, 4])], inits), {"x": (2, 12)}


def gemm_trans_a():
    inits = [init("w", [12, 6]), init("b", [6], 0.2)]
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transA=1)]
    return model(nodes, [vinfo("x", [12, 3])], [vinfo("y", [3, 6])], inits), {"x": (12, 3)}


def matmul_3d_weight():
    inits = [init("w", [2, 12, 8]), init("w2", [8, 4])]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["y"])]
    return model(nodes, [vinfo("x", [2, 5, 12])], [vinfo("y", [2, 5, 4])], inits), {"x": (2, 5, 12)}


def grouped_conv_transpose():
    inits = [init("w", [8, 2, 3, 3], 0.3), init("b", [8], 0.2), init("w0", [8, 4, 1, 1])]
    nodes = [helper.make_node("Conv", ["x", "w0"], ["h"]),
             helper.make_node("ConvTranspose", ["h", "w", "b"], ["y"], group=4, strides=[2, 2], pads=[1, 1, 1, 1],
                              output_padding=[1, 1])]
    return model(nodes, [vinfo("x", [1, 4, 6, 6])], [vinfo("y", [1, 8, 12, 12])], inits), {"x": (1, 4, 6, 6)}


def bias_past_int32():
    """Small activations (x / 100) and weights (about 5e-4) with biases of about 10: b / (s_x s_w) > 2^31."""
    inits = [init("w", [6, 12], 5e-4), numpy_helper.from_array(np.array([40.0, -25.0, 0.1, 12.98, 0.0, 3.0], np.float32), "b"),
             numpy_helper.from_array(np.array(0.01, np.float32), "k")]
    nodes = [helper.make_node("Mul", ["x", "k"], ["xs"]), helper.make_node("Gemm", ["xs", "w", "b"], ["y"], transB=1)]
    return model(nodes, [vinfo("x", [4, 12])], [vinfo("y", [4, 6])], inits), {"x": (4, 12)}


def shared_bias_and_identity():
    """Two Convs read one bias; an Identity of a weight feeds the second (torch's de-duplication)."""
    inits = [init("w1", [4, 4, 3, 3], 0.3), init("b", [4], 0.2)]
    nodes = [helper.make_node("Identity", ["w1"], ["w2"]),
             helper.make_node("Conv", ["x", "w1", "b"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b"], ["y"], pads=[1, 1, 1, 1])]
    return model(nodes, [vinfo("x", [1, 4, 8, 8])], [vinfo("y", [1, 4, 8, 8])], inits), {"x": (1, 4, 8, 8)}


def float16_model():
    """The conv net in float16 (weights, input, output), as onnxconverter-common or torch .half() write it."""
    m, shapes = conv_net_weights_as_inputs()
    g = m.graph
    del g.input[1:]
    for t in g.initializer:
        t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
    for v in list(g.input) + list(g.output):
        v.type.tensor_type.elem_type = TensorProto.FLOAT16
    return model(list(g.node), list(g.input), list(g.output), list(g.initializer)), shapes


CASES = {"weights_as_inputs": conv_net_weights_as_inputs, "gemm_alpha_beta": gemm_alpha, "gemm_trans_a": gemm_trans_a,
         "matmul_3d_weight": matmul_3d_weight, "grouped_conv_transpose_bias": grouped_conv_transpose,
         "bias_past_int32": bias_past_int32, "shared_bias_identity": shared_bias_and_identity,
         "float16": float16_model}


def samples(shapes, count, seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [{name: rng.standard_normal(shape).astype(dtype) for name, shape in shapes.items()} for _ in range(count)]


def write_data(folder, batch):
    os.makedirs(folder, exist_ok=True)
    for i, s in enumerate(batch):
        (name, x), = s.items()
        np.save(os.path.join(folder, f"{i:03d}.npy"), x)


def ort_outputs(path, batch, optimize):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3  # the float model's weights-as-inputs warning is expected
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    fed = {i.name for i in s.get_inputs()}
    return [np.concatenate([o.ravel().astype(np.float32) for o in s.run(None, {k: v for k, v in feed.items() if k in fed})])
            for feed in batch]


def cosine(a, b):
    a, b = np.concatenate(a).astype(np.float64), np.concatenate(b).astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


def quantize(vitq, src, data, out, *flags):
    report = out + ".json"
    proc = subprocess.run([vitq, "quantize", src, "--data", data, "-o", out, "--report", report,
                           *vitq_weight_flags(), *flags], capture_output=True, text=True)
    return proc, (json.load(open(report)) if os.path.exists(report) else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vitq", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for seed, (name, make) in enumerate(CASES.items()):
            reseed(seed)
            m, shapes = make()
            src = os.path.join(tmp, name + ".onnx")
            onnx.save(m, src)
            dtype = np.float16 if name == "float16" else np.float32
            data = os.path.join(tmp, name + "_data")
            write_data(data, samples(shapes, 16, 1, dtype))
            held_out = samples(shapes, 8, 2, dtype)
            out = os.path.join(tmp, name + "_w8a8.onnx")
            proc, report = quantize(args.vitq, src, data, out)
            check(proc.returncode == 0, f"{name}: quantized (exit {proc.returncode}: {proc.stderr.strip()[-300:]})")
            if proc.returncode != 0:
                continue
            ref = ort_outputs(src, held_out, True)
            for optimize in (True, False):
                try:
                    c = cosine(ref, ort_outputs(out, held_out, optimize))
                except Exception as e:  # the written model fails in ONNX Runtime
                    c = 0.0
                    print(f"     {name}: ONNX Runtime failed: {str(e)[-200:]}")
                check(c >= 0.99, f"{name}: ONNX Runtime ({'optimized' if optimize else 'no optimizations'}) "
                                 f"cosine {c:.4f} >= 0.99")
            calib = samples(shapes, 16, 1, dtype)
            try:
                ort_cos = cosine(ort_outputs(src, calib, True), ort_outputs(out, calib, True))
            except Exception:
                ort_cos = 0.0
            vitq_cos = report["summary"]["output_cosine"]
            check(vitq_cos - ort_cos <= 0.01, f"{name}: vitq's report (cosine {vitq_cos:.4f}) no more optimistic than "
                                              f"ONNX Runtime on the same samples ({ort_cos:.4f})")
            if name == "weights_as_inputs":
                check("6 graph inputs have initializers" in proc.stderr, "weights_as_inputs: the warning says so")
                q = onnx.load(out)
                check([i.name for i in q.graph.input] == ["x"], "weights_as_inputs: the written model's only input is x")
            if name == "float16":
                q = onnx.load(out)
                types = [v.type.tensor_type.elem_type for v in list(q.graph.input) + list(q.graph.output)]
                check(types == [TensorProto.FLOAT16] * 2, "float16: the written model's input and output stay float16")
            if name == "bias_past_int32":
                floats = report["quantization"]["float_biases"]
                check(len(floats) == 1 and floats[0].startswith("bias 'b' of node"),
                      f"bias_past_int32: the report names the float bias ({floats})")

        # The guard: 2-bit weights and activations break the conv net; exit 3 naming the output.
        reseed(0)
        m, shapes = conv_net_weights_as_inputs()
        src = os.path.join(tmp, "guard.onnx")
        onnx.save(m, src)
        data = os.path.join(tmp, "guard_data")
        write_data(data, samples(shapes, 16, 3))
        out = os.path.join(tmp, "guard_w2a2.onnx")
        proc, report = quantize(args.vitq, src, data, out, "--wbits", "2", "--abits", "2")
        check(proc.returncode == 3 and "fidelity guard: the quantized model is broken: output 'y' has cosine" in proc.stderr,
              f"2-bit model refused by the guard with exit 3 (exit {proc.returncode}: {proc.stderr.strip()[-300:]})")
        check(report is not None and report["guard"] == "on" and report["summary"]["output_cosine"] < 0.9,
              f"the guard's report is written and says the guard was on (cosine "
              f"{report['summary']['output_cosine'] if report else None})")
        proc, report = quantize(args.vitq, src, data, out, "--wbits", "2", "--abits", "2", "--no-guard")
        check(proc.returncode == 0 and report["guard"] == "off", f"--no-guard accepts it (exit {proc.returncode})")

    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
