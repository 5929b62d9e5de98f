#!/usr/bin/env python3
"""Fashion-MNIST evaluation and calibration files from Debian's dataset-fashion-mnist.

Outputs under ``data/fashion_mnist/``:

* ``test_x.npy`` float32 [10000,1,28,28] normalized as the models expect ((x/255-0.2860)/0.3530),
  ``test_y.npy`` int64 [10000].
* ``calib_x.npy`` / ``calib_y.npy``: 512 training images (fixed seed), never test images.
* ``png/calib/NNNNN.png`` (the same 512 images, 8-bit grayscale) and
  ``png/test/<class>/NNNNN.png`` (the first ``--png-test`` test images), plus ``preprocess.json``
  (how to turn a PNG into the model input) and ``classes.txt``.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
import fashion_mnist as fm  # noqa: E402

ROOT = fm.ROOT
OUT_DIR = os.path.join(ROOT, "data", "fashion_mnist")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=OUT_DIR)
    ap.add_argument("--calib", type=int, default=512)
    ap.add_argument("--png-test", type=int, default=1000)
    args = ap.parse_args()
    from PIL import Image
    o = args.out_dir
    xte, yte = fm.load_split("test")
    xtr, ytr = fm.load_split("train")
    idx = np.sort(np.random.RandomState(7).choice(len(ytr), args.calib, replace=False))
    os.makedirs(o, exist_ok=True)
    np.save(os.path.join(o, "test_x.npy"), fm.normalize(xte))
    np.save(os.path.join(o, "test_y.npy"), yte)
    np.save(os.path.join(o, "calib_x.npy"), fm.normalize(xtr[idx]))
    np.save(os.path.join(o, "calib_y.npy"), ytr[idx])
    np.save(os.path.join(o, "calib_train_indices.npy"), idx)
    os.makedirs(os.path.join(o, "png", "calib"), exist_ok=True)
    for k, i in enumerate(idx):
        Image.fromarray(xtr[i]).save(os.path.join(o, "png", "calib", f"{k:05d}.png"))
    for i in range(min(args.png_test, len(yte))):
        d = os.path.join(o, "png", "test", str(int(yte[i])))
        os.makedirs(d, exist_ok=True)
        Image.fromarray(xte[i]).save(os.path.join(d, f"{i:05d}.png"))
    with open(os.path.join(o, "classes.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    with open(os.path.join(o, "preprocess.json"), "w") as f:
        json.dump({"input": "input", "layout": "NCHW", "shape": [1, 1, 28, 28], "color": "gray",
                   "scale": 1 / 255.0, "mean": [fm.MEAN], "std": [fm.STD],
                   "formula": "(pixel/255 - mean)/std"}, f, indent=1)
    print(f"Fashion-MNIST: {len(yte)} test, {len(idx)} calibration -> {o}")


if __name__ == "__main__":
    main()
