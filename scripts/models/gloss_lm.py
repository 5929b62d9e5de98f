#!/usr/bin/env python3
"""Train the gloss language model, a small byte-level GPT, and export it to ONNX.

Model: decoder-only, vocabulary 256 (bytes), context 64, d_model 256, 4 heads, 2 pre-LN blocks,
learned position embedding, untied LM head. Each block: LayerNorm -> fused QKV Linear d->3d ->
causal attention (plain MatMul, scale, Add of a constant mask, -1e4 above the diagonal and one
initializer shared by both blocks, Softmax, MatMul) -> out Linear -> residual; LayerNorm ->
Linear d->1024 -> GELU (exact, erf) -> Linear 1024->d -> residual. Then a final LayerNorm and the
head Linear d->256. No dropout.

Data: the training text of scripts/data/gloss_lm_data.py (WordNet glosses, about 8.9 MB of ASCII),
random 64-byte windows (next-byte targets) drawn with a fixed seed. AdamW, linear warm-up then
cosine decay, a fixed number of steps (not wall-clock based). Debian's torch with fixed seeds and
one thread, so a rerun on the same machine reproduces the same weights.

Export: opset 17 (LayerNormalization; Linear on 3-D input -> MatMul + Add; GELU -> Erf),
constant folding (the Identity that torch puts on the shared mask is dropped), input
``input_ids`` int64 [1,64] (static), output ``logits`` float32 [1,64,256].

Writes ``tests/data/models/gloss_lm_op17.onnx`` and ``tests/data/models/gloss_lm.json`` (FP32
per-byte perplexity on data/gloss_lm/input_ids.npy measured with ONNX Runtime, the unigram byte
perplexity of the training text, steps, parameters, seed, training seconds). ``--check`` only
re-measures the committed model and compares with the JSON. ``--bench N`` times N training steps.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # Debian torch uses the system BLAS (libopenblas0-serial)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "data"))
sys.path.insert(0, os.path.join(ROOT, "scripts", "eval"))
import gloss_lm_data  # noqa: E402
from perplexity import perplexity  # noqa: E402

OUT_DIR = os.path.join(ROOT, "tests", "data", "models")
DATA_DIR = os.path.join(ROOT, "data", "gloss_lm")
ONNX_NAME = "gloss_lm_op17.onnx"
JSON_NAME = "gloss_lm.json"
SEED = 20260615
VOCAB, CONTEXT, DIM, HEADS, DEPTH, MLP = 256, 64, 256, 4, 2, 1024
MASK_VALUE = -1e4


def build_model():
    import torch
    import torch.nn as nn

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = (DIM // HEADS) ** -0.5
            self.qkv = nn.Linear(DIM, 3 * DIM)
            self.proj = nn.Linear(DIM, DIM)
            mask = torch.triu(torch.full((CONTEXT, CONTEXT), MASK_VALUE), diagonal=1)
            self.register_buffer("mask", mask)

        def forward(self, x):
            b, n, c = x.shape
            qkv = self.qkv(x).reshape(b, n, 3, HEADS, c // HEADS).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            attn = torch.matmul(q, k.transpose(-2, -1)) * self.scale + self.mask
            attn = attn.softmax(dim=-1)
            out = torch.matmul(attn, v).transpose(1, 2).reshape(b, n, c)
            return self.proj(out)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1 = nn.LayerNorm(DIM)
            self.attn = Attention()
            self.norm2 = nn.LayerNorm(DIM)
            self.fc1 = nn.Linear(DIM, MLP)
            self.act = nn.GELU()
            self.fc2 = nn.Linear(MLP, DIM)

        def forward(self, x):
            x = x + self.attn(self.norm1(x))
            x = x + self.fc2(self.act(self.fc1(self.norm2(x))))
            return x

    class GlossLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok_embed = nn.Embedding(VOCAB, DIM)
            self.pos_embed = nn.Parameter(torch.randn(1, CONTEXT, DIM) * 0.02)
            self.blocks = nn.Sequential(*[Block() for _ in range(DEPTH)])
            self.norm = nn.LayerNorm(DIM)
            self.head = nn.Linear(DIM, VOCAB)
            for name, p in self.named_parameters():
                if p.dim() == 2 and name != "pos_embed":
                    nn.init.normal_(p, std=0.02)
                elif name.endswith(".bias"):
                    nn.init.zeros_(p)
            for blk in self.blocks:  # GPT-2: scale the residual projections by 1/sqrt(2 * depth)
                nn.init.normal_(blk.attn.proj.weight, std=0.02 / math.sqrt(2 * DEPTH))
                nn.init.normal_(blk.fc2.weight, std=0.02 / math.sqrt(2 * DEPTH))

        def forward(self, input_ids):
            x = self.tok_embed(input_ids) + self.pos_embed
            x = self.norm(self.blocks(x))
            return self.head(x)

    return GlossLM()


def unigram(train, eval_windows):
    """Unigram byte perplexity: of the training text itself (exp of its entropy) and of the
    training-text unigram model (add-one smoothed) on the evaluation targets."""
    counts = gloss_lm_data.unigram_counts(train)
    p = counts / counts.sum()
    nz = p > 0
    train_ppl = math.exp(-(p[nz] * np.log(p[nz])).sum())
    ps = (counts + 1) / (counts.sum() + 256)
    targets = eval_windows[:, 1:].reshape(-1)
    eval_ppl = math.exp(-np.log(ps[targets]).mean())
    return train_ppl, eval_ppl


def torch_perplexity(model, windows):
    import torch
    model.eval()
    with torch.no_grad():
        w = torch.from_numpy(windows)
        logits = model(w[:, :-1])
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB).double(), w[:, 1:].reshape(-1))
    model.train()
    return math.exp(ce.item())


def train(steps, batch, lr, warmup, weight_decay, eval_windows, log=print, eval_every=250):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)
    data = torch.from_numpy(gloss_lm_data.training_bytes().astype(np.int64))
    model = build_model()
    nparams = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and n != "pos_embed"]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() == 2 and n != "pos_embed")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))

    def lr_at(step):
        if step < warmup:
            return lr * (step + 1) / warmup
        t = (step - warmup) / max(1, steps - warmup)
        return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))

    gen = torch.Generator().manual_seed(SEED)
    offsets = torch.arange(CONTEXT + 1)
    log(f"{nparams} parameters, {steps} steps x batch {batch} x {CONTEXT} bytes "
        f"(training text {data.numel()} bytes)")
    model.train()
    t0 = time.time()
    run_loss = None
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        starts = torch.randint(0, data.numel() - CONTEXT - 1, (batch,), generator=gen)
        w = data[starts[:, None] + offsets]
        logits = model(w[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), w[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        run_loss = loss.item() if run_loss is None else 0.98 * run_loss + 0.02 * loss.item()
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            msg = f"step {step + 1}/{steps} loss {run_loss:.4f} lr {lr_at(step):.2e}"
            if eval_windows is not None:
                msg += f" eval ppl {torch_perplexity(model, eval_windows):.3f}"
            log(f"{msg} ({time.time() - t0:.0f} s)")
    secs = time.time() - t0
    model.eval()
    return model, nparams, secs


def drop_initializer_identities(m):
    """torch shares equal constants (the second block's causal mask) through an Identity of the
    first one's initializer; point the consumers at the initializer itself and drop the Identity."""
    inits = {i.name for i in m.graph.initializer}
    outputs = {o.name for o in m.graph.output}
    alias = {}
    for n in list(m.graph.node):
        if n.op_type == "Identity" and n.input[0] in inits and n.output[0] not in outputs:
            alias[n.output[0]] = n.input[0]
            m.graph.node.remove(n)
    for n in m.graph.node:
        for k, name in enumerate(n.input):
            if name in alias:
                n.input[k] = alias[name]
    return len(alias)


def export(model, path):
    import torch
    import onnx
    dummy = torch.zeros(1, CONTEXT, dtype=torch.int64)
    torch.onnx.export(model, dummy, path, opset_version=17, input_names=["input_ids"],
                      output_names=["logits"], do_constant_folding=True)
    m = onnx.load(path)
    drop_initializer_identities(m)
    onnx.checker.check_model(m)
    # stable producer fields so reruns give byte-identical files
    m.producer_name = "vitq-scripts"
    m.producer_version = "1"
    onnx.save(m, path)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def eval_windows(data_dir):
    path = os.path.join(data_dir, "input_ids.npy")
    if os.path.exists(path):
        return np.load(path)
    sets, _ = gloss_lm_data.split_text()  # same bytes as the data script writes
    return gloss_lm_data.windows(sets["eval"], gloss_lm_data.EVAL_WINDOWS, CONTEXT + 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=2400)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--data", default=DATA_DIR, help="folder with input_ids.npy (built in memory if absent)")
    ap.add_argument("--out-dir", default=OUT_DIR)
    ap.add_argument("--bench", type=int, default=0, metavar="N",
                    help="only time N training steps and print steps/s (writes nothing)")
    ap.add_argument("--check", action="store_true",
                    help="do not train: re-measure the committed model and compare to the JSON")
    args = ap.parse_args()
    ev = eval_windows(args.data)
    onnx_path = os.path.join(args.out_dir, ONNX_NAME)
    json_path = os.path.join(args.out_dir, JSON_NAME)
    if args.check:
        with open(json_path) as f:
            meta = json.load(f)
        r = perplexity(onnx_path, ev)
        rec = meta["perplexity"]
        ok = abs(r["perplexity"] - rec) <= 1e-4 * rec
        print(f"{ONNX_NAME}: perplexity {r['perplexity']:.6f} (recorded {rec:.6f}) "
              f"{'OK' if ok else 'MISMATCH'}")
        sys.exit(0 if ok else 1)
    if args.bench:
        _, _, secs = train(args.bench, args.batch, args.lr, args.warmup, args.weight_decay, None,
                           log=lambda s: print(s, flush=True), eval_every=max(1, args.bench))
        print(f"{args.bench} steps in {secs:.1f} s: {args.bench / secs:.3f} steps/s")
        return
    train_bytes = gloss_lm_data.training_bytes()
    uni_train, uni_eval = unigram(train_bytes, ev)
    print(f"unigram byte perplexity: {uni_train:.3f} (training text entropy), "
          f"{uni_eval:.3f} (training unigram on the evaluation targets)", flush=True)
    model, nparams, secs = train(args.steps, args.batch, args.lr, args.warmup, args.weight_decay, ev,
                                 log=lambda s: print(s, flush=True))
    os.makedirs(args.out_dir, exist_ok=True)
    export(model, onnx_path)
    r = perplexity(onnx_path, ev)
    print(f"{ONNX_NAME}: FP32 perplexity {r['perplexity']:.4f} ({r['bits_per_byte']:.4f} bits/byte) with "
          f"ONNX Runtime; unigram {uni_train:.3f}; {os.path.getsize(onnx_path)} bytes", flush=True)
    meta = {
        "model": ONNX_NAME,
        "arch": {"type": "decoder-only byte-level GPT, pre-LN", "vocab": VOCAB, "context": CONTEXT,
                 "d_model": DIM, "heads": HEADS, "blocks": DEPTH, "mlp": MLP, "gelu": "exact (erf)",
                 "mask": f"constant additive, {MASK_VALUE} above the diagonal", "opset": 17},
        "io": {"input": "input_ids int64 [1,64]", "output": "logits float32 [1,64,256]"},
        "data": "data/gloss_lm/input_ids.npy (scripts/data/gloss_lm_data.py): 256 windows of 65 bytes, "
                "input row[:64], targets row[1:]",
        "perplexity": r["perplexity"],
        "cross_entropy": r["cross_entropy"],
        "bits_per_byte": r["bits_per_byte"],
        "unigram_perplexity_train": uni_train,
        "unigram_perplexity_eval": uni_eval,
        "steps": args.steps, "batch": args.batch, "lr": args.lr, "warmup": args.warmup,
        "weight_decay": args.weight_decay,
        "params": nparams,
        "seed": SEED,
        "train_seconds": round(secs, 1),
        "sha256": sha256(onnx_path),
    }
    with open(json_path, "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
