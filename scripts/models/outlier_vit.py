#!/usr/bin/env python3
"""An outlier-heavy copy of the trained Fashion-MNIST ViT, made by exact function-preserving
rewrites, so that its activations look like a large pretrained transformer's (a few channels 10-60x
the others) while its outputs stay those of the trained model.

Large pretrained ViTs carry outlier channels that small models trained from scratch do not: after
LayerNorm (large gamma on a few channels), in queries and keys, in the values, and after GELU.
Each rewrite below moves a per-channel factor between two linear maps, so the float function is
unchanged up to rounding:

* LayerNorm -> MatMul readers: gamma and beta of channel c times k, row c of every reader's weight
  divided by k (2 channels per LayerNorm, k = 25 and 60).
* Queries and keys: column j of q (weight and bias) times a, column j of k divided by a, so every
  q.k product is unchanged (2 channels per block, a = 8).
* Values and projection: column j of v times a, row j of the projection divided by a; attention
  is linear in v (2 channels per block, a = 10).
* After GELU: a Mul by a constant vector (2 channels at 20, the rest 1) before fc2, fc2's rows
  divided by the same vector.

The result is checked in ONNX Runtime against the trained model on 256 calibration images (logits
within 1e-4 relative to their range, the same argmax), and the activation ranges it creates are
printed: per quantized input, the largest channel's absmax over the median channel's.

  .venv/bin/python scripts/models/outlier_vit.py  (scripts/prepare_all.sh runs it; 2 s) [--model tests/data/models/fmnist_vit_op17.onnx]
      [--out models/outlier/fmnist_vit_outlier_op17.onnx]
"""
import argparse
import json
import os

import numpy as np
import onnx
from onnx import helper, numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEED = 7


class Rewriter:
    def __init__(self, model):
        self.model = model
        self.graph = model.graph
        self.inits = {t.name: t for t in self.graph.initializer}
        self.changes = []

    def array(self, name):
        return numpy_helper.to_array(self.inits[name]).astype(np.float32)

    def store(self, name, value):
        t = numpy_helper.from_array(value.astype(np.float32), name)
        self.inits[name].CopyFrom(t)

    def readers(self, value):
        return [n for n in self.graph.node if value in n.input and n.op_type != "Shape"]

    def node(self, name):
        found = [n for n in self.graph.node if n.name == name]
        if not found:
            raise SystemExit(f"outlier_vit.py: no node '{name}' (a torch export of the Fashion ViT is expected)")
        return found[0]

    def bias_of(self, matmul):
        """The constant of the Add that follows a MatMul (torch writes Linear as MatMul + Add)."""
        adds = [n for n in self.readers(matmul.output[0]) if n.op_type == "Add"]
        return next(i for i in adds[0].input if i in self.inits)

    def scale_layernorm(self, ln, channels, factors):
        readers = self.readers(ln.output[0])
        if not readers or any(r.op_type != "MatMul" or r.input[1] not in self.inits for r in readers):
            return False
        gamma, beta = self.array(ln.input[1]), self.array(ln.input[2])
        k = np.ones_like(gamma)
        k[channels] = factors
        self.store(ln.input[1], gamma * k)
        self.store(ln.input[2], beta * k)
        for r in readers:
            self.store(r.input[1], self.array(r.input[1]) / k[:, None])
        self.changes.append({"layernorm": ln.name, "channels": channels.tolist(), "factors": list(factors)})
        return True

    def scale_columns(self, matmul, columns, factor):
        w, b = self.array(matmul.input[1]), self.array(self.bias_of(matmul))
        w[:, columns] *= factor
        b[columns] *= factor
        self.store(matmul.input[1], w)
        self.store(self.bias_of(matmul), b)

    def scale_rows(self, matmul, rows, factor):
        w = self.array(matmul.input[1])
        w[rows, :] /= factor
        self.store(matmul.input[1], w)

    def scale_before(self, matmul, channels, factor):
        """Mul(x, s) in front of the MatMul, its weight's rows divided by s."""
        x = matmul.input[0]
        dim = self.array(matmul.input[1]).shape[0]
        s = np.ones(dim, np.float32)
        s[channels] = factor
        name = matmul.name + "_outlier_scale"
        self.graph.initializer.append(numpy_helper.from_array(s, name))
        self.inits[name] = self.graph.initializer[-1]
        mul = helper.make_node("Mul", [x, name], [name + "_output"], name=name + "_Mul")
        index = list(self.graph.node).index(matmul)
        self.graph.node.insert(index, mul)
        matmul.input[0] = mul.output[0]
        self.scale_rows(matmul, channels, factor)


def rewrite(model, rng):
    rw = Rewriter(model)
    dim = None
    for ln in [n for n in model.graph.node if n.op_type == "LayerNormalization"]:
        d = rw.array(ln.input[1]).shape[0]
        dim = dim or d
        rw.scale_layernorm(ln, rng.choice(d, 2, replace=False), (25.0, 60.0))
    blocks = sorted({n.name.split("/")[2] for n in model.graph.node if n.name.startswith("/blocks/blocks.")})
    for block in blocks:
        qkv = rw.node(f"/blocks/{block}/attn/qkv/MatMul")
        proj = rw.node(f"/blocks/{block}/attn/proj/MatMul")
        fc2 = rw.node(f"/blocks/{block}/fc2/MatMul")
        qk = rng.choice(dim, 2, replace=False)
        rw.scale_columns(qkv, qk, 8.0)
        rw.scale_columns(qkv, dim + qk, 1.0 / 8.0)
        v = rng.choice(dim, 2, replace=False)
        rw.scale_columns(qkv, 2 * dim + v, 10.0)
        rw.scale_rows(proj, v, 10.0)
        hidden = rw.array(fc2.input[1]).shape[0]
        g = rng.choice(hidden, 2, replace=False)
        rw.scale_before(fc2, g, 20.0)
        rw.changes.append({"block": block, "query_key_channels": qk.tolist(), "value_channels": v.tolist(),
                           "post_gelu_channels": g.tolist()})
    return rw.changes


def outlier_ratios(path, x):
    """Per weight layer (MatMul/Gemm with a constant weight, by node name): its input's max channel
    absmax over the median channel absmax."""
    import onnxruntime as ort
    m = onnx.load(path)
    inits = {t.name for t in m.graph.initializer}
    wanted, layers = [], []
    for n in m.graph.node:
        if n.op_type in ("MatMul", "Gemm") and n.input[1] in inits:
            wanted.append(n.input[0])
            layers.append(n.name)
    for name in dict.fromkeys(wanted):
        m.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    unique = list(dict.fromkeys(wanted))
    values = dict(zip(unique, sess.run(unique, {sess.get_inputs()[0].name: x})))
    ratios = {}
    for layer, name in zip(layers, wanted):
        per_channel = np.abs(values[name].reshape(-1, values[name].shape[-1])).max(axis=0)
        ratios[layer] = round(float(per_channel.max() / max(np.median(per_channel), 1e-12)), 2)
    return ratios


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "tests", "data", "models", "fmnist_vit_op17.onnx"))
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "outlier", "fmnist_vit_outlier_op17.onnx"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "fashion_mnist", "calib_x.npy"))
    args = ap.parse_args()
    import onnxruntime as ort
    model = onnx.load(args.model)
    changes = rewrite(model, np.random.default_rng(SEED))
    model.producer_name, model.producer_version = "vitq-scripts/outlier_vit.py", "1"
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    onnx.save(model, args.out)

    x = np.load(args.data)[:256].astype(np.float32)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    runs = []
    for path in (args.model, args.out):
        s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        runs.append(s.run(None, {s.get_inputs()[0].name: x})[0])
    diff = float(np.abs(runs[0] - runs[1]).max() / (runs[0].max() - runs[0].min()))
    same = float((runs[0].argmax(1) == runs[1].argmax(1)).mean())
    if diff > 1e-4 or same < 1.0:
        raise SystemExit(f"outlier_vit.py: the rewritten model is not equivalent (max diff {diff:.2e} of the logits' "
                         f"range, argmax agreement {same:.4f})")
    before, after = outlier_ratios(args.model, x[:64]), outlier_ratios(args.out, x[:64])
    summary = {"source": os.path.relpath(args.model, ROOT), "seed": SEED, "max_logit_diff_relative": diff,
               "outlier_ratio_before": before, "outlier_ratio_after": after, "changes": changes}
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{args.out}: logits within {diff:.1e} of the trained model's range, argmax identical on {len(x)} images")
    print("max/median channel absmax of each weight layer's input, before -> after:")
    for name in before:
        print(f"  {name}: {before[name]:.1f} -> {after[name]:.1f}")


if __name__ == "__main__":
    main()
