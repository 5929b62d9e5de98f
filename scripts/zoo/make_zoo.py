#!/usr/bin/env python3
"""Writes the model-zoo corpus (GitHub issue #27): the models of models.py in the export styles users
produce, with calibration and held-out samples, and a manifest that run_zoo.py reads.

    make_zoo.py [--out models/zoo] [--subset all|ci] [--only GLOB]

The whole corpus takes 9 minutes on one core the first time (half of it training the depthwise
networks, see models.py), about 4 once their weights are cached; ``--subset ci`` (no training) about
10 seconds. The files are the same on every run (seeded, one thread). ``--only`` rebuilds some
entries and keeps the others in the manifest.

Styles: ``op11``/``op13``/``op17`` (torch.onnx.export at that opset), ``kiai``
(keep_initializers_as_inputs=True), ``nofold`` (do_constant_folding=False), ``dynamic`` (dynamic
batch, and spatial or sequence axes where the model has them), ``fp16`` (every float initializer
stored as float16 and read through a Cast to float: weights in half precision, computation in float.
torch 1.13 cannot trace a half model on the CPU, onnx 1.12 has no float16 converter, and ONNX
Runtime's CPU provider has no float16 Conv, so a fully half model could not serve as the reference),
``external`` (tensors over 1 KiB in ``<file>.data``), ``onnx`` (hand-built graphs). The styles
without an opset in their name use the model's base opset (13, or 17 for transformers).

Layout of OUT: ``<model>/<style>.onnx`` and ``<model>/samples/``, which holds ``calib_NN`` then
``holdout_NN`` samples (file-name order, so ``--data samples --holdout N`` calibrates on the first
and scores on the second): ``.npy`` files for one-input models, folders of ``<input name>.npy`` for
several. Images are Fashion-MNIST pictures (calibration from the training split, held-out from the
test split) upscaled, tinted into RGB and normalized with ImageNet's mean and std (or left as uint8
NHWC pixels for the model that normalizes inside); the two Fashion-MNIST models read the 28x28
images as they were trained; token ids follow a Zipf law with random lengths and the padding
masked. Trained weights are cached in ``<model>/trained.pt`` (delete it to train again).

``manifest.json``: per model/style pair its name, file (and external data file), style, opset,
inputs (name, shape of one sample, dtype, dynamic axes), outputs, whether it has attention or
LayerNorms, whether it was trained (steps and Fashion-MNIST test score), its samples, where the
float reference comes from (ONNX Runtime on the file itself) and how far the file's ONNX Runtime
outputs are from torch's (``export_vs_torch``).
"""
import argparse
import fnmatch
import io
import json
import os
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

warnings.filterwarnings("ignore")  # torch.onnx's tracer warnings, one per shape-dependent branch
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import models as zoo  # noqa: E402
import fashion_mnist as fm  # noqa: E402  (scripts/models, on the path through models.py)

ROOT = os.path.dirname(os.path.dirname(HERE))
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
OPSETS = {"op11": 11, "op13": 13, "op17": 17}


# ---------------------------------------------------------------------------------------------
# Samples and training
# ---------------------------------------------------------------------------------------------

def fmnist_images(split, n, rng):
    x, _ = fm.load_split(split)
    return x[np.sort(rng.choice(len(x), n, replace=False))]


def imagenet_like(u8, shape, rng):
    """uint8 [n,28,28] -> float32 [n,3,H,W]: bilinear upscale, a random foreground and background
    colour per image, ImageNet normalization."""
    import torch
    x = torch.from_numpy(u8.astype(np.float32) / 255.0)[:, None]
    x = torch.nn.functional.interpolate(x, size=shape[-2:], mode="bilinear", align_corners=False).numpy()
    fg = rng.uniform(0.3, 1.0, (len(u8), 3, 1, 1)).astype(np.float32)
    bg = rng.uniform(0.0, 0.4, (len(u8), 3, 1, 1)).astype(np.float32)
    rgb = bg + (fg - bg) * x
    return ((rgb - IMAGENET_MEAN[:, None, None]) / IMAGENET_STD[:, None, None]).astype(np.float32)


def task_batch(spec, u8, labels, rng):
    """Model inputs and targets for Fashion-MNIST pictures: the class, or for segmentation models the
    class + 1 on the garment's pixels and 0 (background) elsewhere."""
    import torch
    inp = spec.inputs[0]
    x = fm.normalize(u8) if inp.data == "fmnist" else imagenet_like(u8, inp.shape, rng)
    y = torch.from_numpy(labels)
    if spec.family == "segmentation":
        mask = torch.nn.functional.interpolate(torch.from_numpy(u8.astype(np.float32) / 255.0)[:, None],
                                               size=inp.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        y = torch.where(mask > 0.35, y[:, None, None] + 1, torch.zeros_like(y)[:, None, None])
    return torch.from_numpy(x), y


def train(model, spec, cache, batch=32, lr=2e-3):
    """`spec.train_steps` AdamW steps on Fashion-MNIST training pictures; the weights are cached in
    `cache`. BatchNorm statistics are re-estimated afterwards (see main): a few dozen steps leave
    the running averages far from the trained weights' statistics."""
    import torch
    if os.path.exists(cache):
        saved = torch.load(cache)
        if saved["steps"] == spec.train_steps:
            model.load_state_dict(saved["state"])
            return model
    rng = np.random.RandomState(zoo.seed_of(spec.name) + 2)
    x_u8, labels = fm.load_split("train")
    idx = rng.choice(len(labels), spec.train_steps * batch)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    for s in range(spec.train_steps):
        b = idx[s * batch:(s + 1) * batch]
        x, y = task_batch(spec, x_u8[b], labels[b], rng)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.save({"steps": spec.train_steps, "state": model.state_dict()}, cache)
    return model


def score(model, spec, n=500):
    """Top-1 on `n` Fashion-MNIST test pictures (pixel accuracy for segmentation models)."""
    import torch
    x_u8, labels = fm.load_split("test")
    x, y = task_batch(spec, x_u8[:n], labels[:n], np.random.RandomState(3))
    with torch.no_grad():
        pred = torch.cat([model(x[k:k + 50]) for k in range(0, n, 50)]).argmax(1)
    key = "pixel_accuracy" if spec.family == "segmentation" else "fmnist_test_top1"
    return {"steps": spec.train_steps, key: round(float((pred == y).float().mean()), 4)}


def make_samples(spec, n_calib, n_holdout, seed=0):
    """{input name: array [n_calib + n_holdout, *sample shape]}: the calibration samples first."""
    rng = np.random.RandomState(zoo.seed_of(spec.name) + seed)
    n = n_calib + n_holdout
    out = {}
    lengths = rng.randint(zoo.SEQ // 2, zoo.SEQ + 1, size=n)
    for inp in spec.inputs:
        shape = inp.shape
        if inp.data in ("imagenet", "fmnist"):
            u8 = np.concatenate([fmnist_images("train", n_calib, rng), fmnist_images("test", n_holdout, rng)])
            x = fm.normalize(u8) if inp.data == "fmnist" else imagenet_like(u8, shape, rng)
            x = x.reshape((n,) + tuple(shape))
        elif inp.data == "uint8_nhwc":  # the same tinted pictures as 8-bit pixels
            u8 = np.concatenate([fmnist_images("train", n_calib, rng), fmnist_images("test", n_holdout, rng)])
            rgb = imagenet_like(u8, (3,) + tuple(shape[1:3]), rng) * IMAGENET_STD[:, None, None]
            rgb += IMAGENET_MEAN[:, None, None]
            x = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8).transpose(0, 2, 3, 1).reshape((n,) + tuple(shape))
        elif inp.data in ("latent", "features"):
            x = rng.randn(n, *shape).astype(np.float32)
        elif inp.data == "tokens":
            ids = 1 + (rng.zipf(1.3, size=(n,) + tuple(shape)) - 1) % (zoo.VOCAB - 1)
            has_mask = any(i.data == "mask" for i in spec.inputs)
            if has_mask:  # padding id 0 after each sequence's length
                ids = np.where(np.arange(shape[-1]) < lengths.reshape((n,) + (1,) * len(shape)), ids, 0)
            x = ids.astype(np.int64)
        elif inp.data == "mask":
            x = (np.arange(shape[-1]) < lengths.reshape((n,) + (1,) * len(shape))).astype(np.int64)
        else:
            raise ValueError(f"{spec.name}: unknown data kind {inp.data}")
        out[inp.name] = x
    return out


def write_samples(folder, spec, samples, n_calib):
    os.makedirs(folder, exist_ok=True)
    n = len(next(iter(samples.values())))
    for k in range(n):
        stem = f"calib_{k:02d}" if k < n_calib else f"holdout_{k - n_calib:02d}"
        if len(spec.inputs) == 1:
            np.save(os.path.join(folder, stem + ".npy"), samples[spec.inputs[0].name][k])
        else:
            os.makedirs(os.path.join(folder, stem), exist_ok=True)
            for name, x in samples.items():
                np.save(os.path.join(folder, stem, name + ".npy"), x[k])


# ---------------------------------------------------------------------------------------------
# Export styles
# ---------------------------------------------------------------------------------------------

def torch_export(model, spec, style, args):
    import onnx
    import torch
    dynamic = None
    if style == "dynamic":
        dynamic = {i.name: i.dynamic for i in spec.inputs}
        dynamic.update({o: spec.output_dynamic.get(o, {0: "batch"}) for o in spec.outputs})
    f = io.BytesIO()
    # Not under torch.no_grad(): with gradients off, torch 1.13 takes the fused fast path of
    # nn.MultiheadAttention / nn.TransformerEncoderLayer, which it cannot export.
    torch.onnx.export(model, args, f, opset_version=OPSETS.get(style, spec.base_opset),
                      input_names=[i.name for i in spec.inputs], output_names=spec.outputs, dynamic_axes=dynamic,
                      keep_initializers_as_inputs=style == "kiai", do_constant_folding=style != "nofold")
    return onnx.load_from_string(f.getvalue())


def float16_initializers(m):
    """Every float initializer stored as float16, with a Cast back to float in front of its readers."""
    from onnx import TensorProto, helper, numpy_helper
    g = m.graph
    casts = []
    for t in g.initializer:
        if t.data_type != TensorProto.FLOAT:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name + "_fp16")
        casts.append(helper.make_node("Cast", [half.name], [t.name], name=t.name + "_cast", to=TensorProto.FLOAT))
        t.CopyFrom(half)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    return m


def save(m, path, style):
    import onnx
    if style == "external":
        data = path + ".data"
        if os.path.exists(data):  # onnx appends to an existing file
            os.remove(data)
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(data), size_threshold=1024)
    else:
        onnx.save_model(m, path)


def ort_outputs(path, spec, samples, n_calib):
    """ONNX Runtime's outputs on the held-out samples, one sample per run, without graph optimizations
    (ONNX Runtime 1.20.1 fuses torch's Pad + AveragePool into an AveragePool that no longer counts
    the zero padding: MaxVit's outputs move by 3 %)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3  # keep_initializers_as_inputs models warn once per weight
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    n = len(next(iter(samples.values())))
    runs = [s.run(None, {k: v[i] for k, v in samples.items()}) for i in range(n_calib, n)]
    return [np.concatenate([r[j] for r in runs]) for j in range(len(runs[0]))]


def torch_outputs(model, samples, n_calib, spec):
    import torch
    n = len(next(iter(samples.values())))
    with torch.no_grad():
        runs = [model(*[torch.from_numpy(samples[i.name][k]) for i in spec.inputs]) for k in range(n_calib, n)]
    runs = [r if isinstance(r, (tuple, list)) else (r,) for r in runs]
    return [np.concatenate([r[j].numpy() for r in runs]) for j in range(len(runs[0]))]


def relative_diff(a, b):
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-30))


# ---------------------------------------------------------------------------------------------

def selection(subset, only):
    if subset == "ci":
        pairs = list(zoo.CI_SUBSET)
    else:
        pairs = [(m.name, s) for m in zoo.MODELS for s in m.styles]
    return [(n, s) for n, s in pairs if not only or fnmatch.fnmatch(n, only) or fnmatch.fnmatch(f"{n}.{s}", only)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "zoo"))
    ap.add_argument("--subset", choices=["all", "ci"], default="all")
    ap.add_argument("--only", help="model name or NAME.STYLE glob")
    ap.add_argument("--calib", type=int, default=16, help="calibration samples per model")
    ap.add_argument("--holdout", type=int, default=16, help="held-out samples per model")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)

    pairs = selection(args.subset, args.only)
    if not pairs:
        sys.exit("make_zoo.py: nothing selected")
    os.makedirs(args.out, exist_ok=True)
    entries = []
    t_all = time.time()
    for name in dict.fromkeys(n for n, _ in pairs):
        spec = zoo.BY_NAME[name]
        t0 = time.time()
        folder = os.path.join(args.out, name)
        samples = make_samples(spec, args.calib, args.holdout)
        write_samples(os.path.join(folder, "samples"), spec, samples, args.calib)
        # BatchNorm statistics: 64 more samples drawn like the calibration ones
        bn = make_samples(spec, 64, 0, seed=1)
        model = spec.build(spec)
        is_torch = isinstance(model, torch.nn.Module)
        trained = False
        if is_torch:
            if spec.train_steps:
                model = train(model, spec, os.path.join(folder, "trained.pt"))
            model = zoo.recalibrate_bn(model, [torch.from_numpy(bn[i.name].reshape((-1,) + i.shape[1:]))
                                               for i in spec.inputs])
            trained = score(model, spec) if spec.train_steps else False
        reference = torch_outputs(model, samples, args.calib, spec) if is_torch else None
        first = tuple(torch.from_numpy(samples[i.name][args.calib]) for i in spec.inputs)
        for style in (s for n, s in pairs if n == name):
            m = torch_export(model, spec, style, first) if is_torch else model
            if style == "fp16":
                m = float16_initializers(m)
            rel = f"{name}/{style}.onnx"
            path = os.path.join(args.out, rel)
            save(m, path, style)
            outs = ort_outputs(path, spec, samples, args.calib)
            check = None if reference is None else max(relative_diff(o, r) for o, r in zip(outs, reference))
            entries.append({
                "name": f"{name}.{style}", "model": name, "style": style, "family": spec.family, "file": rel,
                "external_data": rel + ".data" if style == "external" else None,
                "opset": next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")),
                "inputs": [{"name": i.name, "shape": list(i.shape), "dtype": i.dtype,
                            "dynamic": {str(k): v for k, v in i.dynamic.items()} if style == "dynamic" else {}}
                           for i in spec.inputs],
                "outputs": spec.outputs, "attention": spec.attention, "trained": trained,
                "samples": f"{name}/samples", "calib_samples": args.calib, "holdout_samples": args.holdout,
                "reference": "ONNX Runtime FP32 on this file, held-out samples (run_zoo.py)",
                # max |ORT - torch| / max |torch| on the held-out samples: how faithful the export is
                "export_vs_torch": check,
            })
            flag = "" if check is None or check < 1e-3 or style == "fp16" else "  (export differs from torch)"
            print(f"{name}.{style}: opset {entries[-1]['opset']}, "
                  f"ORT vs torch {'-' if check is None else f'{check:.1e}'}{flag}", flush=True)
        print(f"  {name}: {time.time() - t0:.1f} s", flush=True)
    built = len(entries)
    # entries of an earlier run into the same folder stay unless rebuilt now
    manifest = os.path.join(args.out, "manifest.json")
    if os.path.exists(manifest):
        with open(manifest) as f:
            done = {e["name"] for e in entries}
            entries = [e for e in json.load(f)["models"] if e["name"] not in done] + entries
    order = {(m.name, s): k for k, (m, s) in enumerate((m, s) for m in zoo.MODELS for s in m.styles)}
    entries.sort(key=lambda e: order.get((e["model"], e["style"]), len(order)))
    with open(manifest, "w") as f:
        json.dump({"models": entries}, f, indent=1)
    print(f"{built} model/style pairs written in {time.time() - t_all:.0f} s; {args.out}/manifest.json lists "
          f"{len(entries)} pairs of {len({e['model'] for e in entries})} models")


if __name__ == "__main__":
    main()
