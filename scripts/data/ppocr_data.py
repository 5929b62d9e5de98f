#!/usr/bin/env python3
"""Render PP-OCR evaluation and calibration data with PIL and Debian fonts (fixed seeds).

Text comes from Debian's ``fortunes-min`` (``/usr/share/games/fortunes/fortunes``), cut into
windows of 1..7 words; a built-in word list is the fallback when it is missing. Every character
is checked against ``ppocr_keys_v1.txt``. Fonts: DejaVu (``fonts-dejavu-core``/``-extra``) and
Liberation (``fonts-liberation``) faces found on the machine, in a fixed order.

Outputs under ``data/ppocr/``:

* ``rec_{eval,calib}/``: ``images/NNNNN.png`` (one text line each), ``labels.txt``
  (``file<TAB>text``), ``x.npy`` float32 [N,3,48,640] preprocessed as PaddleOCR does (BGR,
  resize to height 48 keeping the aspect ratio, (x/255-0.5)/0.5, right-padded with 0),
  ``meta.json`` (font, size, colours of each line).
* ``cls_{eval,calib}/``: short lines and their 180-degree rotations; ``images/``,
  ``labels.txt`` (``file<TAB>0|1``; 1 = rotated 180), ``x.npy`` [N,3,48,192], ``y.npy`` int64.
* ``det_{eval,calib}/``: 640x640 pages with several lines each; ``images/``, ``boxes.json``
  (axis-aligned text boxes [x0,y0,x1,y1] per page), ``x.npy`` [N,3,640,640] normalized with the
  ImageNet mean/std of PaddleOCR's det config (BGR).
"""
import argparse
import glob
import json
import math
import os
import random
import shutil

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "data", "ppocr")
KEYS = os.path.join(ROOT, "models", "ppocr", "ppocr_keys_v1.txt")
REC_H, REC_W = 48, 640
CLS_H, CLS_W = 48, 192
DET_SIZE = 640
FONT_NAMES = [
    "dejavu/DejaVuSans.ttf", "dejavu/DejaVuSerif.ttf", "dejavu/DejaVuSansMono.ttf",
    "dejavu/DejaVuSans-Bold.ttf", "dejavu/DejaVuSansCondensed.ttf", "dejavu/DejaVuSerif-Italic.ttf",
    "liberation/LiberationSans-Regular.ttf", "liberation/LiberationSerif-Regular.ttf",
    "liberation/LiberationMono-Regular.ttf", "liberation/LiberationSans-Bold.ttf",
    "liberation/LiberationSansNarrow-Regular.ttf",
]
FALLBACK_WORDS = ("the quick brown fox jumps over lazy dog invoice total amount due date account "
                  "number customer order shipping address street city phone email reference page "
                  "quantity price tax receipt thank you for your purchase model serial version "
                  "January February March April May June July August September October November "
                  "December Monday Friday London Paris Berlin Tokyo 2024 1999 42 3.14 100% $19.99 "
                  "No. #7 (draft) e-mail A/B x+y item-12 O'Neil").split()


def fonts():
    found = [os.path.join("/usr/share/fonts/truetype", f) for f in FONT_NAMES]
    found = [f for f in found if os.path.isfile(f)]
    if not found:
        found = sorted(glob.glob("/usr/share/fonts/truetype/*/*.ttf"))[:4]
    if not found:
        raise SystemExit("no TrueType fonts found: install fonts-dejavu-core")
    return found


def load_keys():
    with open(KEYS, encoding="utf-8") as f:
        return set(f.read().split("\n")) | {" "}


def corpus_words(keys):
    path = "/usr/share/games/fortunes/fortunes"
    if os.path.isfile(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        words = [w for w in text.replace("%", " ").split() if w and all(c in keys for c in w)]
        words = [w for w in words if len(w) <= 14]
        return words, "fortunes-min: " + path
    return FALLBACK_WORDS, "built-in word list"


def make_text(rng, words, min_words, max_words, max_chars):
    while True:
        n = rng.randint(min_words, max_words)
        i = rng.randrange(0, len(words) - n)
        s = " ".join(words[i:i + n])
        if 1 <= len(s) <= max_chars:
            return s


def pick_colors(rng):
    """Background/foreground with a contrast drawn from high to moderate; some light-on-dark."""
    contrast = rng.choice([220, 180, 140, 100])
    bg = rng.randint(contrast + 20, 255) if contrast < 235 else 255
    fg = bg - contrast
    tint = [rng.randint(-15, 15) for _ in range(3)]
    bgc = tuple(int(np.clip(bg + t, 0, 255)) for t in tint)
    fgc = tuple(int(np.clip(fg + rng.randint(-10, 10), 0, 255)) for _ in range(3))
    if rng.random() < 0.2:
        bgc, fgc = fgc, bgc
    return bgc, fgc, contrast


def render_line(rng, text, font_path, size):
    font = ImageFont.truetype(font_path, size)
    x0, y0, x1, y1 = font.getbbox(text)
    mx, my = rng.randint(4, 14), rng.randint(3, 10)
    w, h = x1 - x0 + 2 * mx, y1 - y0 + 2 * my
    bgc, fgc, contrast = pick_colors(rng)
    img = Image.new("RGB", (w, h), bgc)
    ImageDraw.Draw(img).text((mx - x0, my - y0), text, font=font, fill=fgc)
    return img, {"bg": bgc, "fg": fgc, "contrast": contrast}


def rec_preprocess(img, height, width):
    """PaddleOCR's resize_norm_img: BGR, height fixed, width by aspect (capped), pad with 0."""
    w, h = img.size
    rw = min(width, int(math.ceil(height * w / h)))
    im = img.resize((rw, height), Image.BILINEAR)
    a = np.asarray(im, dtype=np.float32)[:, :, ::-1].transpose(2, 0, 1) / 255.0
    a = (a - 0.5) / 0.5
    out = np.zeros((3, height, width), dtype=np.float32)
    out[:, :, :rw] = a
    return out


def make_rec(out, n, seed, words, font_list):
    shutil.rmtree(out, ignore_errors=True)
    rng = random.Random(seed)
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    xs, labels, meta = [], [], []
    while len(xs) < n:
        text = make_text(rng, words, 1, 7, 40)
        font = font_list[len(xs) % len(font_list)]
        size = rng.choice([22, 26, 30, 34, 40])
        img, info = render_line(rng, text, font, size)
        if img.size[0] / img.size[1] > REC_W / REC_H:   # would be squeezed: draw again shorter
            continue
        name = f"{len(xs):05d}.png"
        img.save(os.path.join(out, "images", name))
        xs.append(rec_preprocess(img, REC_H, REC_W))
        labels.append(f"{name}\t{text}")
        meta.append(dict(file=name, text=text, font=os.path.basename(font), size=size, **info))
    np.save(os.path.join(out, "x.npy"), np.stack(xs))
    with open(os.path.join(out, "labels.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(labels) + "\n")
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump({"input": "x", "shape": [n, 3, REC_H, REC_W], "lines": meta}, f, indent=1)


def make_cls(out, n_lines, seed, words, font_list):
    shutil.rmtree(out, ignore_errors=True)
    rng = random.Random(seed)
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    xs, ys, labels = [], [], []
    for i in range(n_lines):
        text = make_text(rng, words, 1, 3, 16)
        img, _ = render_line(rng, text, font_list[i % len(font_list)], rng.choice([24, 30, 36]))
        for rot in (0, 1):
            im = img.rotate(180) if rot else img
            name = f"{i:05d}_{rot * 180}.png"
            im.save(os.path.join(out, "images", name))
            xs.append(rec_preprocess(im, CLS_H, CLS_W))
            ys.append(rot)
            labels.append(f"{name}\t{rot}")
    np.save(os.path.join(out, "x.npy"), np.stack(xs))
    np.save(os.path.join(out, "y.npy"), np.array(ys, dtype=np.int64))
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("\n".join(labels) + "\n")


def det_preprocess(img):
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    a = np.asarray(img, dtype=np.float32)[:, :, ::-1] / 255.0   # BGR, as PaddleOCR reads with cv2
    a = (a - mean) / std
    return a.transpose(2, 0, 1).astype(np.float32)


def make_det(out, n, seed, words, font_list):
    shutil.rmtree(out, ignore_errors=True)
    rng = random.Random(seed)
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    xs, boxes = [], {}
    for p in range(n):
        bg = tuple(rng.randint(200, 255) for _ in range(3))
        page = Image.new("RGB", (DET_SIZE, DET_SIZE), bg)
        draw = ImageDraw.Draw(page)
        y, page_boxes = rng.randint(10, 40), []
        while True:
            size = rng.choice([18, 22, 26, 32, 40])
            font = ImageFont.truetype(rng.choice(font_list), size)
            text = make_text(rng, words, 1, 6, 40)
            x0, y0, x1, y1 = font.getbbox(text)
            w, h = x1 - x0, y1 - y0
            if w > DET_SIZE - 40:
                continue
            if y + h > DET_SIZE - 10:
                break
            x = rng.randint(10, DET_SIZE - 10 - w)
            fg = tuple(rng.randint(0, 90) for _ in range(3))
            draw.text((x - x0, y - y0), text, font=font, fill=fg)
            page_boxes.append([x, y, x + w, y + h])
            y += h + rng.randint(12, 40)
        name = f"{p:05d}.png"
        page.save(os.path.join(out, "images", name))
        xs.append(det_preprocess(page))
        boxes[name] = page_boxes
    np.save(os.path.join(out, "x.npy"), np.stack(xs))
    with open(os.path.join(out, "boxes.json"), "w") as f:
        json.dump({"order": sorted(boxes), "boxes": boxes}, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=OUT_DIR)
    ap.add_argument("--rec-eval", type=int, default=300)
    ap.add_argument("--rec-calib", type=int, default=64)
    ap.add_argument("--cls-eval", type=int, default=150, help="lines (x2 with rotations)")
    ap.add_argument("--cls-calib", type=int, default=32)
    ap.add_argument("--det-eval", type=int, default=24)
    ap.add_argument("--det-calib", type=int, default=16)
    ap.add_argument("--fast", action="store_true", help="small CI subset")
    args = ap.parse_args()
    if args.fast:
        args.rec_eval, args.rec_calib, args.cls_eval, args.cls_calib = 100, 16, 50, 8
        args.det_eval, args.det_calib = 4, 4
    keys = load_keys()
    words, source = corpus_words(keys)
    font_list = fonts()
    o = args.out_dir
    make_rec(os.path.join(o, "rec_eval"), args.rec_eval, 1001, words, font_list)
    make_rec(os.path.join(o, "rec_calib"), args.rec_calib, 2001, words, font_list)
    make_cls(os.path.join(o, "cls_eval"), args.cls_eval, 1002, words, font_list)
    make_cls(os.path.join(o, "cls_calib"), args.cls_calib, 2002, words, font_list)
    make_det(os.path.join(o, "det_eval"), args.det_eval, 1003, words, font_list)
    make_det(os.path.join(o, "det_calib"), args.det_calib, 2003, words, font_list)
    with open(os.path.join(o, "SOURCE.json"), "w") as f:
        json.dump({"text": source, "fonts": font_list, "fast": args.fast,
                   "counts": {"rec_eval": args.rec_eval, "rec_calib": args.rec_calib,
                              "cls_eval": 2 * args.cls_eval, "cls_calib": 2 * args.cls_calib,
                              "det_eval": args.det_eval, "det_calib": args.det_calib}}, f, indent=1)
    print(f"PP-OCR data ({source}, {len(font_list)} fonts) -> {o}")


if __name__ == "__main__":
    main()
