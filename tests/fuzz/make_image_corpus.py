#!/usr/bin/env python3
"""Writes the image fuzzer's seed corpus (tests/fuzz/image_corpus/): small PNGs of every colour
type and bit depth vitq decodes (gray, RGB, RGBA, palette, 16-bit; PIL writes no interlaced PNG) and baseline,
progressive and gray JPEGs, a few hundred bytes each. Deterministic pixels (PIL's encoders)."""
import io
import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def pixels(h, w, c):
    y, x = np.mgrid[0:h, 0:w]
    planes = [(x * 37 + y * 11 + k * 90) % 256 for k in range(c)]
    return np.stack(planes, -1).astype(np.uint8).squeeze()


def encode(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def main():
    folder = os.path.join(HERE, "image_corpus")
    os.makedirs(folder, exist_ok=True)
    rgb = Image.fromarray(pixels(9, 13, 3), "RGB")
    seeds = {
        "gray.png": encode(Image.fromarray(pixels(7, 5, 1), "L"), "PNG"),
        "rgb.png": encode(rgb, "PNG"),
        "rgba.png": encode(Image.fromarray(pixels(6, 6, 4), "RGBA"), "PNG"),
        "palette.png": encode(rgb.quantize(8), "PNG"),
        "gray16.png": encode(Image.fromarray((pixels(5, 4, 1).astype(np.uint16) * 257), "I;16"), "PNG"),
        "baseline.jpg": encode(rgb, "JPEG", quality=80),
        "progressive.jpg": encode(rgb, "JPEG", quality=80, progressive=True),
        "gray.jpg": encode(Image.fromarray(pixels(8, 8, 1), "L"), "JPEG"),
    }
    for name, data in seeds.items():
        with open(os.path.join(folder, "seed_" + name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {folder}")


if __name__ == "__main__":
    main()
