#!/usr/bin/env python3
"""Score an ONNX model on its task with ONNX Runtime (CPU) and write the result as JSON.

    evaluate.py --task {ppocr-rec,ppocr-det,ppocr-cls,fashion-mnist,minilm} --model X.onnx
                [--reference FP32.onnx] [--data DIR] [--limit N] [--threads T] [--latency]
                [--json OUT]

Tasks and metrics (data from scripts/data/, default folders under data/):

* ``ppocr-rec`` (data/ppocr/rec_eval): greedy CTC (index 0 blank, 1..6623 the lines of
  ppocr_keys_v1.txt, the last class a space). ``cer``: character error rate with spaces removed
  from both sides (the Chinese model's spaces are unreliable); ``cer_with_spaces``: runs of spaces
  collapsed, ends trimmed; ``exact_line_rate``: lines read exactly (spaces removed). With
  ``--reference``: ``agreement_with_reference``, the share of lines decoded identically.
* ``ppocr-det`` (data/ppocr/det_eval): probability map [N,1,H,W]. Against the rendered boxes:
  ``box_recall`` (boxes whose central band, 20 % of the box height, has >= 50 % of its pixels
  above 0.3: DB maps mark a shrunk kernel of each text), ``pixel_precision`` (pixels above
  0.3 inside a box grown by 4 px) and their harmonic mean ``box_f``. With ``--reference``:
  ``map_iou`` (IoU of the maps thresholded at 0.3, mean over pages), ``map_mean_abs_diff``.
* ``ppocr-cls`` (data/ppocr/cls_eval): ``accuracy`` of 0/180 degree classification.
* ``fashion-mnist`` (data/fashion_mnist): ``top1`` on the 10 k test set; with ``--reference``
  ``agreement_with_reference`` (same arg-max).
* ``minilm`` (data/minilm): ``norm_max_dev`` (max |‖e‖-1|); with ``--reference`` (defaults to
  models/minilm/all-MiniLM-L6-v2.onnx) ``cosine_mean``/``cosine_min`` to FP32, and retrieval
  agreement: ``retrieval_top1_agreement`` (each sentence's nearest neighbour is the same) and
  ``retrieval_top5_overlap`` (mean overlap of the 5-NN sets).
* ``gloss-lm`` (data/gloss_lm): ``perplexity`` per byte of the byte-level decoder LM on the held-out
  gloss windows (scripts/eval/perplexity.py), ``bits_per_byte``.
* ``synthetic`` (data/synthetic): random-weight DeiT/Swin graphs; ``finite``; with ``--reference``
  ``output_cosine_mean``/``output_cosine_min`` and ``output_sqnr_db`` of the logits (no accuracy).

The JSON always has ``task``, ``model``, ``reference``, ``n``, ``metrics`` (dict of floats),
``seconds`` and ``onnxruntime``; ``latency_ms`` when ``--latency`` is given.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TASKS = ("ppocr-rec", "ppocr-det", "ppocr-cls", "fashion-mnist", "minilm", "synthetic", "gloss-lm")
DEFAULT_DATA = {
    "ppocr-rec": "data/ppocr/rec_eval", "ppocr-det": "data/ppocr/det_eval",
    "ppocr-cls": "data/ppocr/cls_eval", "fashion-mnist": "data/fashion_mnist", "minilm": "data/minilm",
    "synthetic": "data/synthetic", "gloss-lm": "data/gloss_lm",
}
DEFAULT_MODEL = {
    "ppocr-rec": "models/ppocr/ch_PP-OCRv4_rec_infer.onnx",
    "ppocr-det": "models/ppocr/ch_PP-OCRv4_det_infer.onnx",
    "ppocr-cls": "models/ppocr/ch_ppocr_mobile_v2.0_cls_infer.onnx",
    "fashion-mnist": "tests/data/models/fmnist_vit_op17.onnx",
    "minilm": "models/minilm/all-MiniLM-L6-v2.onnx",
    "synthetic": "models/synthetic/deit_small.onnx",
    "gloss-lm": "tests/data/models/gloss_lm_op17.onnx",
}
KEYS = "models/ppocr/ppocr_keys_v1.txt"


def rpath(p):
    return p if os.path.isabs(p) else os.path.join(ROOT, p)


def session(path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run_batched(sess, feeds, batch):
    """feeds: dict name -> array with the same leading N. Returns the first output, concatenated."""
    n = next(iter(feeds.values())).shape[0]
    outs = []
    for i in range(0, n, batch):
        outs.append(sess.run(None, {k: v[i:i + batch] for k, v in feeds.items()})[0])
    return np.concatenate(outs)


def single_feed(sess, x):
    return {sess.get_inputs()[0].name: x}


# ---------------------------------------------------------------- PP-OCR rec
def load_keys(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


def ctc_greedy(logits, keys):
    chars = list(keys) + [" "]   # class i (1-based) -> chars[i-1]; last class = space
    idx = logits.argmax(-1)
    texts = []
    for row in idx:
        out, prev = [], 0
        for c in row:
            c = int(c)
            if c != prev and c != 0:
                out.append(chars[c - 1] if c - 1 < len(chars) else "")
            prev = c
        texts.append("".join(out))
    return texts


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(preds, gts):
    errs = sum(edit_distance(p, g) for p, g in zip(preds, gts))
    return errs / max(1, sum(len(g) for g in gts))


def eval_rec(args, data):
    keys = load_keys(rpath(args.keys))
    with open(os.path.join(data, "labels.txt"), encoding="utf-8") as f:
        gts = [line.rstrip("\n").split("\t", 1)[1] for line in f if line.strip()]
    x = np.load(os.path.join(data, "x.npy"), mmap_mode="r")
    n = min(len(gts), args.limit or len(gts))
    x, gts = np.ascontiguousarray(x[:n]), gts[:n]
    sess = session(rpath(args.model), args.threads)
    preds = ctc_greedy(run_batched(sess, single_feed(sess, x), args.batch or 16), keys)
    nospace = lambda s: "".join(s.split())
    collapse = lambda s: " ".join(s.split())
    m = {
        "cer": cer([nospace(p) for p in preds], [nospace(g) for g in gts]),
        "cer_with_spaces": cer([collapse(p) for p in preds], [collapse(g) for g in gts]),
        "exact_line_rate": float(np.mean([nospace(p) == nospace(g) for p, g in zip(preds, gts)])),
    }
    if args.reference:
        rs = session(rpath(args.reference), args.threads)
        rpreds = ctc_greedy(run_batched(rs, single_feed(rs, x), args.batch or 16), keys)
        m["agreement_with_reference"] = float(np.mean([a == b for a, b in zip(preds, rpreds)]))
    errors = [{"gt": g, "pred": p} for p, g in zip(preds, gts) if nospace(p) != nospace(g)]
    return n, m, {"errors": errors[:20]}


# ---------------------------------------------------------------- PP-OCR det
def eval_det(args, data):
    with open(os.path.join(data, "boxes.json")) as f:
        bj = json.load(f)
    names = bj["order"]
    x = np.load(os.path.join(data, "x.npy"), mmap_mode="r")
    n = min(len(names), args.limit or len(names))
    x = np.ascontiguousarray(x[:n])
    sess = session(rpath(args.model), args.threads)
    maps = run_batched(sess, single_feed(sess, x), args.batch or 1)[:, 0]
    thr = 0.3
    recalls, precs = [], []
    for i in range(n):
        pos = maps[i] > thr
        inside = np.zeros_like(pos)
        hit = 0
        boxes = bj["boxes"][names[i]]
        for x0, y0, x1, y1 in boxes:
            # DB maps mark a shrunk text kernel: test the box's central band (20 % of its height)
            b = max(1, int(0.1 * (y1 - y0)))
            yc = (y0 + y1) // 2
            hit += pos[yc - b:yc + b + 1, x0 + b:x1 - b].mean() >= 0.5
            inside[max(0, y0 - 4):y1 + 4, max(0, x0 - 4):x1 + 4] = True
        recalls.append(hit / max(1, len(boxes)))
        precs.append((pos & inside).sum() / max(1, pos.sum()))
    r, p = float(np.mean(recalls)), float(np.mean(precs))
    m = {"box_recall": r, "pixel_precision": p, "box_f": 2 * r * p / max(1e-12, r + p)}
    if args.reference:
        rs = session(rpath(args.reference), args.threads)
        rmaps = run_batched(rs, single_feed(rs, x), args.batch or 1)[:, 0]
        ious = []
        for a, b in zip(maps > thr, rmaps > thr):
            ious.append((a & b).sum() / max(1, (a | b).sum()))
        m["map_iou"] = float(np.mean(ious))
        m["map_iou_min"] = float(np.min(ious))
        m["map_mean_abs_diff"] = float(np.abs(maps - rmaps).mean())
    return n, m, {}


# ---------------------------------------------------------------- PP-OCR cls
def eval_cls(args, data):
    x = np.load(os.path.join(data, "x.npy"), mmap_mode="r")
    y = np.load(os.path.join(data, "y.npy"))
    n = min(len(y), args.limit or len(y))
    x, y = np.ascontiguousarray(x[:n]), y[:n]
    sess = session(rpath(args.model), args.threads)
    pred = run_batched(sess, single_feed(sess, x), args.batch or 32).argmax(-1)
    m = {"accuracy": float((pred == y).mean())}
    if args.reference:
        rs = session(rpath(args.reference), args.threads)
        m["agreement_with_reference"] = float(
            (run_batched(rs, single_feed(rs, x), args.batch or 32).argmax(-1) == pred).mean())
    return n, m, {}


# ---------------------------------------------------------------- Fashion-MNIST
def eval_fmnist(args, data):
    x = np.load(os.path.join(data, "test_x.npy"), mmap_mode="r")
    y = np.load(os.path.join(data, "test_y.npy"))
    n = min(len(y), args.limit or len(y))
    x, y = np.ascontiguousarray(x[:n]), y[:n]
    sess = session(rpath(args.model), args.threads)
    pred = run_batched(sess, single_feed(sess, x), args.batch or 500).argmax(-1)
    m = {"top1": float((pred == y).mean())}
    if args.reference:
        rs = session(rpath(args.reference), args.threads)
        m["agreement_with_reference"] = float(
            (run_batched(rs, single_feed(rs, x), args.batch or 500).argmax(-1) == pred).mean())
    return n, m, {}


# ---------------------------------------------------------------- MiniLM
def minilm_feeds(data, limit, prefix=""):
    feeds = {k: np.load(os.path.join(data, f"{prefix}{k}.npy"))
             for k in ("input_ids", "attention_mask", "token_type_ids")}
    n = min(feeds["input_ids"].shape[0], limit or feeds["input_ids"].shape[0])
    return n, {k: np.ascontiguousarray(v[:n]) for k, v in feeds.items()}


def knn(e, k):
    s = e @ e.T
    np.fill_diagonal(s, -np.inf)
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


def eval_minilm(args, data):
    n, feeds = minilm_feeds(data, args.limit)
    sess = session(rpath(args.model), args.threads)
    names = {i.name for i in sess.get_inputs()}
    e = run_batched(sess, {k: v for k, v in feeds.items() if k in names}, args.batch or 32)
    norms = np.linalg.norm(e, axis=1)
    m = {"norm_max_dev": float(np.abs(norms - 1).max())}
    ref = args.reference
    if ref is None and os.path.abspath(rpath(args.model)) != os.path.abspath(rpath(DEFAULT_MODEL["minilm"])) \
            and os.path.isfile(rpath(DEFAULT_MODEL["minilm"])):
        ref = DEFAULT_MODEL["minilm"]
    if ref:
        rs = session(rpath(ref), args.threads)
        r = run_batched(rs, {k: v for k, v in feeds.items() if k in {i.name for i in rs.get_inputs()}},
                        args.batch or 32)
        cos = (e * r).sum(1) / (norms * np.linalg.norm(r, axis=1))
        m["cosine_mean"] = float(cos.mean())
        m["cosine_min"] = float(cos.min())
        en = e / norms[:, None]
        rn = r / np.linalg.norm(r, axis=1)[:, None]
        a, b = knn(en, 5), knn(rn, 5)
        m["retrieval_top1_agreement"] = float((a[:, 0] == b[:, 0]).mean())
        m["retrieval_top5_overlap"] = float(np.mean([len(set(p) & set(q)) / 5 for p, q in zip(a, b)]))
    return n, m, {"reference_used": ref}


# ---------------------------------------------------------------- synthetic (random weights)
def eval_synthetic(args, data):
    x = np.load(os.path.join(data, "eval_x.npy"))
    n = min(x.shape[0], args.limit or x.shape[0])
    x = x[:n]
    sess = session(rpath(args.model), args.threads)
    y = run_batched(sess, single_feed(sess, x), args.batch or 1).reshape(n, -1).astype(np.float64)
    m = {"finite": float(np.isfinite(y).all())}
    if args.reference:
        rs = session(rpath(args.reference), args.threads)
        r = run_batched(rs, single_feed(rs, x), args.batch or 1).reshape(n, -1).astype(np.float64)
        cos = (y * r).sum(1) / (np.linalg.norm(y, axis=1) * np.linalg.norm(r, axis=1))
        m["output_cosine_mean"] = float(cos.mean())
        m["output_cosine_min"] = float(cos.min())
        m["output_sqnr_db"] = float(10 * np.log10((r ** 2).sum() / max(1e-30, ((y - r) ** 2).sum())))
    return n, m, {}


# ---------------------------------------------------------------- gloss LM (byte-level decoder)
def eval_gloss_lm(args, data):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import perplexity as ppl
    windows = ppl.load_windows(data, args.limit)
    result = ppl.perplexity(rpath(args.model), windows)
    return len(windows), {"perplexity": result["perplexity"], "bits_per_byte": result["bits_per_byte"]}, {}


EVAL = {"gloss-lm": eval_gloss_lm, "ppocr-rec": eval_rec, "ppocr-det": eval_det, "ppocr-cls": eval_cls,
        "fashion-mnist": eval_fmnist, "minilm": eval_minilm, "synthetic": eval_synthetic}


def latency(args, data, runs=30, warmup=5):
    """Median wall time of one inference at batch 1 (first sample of the task's data)."""
    if args.task == "minilm":
        _, feeds = minilm_feeds(data, 1)
    else:
        fname = {"fashion-mnist": "test_x.npy", "synthetic": "eval_x.npy"}.get(args.task, "x.npy")
        feeds = {None: np.ascontiguousarray(np.load(os.path.join(data, fname), mmap_mode="r")[:1])}
    sess = session(rpath(args.model), args.threads)
    names = [i.name for i in sess.get_inputs()]
    if None in feeds:
        feeds = {names[0]: feeds[None]}
    feeds = {k: v for k, v in feeds.items() if k in names}
    for _ in range(warmup):
        sess.run(None, feeds)
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, feeds)
        ts.append((time.perf_counter() - t) * 1e3)
    return {"batch": 1, "threads": args.threads, "runs": runs, "median": float(np.median(ts)),
            "p10": float(np.percentile(ts, 10)), "p90": float(np.percentile(ts, 90))}


def evaluate(task, model=None, reference=None, data=None, limit=None, threads=1, batch=None,
             with_latency=False, keys=KEYS):
    args = argparse.Namespace(task=task, model=model or DEFAULT_MODEL[task], reference=reference,
                              data=data, limit=limit, threads=threads, batch=batch, keys=keys)
    data = rpath(data or DEFAULT_DATA[task])
    t0 = time.time()
    n, metrics, extra = EVAL[task](args, data)
    import onnxruntime
    res = {"task": task, "model": os.path.relpath(rpath(args.model), ROOT) if not os.path.isabs(args.model)
           else args.model, "reference": reference, "data": os.path.relpath(data, ROOT), "n": int(n),
           "metrics": {k: float(v) for k, v in metrics.items()}, "seconds": round(time.time() - t0, 3),
           "onnxruntime": onnxruntime.__version__}
    res.update(extra)
    if with_latency:
        res["latency_ms"] = latency(args, data)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", required=True, choices=TASKS)
    ap.add_argument("--model", help="ONNX model to score (default: the task's FP32 model)")
    ap.add_argument("--reference", help="FP32 model to compare against")
    ap.add_argument("--data", help="data folder (default: the task's folder under data/)")
    ap.add_argument("--limit", type=int, help="score only the first N samples")
    ap.add_argument("--threads", type=int, default=1, help="ORT intra-op threads (default 1)")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--keys", default=KEYS, help="PP-OCR keys file")
    ap.add_argument("--latency", action="store_true", help="also time batch-1 inference (median)")
    ap.add_argument("--json", help="write the result here (default: stdout only)")
    a = ap.parse_args()
    res = evaluate(a.task, a.model, a.reference, a.data, a.limit, a.threads, a.batch, a.latency, a.keys)
    text = json.dumps(res, indent=2, ensure_ascii=False)
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
