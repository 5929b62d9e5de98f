#!/usr/bin/env python3
"""Train the two Fashion-MNIST test models and export them to ONNX.

* ``fmnist_vit``: a small DeiT-style ViT: conv stem, 4x4 patch embedding, class token, learned
  position embedding, pre-LN transformer blocks (MatMul-Softmax-MatMul attention, GELU MLP).
* ``fmnist_hybrid``: a MobileViT-style hybrid: MobileNetV2 inverted-residual conv stages, then
  MobileViT blocks (local conv -> unfold into patches -> transformer -> fold -> fusion conv), so
  that the graph has real conv-to-transformer bridges (Reshape/Transpose between NCHW and tokens).

Data: Debian's ``dataset-fashion-mnist`` (idx files under /usr/share/datasets/fashion-mnist).
Training uses Debian's torch with fixed seeds and one thread, so a rerun on the same machine
reproduces the same weights. Each model is exported at opset 13 (LayerNorm decomposed into
ReduceMean/Sub/Pow/Sqrt/Div) and opset 17 (LayerNormalization), input ``input`` [N,1,28,28]
float32 normalized as (x/255 - MEAN)/STD, output ``logits`` [N,10], dynamic batch.

Writes ``tests/data/models/fmnist_{vit,hybrid}_op{13,17}.onnx`` and
``tests/data/models/fashion_mnist.json`` (FP32 test top-1 of each file, measured with ONNX Runtime).
"""
import argparse
import gzip
import hashlib
import json
import math
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # Debian torch uses the system BLAS (libopenblas0-serial)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA_DIR = "/usr/share/datasets/fashion-mnist"
OUT_DIR = os.path.join(ROOT, "tests", "data", "models")
MEAN, STD = 0.2860, 0.3530
SEED = 20260601


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    return x, y.astype(np.int64)


def normalize(x_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28] as the models expect."""
    return ((x_u8.astype(np.float32) / 255.0 - MEAN) / STD)[:, None, :, :]


def build_models():
    import torch
    import torch.nn as nn

    class Attention(nn.Module):
        def __init__(self, dim, heads):
            super().__init__()
            self.heads = heads
            self.scale = (dim // heads) ** -0.5
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)

        def forward(self, x):
            b, n, c = x.shape
            qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            attn = torch.matmul(q, k.transpose(-2, -1)) * self.scale
            attn = attn.softmax(dim=-1)
            out = torch.matmul(attn, v).transpose(1, 2).reshape(b, n, c)
            return self.proj(out)

    class Block(nn.Module):
        def __init__(self, dim, heads, mlp_ratio):
            super().__init__()
            self.norm1 = nn.LayerNorm(dim, eps=1e-6)
            self.attn = Attention(dim, heads)
            self.norm2 = nn.LayerNorm(dim, eps=1e-6)
            self.fc1 = nn.Linear(dim, dim * mlp_ratio)
            self.act = nn.GELU()
            self.fc2 = nn.Linear(dim * mlp_ratio, dim)

        def forward(self, x):
            x = x + self.attn(self.norm1(x))
            x = x + self.fc2(self.act(self.fc1(self.norm2(x))))
            return x

    class ViT(nn.Module):
        """DeiT-style: conv stem 28->14, patch embed 2x2 -> 7x7 = 49 tokens + class token."""

        def __init__(self, dim=96, depth=4, heads=4, mlp_ratio=2, num_classes=10):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(1, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.GELU())
            self.patch_embed = nn.Conv2d(32, dim, 2, 2)
            self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
            self.pos_embed = nn.Parameter(torch.randn(1, 50, dim) * 0.02)
            self.blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio) for _ in range(depth)])
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.head = nn.Linear(dim, num_classes)

        def forward(self, x):
            x = self.patch_embed(self.stem(x))            # [B,dim,7,7]
            x = x.flatten(2).transpose(1, 2)              # [B,49,dim]
            cls = self.cls_token.expand(x.shape[0], -1, -1)
            x = torch.cat([cls, x], dim=1) + self.pos_embed
            x = self.norm(self.blocks(x))
            return self.head(x[:, 0])

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hid = cin * expand
            self.use_res = stride == 1 and cin == cout
            self.conv = nn.Sequential(
                nn.Conv2d(cin, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(),
                nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(),
                nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.conv(x)
            return x + y if self.use_res else y

    def conv_bn_act(cin, cout, k, s=1):
        return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.SiLU())

    class MobileViTBlock(nn.Module):
        def __init__(self, channels, dim, depth, heads, patch):
            super().__init__()
            self.patch = patch
            self.local = nn.Sequential(conv_bn_act(channels, channels, 3), nn.Conv2d(channels, dim, 1, bias=False))
            self.transformer = nn.Sequential(*[Block(dim, heads, 2) for _ in range(depth)])
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.proj = conv_bn_act(dim, channels, 1)
            self.fusion = conv_bn_act(2 * channels, channels, 3)

        def forward(self, x):
            y = self.local(x)                             # [B,d,H,W]
            b, d, h, w = y.shape
            p = self.patch
            # unfold: [B,d,H/p,p,W/p,p] -> [B,p,p,H/p,W/p,d] -> [B*p*p, N, d]
            y = y.reshape(b, d, h // p, p, w // p, p).permute(0, 3, 5, 2, 4, 1)
            y = y.reshape(b * p * p, (h // p) * (w // p), d)
            y = self.norm(self.transformer(y))
            # fold back
            y = y.reshape(b, p, p, h // p, w // p, d).permute(0, 5, 3, 1, 4, 2).reshape(b, d, h, w)
            y = self.proj(y)
            return self.fusion(torch.cat([x, y], dim=1))

    class Hybrid(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.stem = conv_bn_act(1, 16, 3, 2)                       # 14x14
            self.stage1 = InvertedResidual(16, 24, 1, 2)               # 14x14
            self.mvit1 = MobileViTBlock(24, 48, 1, 4, 2)               # 4 x 49 tokens (2x2 patches)
            self.stage2 = InvertedResidual(24, 48, 2, 2)               # 7x7
            self.mvit2 = MobileViTBlock(48, 80, 2, 4, 1)               # 49 tokens
            self.head_conv = conv_bn_act(48, 128, 1)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(128, num_classes)

        def forward(self, x):
            x = self.stage1(self.stem(x))
            x = self.mvit1(x)
            x = self.mvit2(self.stage2(x))
            x = self.pool(self.head_conv(x)).flatten(1)
            return self.fc(x)

    return {"vit": ViT, "hybrid": Hybrid}


def train(name, epochs, batch, lr, limit_train=None, log=print):
    import torch
    import torch.nn as nn
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    model = build_models()[name]()
    nparams = sum(p.numel() for p in model.parameters())
    xtr, ytr = load_split("train")
    if limit_train:
        xtr, ytr = xtr[:limit_train], ytr[:limit_train]
    xtr = torch.from_numpy(normalize(xtr))
    ytr = torch.from_numpy(ytr)
    n = xtr.shape[0]
    steps_per_epoch = math.ceil(n / batch)
    total = epochs * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.15)
    lossf = nn.CrossEntropyLoss(label_smoothing=0.05)
    gen = torch.Generator().manual_seed(SEED)
    log(f"[{name}] {nparams} parameters, {epochs} epochs x {steps_per_epoch} steps")
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        tot_loss, correct = 0.0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * batch:(i + 1) * batch]
            xb, yb = xtr[idx], ytr[idx]
            # light augmentation: random horizontal flip (Fashion-MNIST items are left/right symmetric)
            flip = torch.rand(xb.shape[0], generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            out = model(xb)
            loss = lossf(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += loss.item() * xb.shape[0]
            correct += (out.argmax(1) == yb).sum().item()
            if i % 100 == 0:
                log(f"[{name}] epoch {ep + 1} step {i}/{steps_per_epoch} loss {loss.item():.4f} "
                    f"({time.time() - t0:.0f} s)")
        log(f"[{name}] epoch {ep + 1}: train loss {tot_loss / n:.4f} acc {correct / n:.4f} "
            f"({time.time() - t0:.0f} s)")
    model.eval()
    return model, nparams, time.time() - t0


def export(model, path, opset):
    import torch
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(model, dummy, path, opset_version=opset, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    # stable producer fields so reruns give byte-identical files
    m.producer_name = "vitq-scripts"
    m.producer_version = "1"
    onnx.save(m, path)


def ort_top1(path, x, y, batch=500):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    correct = 0
    for i in range(0, x.shape[0], batch):
        out = sess.run(None, {"input": x[i:i + batch]})[0]
        correct += int((out.argmax(1) == y[i:i + batch]).sum())
    return correct / x.shape[0]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="vit,hybrid")
    ap.add_argument("--epochs-vit", type=int, default=6)
    ap.add_argument("--epochs-hybrid", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--limit-train", type=int, default=None, help="debug: train on the first N images")
    ap.add_argument("--out-dir", default=OUT_DIR)
    ap.add_argument("--check", action="store_true",
                    help="do not train: re-measure the committed models and compare to the JSON")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    json_path = os.path.join(args.out_dir, "fashion_mnist.json")
    xte, yte = load_split("test")
    xte = normalize(xte)
    meta = {}
    if os.path.exists(json_path):
        with open(json_path) as f:
            meta = json.load(f)
    if args.check:
        ok = True
        for fname, rec in meta.get("models", {}).items():
            acc = ort_top1(os.path.join(args.out_dir, fname), xte, yte)
            print(f"{fname}: top-1 {acc:.4f} (recorded {rec['top1']:.4f})")
            ok &= abs(acc - rec["top1"]) < 1e-9
        sys.exit(0 if ok else 1)
    meta.setdefault("models", {})
    meta["dataset"] = "Debian dataset-fashion-mnist, 10000 test images"
    meta["preprocess"] = {"layout": "NCHW [N,1,28,28] float32", "formula": "(x/255 - mean)/std",
                          "mean": MEAN, "std": STD}
    meta["seed"] = SEED
    for name in args.models.split(","):
        epochs = args.epochs_vit if name == "vit" else args.epochs_hybrid
        model, nparams, secs = train(name, epochs, args.batch, args.lr, args.limit_train,
                                     log=lambda s: print(s, flush=True))
        for opset in (13, 17):
            fname = f"fmnist_{name}_op{opset}.onnx"
            path = os.path.join(args.out_dir, fname)
            export(model, path, opset)
            acc = ort_top1(path, xte, yte)
            print(f"{fname}: FP32 top-1 {acc:.4f}", flush=True)
            meta["models"][fname] = {"arch": name, "opset": opset, "params": nparams, "epochs": epochs,
                                     "train_seconds": round(secs, 1), "top1": acc, "sha256": sha256(path)}
        with open(json_path, "w") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
