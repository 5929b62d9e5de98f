#!/usr/bin/env python3
"""Random-weight graphs at real ViT sizes, for speed, memory and op-coverage runs only.

Random weights say nothing about accuracy; evaluate.py's ``synthetic`` task only compares a
quantized graph's outputs with the FP32 graph's (cosine, SQNR) on fixed random inputs.

* ``deit_tiny`` / ``deit_small``: DeiT-T/S shapes (patch 16 on 224x224 -> 196 patches + class
  token = 197 tokens; 12 pre-LN blocks; dim 192/384, 3/6 heads, MLP 4x, GELU;
  MatMul-Softmax-MatMul attention), written with Debian's torch.
* ``vit_decoder``: the DeiT-S encoder (12 blocks, dim 384) whose 14x14 patch tokens a
  ConvTranspose decoder (k2 s2, four times, BatchNorm and ReLU between, a grouped one with bias)
  turns into a 224x224 one-channel mask, the shape of a ViT with a dense-prediction head; output
  ``mask`` [N,1,224,224].
* ``swin_t``: torchvision 0.14 ``swin_t(weights=None)`` (Debian ``python3-torchvision``):
  shifted-window attention with relative position bias, patch merging.

Each is exported with torch.onnx.export at opset 17 (``*.onnx``, LayerNormalization) and opset 13
(``*_op13.onnx``, decomposed LayerNorm), input ``input`` [N,3,224,224] (dynamic N), output
``logits`` [N,1000], into ``models/synthetic/``. Inputs: ``data/synthetic/{eval,calib}_x.npy``
(float32 standard normal, fixed seed).
"""
import argparse
import json
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "models", "synthetic")
DATA_DIR = os.path.join(ROOT, "data", "synthetic")


def deit(dim, heads, depth=12, num_classes=1000):
    import torch
    import torch.nn as nn

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)
            self.scale = (dim // heads) ** -0.5

        def forward(self, x):
            b, n, c = x.shape
            qkv = self.qkv(x).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            a = (torch.matmul(q, k.transpose(-2, -1)) * self.scale).softmax(-1)
            return self.proj(torch.matmul(a, v).transpose(1, 2).reshape(b, n, c))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
            self.attn = Attention()
            self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

        def forward(self, x):
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class DeiT(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch_embed = nn.Conv2d(3, dim, 16, 16)
            self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
            self.pos_embed = nn.Parameter(torch.randn(1, 197, dim) * 0.02)
            self.blocks = nn.Sequential(*[Block() for _ in range(depth)])
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.head = nn.Linear(dim, num_classes)

        def encode(self, x):
            """The normed tokens [N, 197, dim], class token first."""
            x = self.patch_embed(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
            return self.norm(self.blocks(x))

        def forward(self, x):
            return self.head(self.encode(x)[:, 0])

    return DeiT()


def vit_decoder():
    import torch
    import torch.nn as nn

    encoder = deit(384, 6)

    class ViTDecoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            self.decoder = nn.Sequential(
                nn.ConvTranspose2d(384, 128, 2, 2), nn.BatchNorm2d(128), nn.ReLU(),            # 14 -> 28
                nn.ConvTranspose2d(128, 64, 2, 2, groups=4, bias=True), nn.ReLU(),             # 56
                nn.ConvTranspose2d(64, 32, 2, 2), nn.BatchNorm2d(32), nn.ReLU(),               # 112
                nn.ConvTranspose2d(32, 1, 2, 2))                                               # 224

        def forward(self, x):
            t = self.encoder.encode(x)[:, 1:]
            grid = t.transpose(1, 2).reshape(t.shape[0], 384, 14, 14)
            return self.decoder(grid)

    return ViTDecoder()


OUTPUT_NAMES = {"vit_decoder": "mask"}


def build(name):
    if name == "vit_decoder":
        return vit_decoder()
    if name == "deit_tiny":
        return deit(192, 3)
    if name == "deit_small":
        return deit(384, 6)
    if name == "swin_t":
        import torchvision
        return torchvision.models.swin_t(weights=None)
    raise ValueError(name)


def export(model, path, opset, output="logits"):
    import onnx
    import torch
    torch.onnx.export(model, torch.zeros(1, 3, 224, 224), path, opset_version=opset, input_names=["input"],
                      output_names=[output], dynamic_axes={"input": {0: "N"}, output: {0: "N"}},
                      do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    m.producer_name, m.producer_version = "vitq-scripts/synthetic.py", "1"
    onnx.save(m, path)
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return ops


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="deit_tiny,deit_small,swin_t,vit_decoder")
    ap.add_argument("--out-dir", default=OUT_DIR)
    ap.add_argument("--data-dir", default=DATA_DIR)
    ap.add_argument("--eval", type=int, default=8)
    ap.add_argument("--calib", type=int, default=16)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    os.makedirs(args.out_dir, exist_ok=True)
    info = {}
    for name in args.models.split(","):
        torch.manual_seed(0)
        model = build(name).eval()
        params = sum(p.numel() for p in model.parameters())
        for opset, suffix in ((17, ""), (13, "_op13")):
            fname = f"{name}{suffix}.onnx"
            ops = export(model, os.path.join(args.out_dir, fname), opset, OUTPUT_NAMES.get(name, "logits"))
            info[fname] = {"model": name, "opset": opset, "params": params, "ops": ops}
            print(f"{fname}: {params / 1e6:.1f} M params, {sum(ops.values())} nodes", flush=True)
    with open(os.path.join(args.out_dir, "models.json"), "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
    os.makedirs(args.data_dir, exist_ok=True)
    rng = np.random.RandomState(0)
    np.save(os.path.join(args.data_dir, "eval_x.npy"), rng.standard_normal((args.eval, 3, 224, 224)).astype(np.float32))
    np.save(os.path.join(args.data_dir, "calib_x.npy"), rng.standard_normal((args.calib, 3, 224, 224)).astype(np.float32))


if __name__ == "__main__":
    main()
