#!/usr/bin/env python3
"""A small ViT shaped like the real exports that reconstruction must pass through (issue #27), built
and exported by PyTorch in seconds:

- a patch-embedding Conv whose token grid follows the input (dynamic height and width);
- a learned position embedding for a 4 x 4 grid, bicubically interpolated to the input's grid with
  F.interpolate (the sizes come from Shape -> Gather -> ... in the graph) and cast to the tokens'
  dtype (a float-to-float Cast, as `.to(x.dtype)` exports);
- two pre-norm transformer blocks (MatMul-Softmax-MatMul attention, GELU MLP);
- a conv decoder head: tokens back to a feature map, ConvTranspose with bias (the
  transformer -> conv bridge), BatchNorm, ReLU, a 1x1 Conv, and a bilinear upsampling to the
  input's size.

Writes MODEL (opset 17, dynamic batch, height and width) and SAMPLES (.npy, N x 3 x 32 x 32).
Usage: recon_breadth_model.py MODEL.onnx SAMPLES.npy [--samples-count N]"""
import argparse

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

DIM, HEADS, PATCH, GRID = 32, 2, 4, 4


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(DIM)
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.proj = nn.Linear(DIM, DIM)
        self.norm2 = nn.LayerNorm(DIM)
        self.fc1 = nn.Linear(DIM, 2 * DIM)
        self.fc2 = nn.Linear(2 * DIM, DIM)

    def attention(self, t):
        n, tokens, _ = t.shape
        qkv = self.qkv(t).reshape(n, tokens, 3, HEADS, DIM // HEADS).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = (q @ k.transpose(-2, -1)) * (DIM // HEADS) ** -0.5
        o = (a.softmax(dim=-1) @ v).transpose(1, 2).reshape(n, tokens, DIM)
        return self.proj(o)

    def forward(self, t):
        t = t + self.attention(self.norm1(t))
        return t + self.fc2(F.gelu(self.fc1(self.norm2(t))))


class TinySegViT(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, DIM, PATCH, PATCH)
        self.pos_embed = nn.Parameter(torch.randn(1, GRID * GRID, DIM) * 0.5)
        self.blocks = nn.ModuleList([Block(), Block()])
        self.norm = nn.LayerNorm(DIM)
        self.up = nn.ConvTranspose2d(DIM, 16, 2, stride=2, bias=True)
        self.bn = nn.BatchNorm2d(16)
        self.head = nn.Conv2d(16, classes, 1)

    def position_embedding(self, h, w, dtype):
        pos = self.pos_embed.reshape(1, GRID, GRID, DIM).permute(0, 3, 1, 2)
        pos = F.interpolate(pos, size=(h, w), mode="bicubic", align_corners=False)
        return pos.to(dtype).permute(0, 2, 3, 1).reshape(1, -1, DIM)

    def forward(self, x):
        f = self.patch_embed(x)
        n, d, h, w = f.shape
        t = f.flatten(2).transpose(1, 2) + self.position_embedding(h, w, f.dtype)
        for block in self.blocks:
            t = block(t)
        f = self.norm(t).transpose(1, 2).reshape(n, d, h, w)
        y = self.head(F.relu(self.bn(self.up(f))))
        return F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("samples")
    parser.add_argument("--samples-count", type=int, default=32)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = TinySegViT().eval()
    with torch.no_grad():  # BatchNorm statistics that are not the identity
        model.bn.running_mean.uniform_(-0.2, 0.2)
        model.bn.running_var.uniform_(0.5, 1.5)
    x = torch.randn(args.samples_count, 3, 32, 32)
    torch.onnx.export(model, x[:1], args.model, opset_version=17, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n", 2: "h", 3: "w"}},
                      do_constant_folding=True)
    m = onnx.load(args.model)
    ops = {n.op_type for n in m.graph.node}
    # What the reconstruction must pass through (and what makes this model the case).
    for op in ("Resize", "ConvTranspose", "Shape", "Cast", "Softmax"):
        assert op in ops, f"the export has no {op}: {sorted(ops)}"
    np.save(args.samples, x.numpy())


if __name__ == "__main__":
    main()
