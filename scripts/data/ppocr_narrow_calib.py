#!/usr/bin/env python3
"""A deliberately narrow PP-OCR rec calibration set, to test whether learned steps generalize.

The lines of ``ppocr_data.py`` vary in contrast, colour, polarity, font, size and words; these do
not: black text on a white page, one font, one size, and a vocabulary of 20 lower-case words drawn
once from the same corpus. Calibrating on them and scoring on ``data/ppocr/rec_eval`` (other
contrasts, capitals, digits, punctuation) measures how much of a method's gain on its calibration
data carries over, the situation of a user who calibrates on what they happen to have.

Output: ``data/ppocr/rec_calib_narrow/`` with ``images/``, ``labels.txt``, ``x.npy`` [N,3,48,640]
and ``meta.json``, as ``ppocr_data.py`` writes them.
"""
import argparse
import json
import os
import random
import shutil

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ppocr_data import OUT_DIR, REC_H, REC_W, corpus_words, fonts, load_keys, rec_preprocess

PAGE, INK, SIZE = (255, 255, 255), (0, 0, 0), 30


def narrow_vocabulary(rng, words, count):
    plain = sorted({w for w in words if w.isalpha() and w.islower() and 3 <= len(w) <= 9})
    return rng.sample(plain, count)


def render(text, font_path):
    font = ImageFont.truetype(font_path, SIZE)
    x0, y0, x1, y1 = font.getbbox(text)
    img = Image.new("RGB", (x1 - x0 + 16, y1 - y0 + 12), PAGE)
    ImageDraw.Draw(img).text((8 - x0, 6 - y0), text, font=font, fill=INK)
    return img


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(OUT_DIR, "rec_calib_narrow"))
    ap.add_argument("--lines", type=int, default=64)
    ap.add_argument("--words", type=int, default=20)
    ap.add_argument("--seed", type=int, default=3001)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    words, source = corpus_words(load_keys())
    vocabulary = narrow_vocabulary(rng, words, args.words)
    font = fonts()[0]
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(os.path.join(args.out, "images"))
    xs, labels = [], []
    while len(xs) < args.lines:
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 4)))
        img = render(text, font)
        if img.size[0] / img.size[1] > REC_W / REC_H:
            continue
        name = f"{len(xs):05d}.png"
        img.save(os.path.join(args.out, "images", name))
        xs.append(rec_preprocess(img, REC_H, REC_W))
        labels.append(f"{name}\t{text}")
    np.save(os.path.join(args.out, "x.npy"), np.stack(xs))
    with open(os.path.join(args.out, "labels.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(labels) + "\n")
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"input": "x", "shape": [len(xs), 3, REC_H, REC_W], "vocabulary": vocabulary,
                   "font": os.path.basename(font), "size": SIZE, "text": source}, f, indent=1)
    print(f"{len(xs)} narrow calibration lines ({args.words} words, one font, black on white) -> {args.out}")


if __name__ == "__main__":
    main()
