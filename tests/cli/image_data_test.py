#!/usr/bin/env python3
"""Image calibration data (`--data` a folder of PNG/JPEG files, `--preprocess`).

* The PP-OCR rec calibration images (PNG, as scripts/data/ppocr_data.py rendered them) with
  `--preprocess ppocr-rec` give bit for bit the tensors of the script's x.npy, and `vitq quantize`
  writes the very bytes it writes from x.npy; likewise the Fashion-MNIST PNGs with
  `--preprocess fashion-mnist` against calib_x.npy.
* Synthetic images (up- and downscaling on both axes, the width cap, gray, palette, RGBA, JPEG,
  NHWC) through each preset equal what the data scripts (PIL + numpy) or torchvision compute, to
  the bit: each is checked by `vitq report` of an Identity model against a model that outputs the
  expected tensor as a constant (max_abs_error must be exactly 0).
* `vitq report` and `vitq sensitivity` take `--preprocess` too.
* Exit 2 and a message naming the file or the problem: images without `--preprocess`, images
  mixed with .npy, `--preprocess` on .npy data, a bad declaration, a truncated PNG, an image whose
  preprocessed shape the model does not take.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, os.path.join(REPO, "scripts", "data"))
sys.path.insert(0, os.path.join(REPO, "scripts", "models"))
from e2e_checks import check, digest, exit_code  # noqa: E402
from ppocr_data import rec_preprocess, det_preprocess  # noqa: E402  (the scripts' own functions)
import fashion_mnist as fm  # noqa: E402

REC_MODEL = os.path.join(REPO, "models", "ppocr", "ch_PP-OCRv4_rec_infer.onnx")
REC_DATA = os.path.join(REPO, "data", "ppocr", "rec_calib")
FASHION_MODEL = os.path.join(REPO, "tests", "data", "models", "fmnist_vit_op17.onnx")
FASHION_DATA = os.path.join(REPO, "data", "fashion_mnist")
REC_SAMPLES = 8
FASHION_SAMPLES = 32


def run(vitq, *args):
    return subprocess.run([vitq, "-q", *args, "--threads", "1"], capture_output=True, text=True)


def last_line(proc):
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else ""


class Exactness:
    """vitq's tensor for one image equals an expected array: `vitq report` of y = Identity(x)
    against y = C (the expected array) on that one image must find a max_abs_error of 0."""

    def __init__(self, vitq, tmp):
        self.vitq, self.tmp, self.n = vitq, tmp, 0

    def _save(self, name, shape, nodes, inits):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))
        graph = helper.make_graph(nodes, name, [x], [y], initializer=inits)
        path = os.path.join(self.tmp, f"{name}.onnx")
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
        return path

    def max_error(self, image_path, preprocess, expected):
        self.n += 1
        expected = expected.astype(np.float32)
        ident = self._save(f"ident{self.n}", expected.shape, [helper.make_node("Identity", ["x"], ["y"])], [])
        const = self._save(f"const{self.n}", expected.shape, [helper.make_node("Identity", ["c"], ["y"])],
                           [numpy_helper.from_array(expected, "c")])
        report = os.path.join(self.tmp, f"r{self.n}.json")
        proc = run(self.vitq, "report", ident, const, "--data", image_path, "--preprocess", preprocess,
                   "--report", report)
        if proc.returncode != 0:
            return f"exit {proc.returncode}: {last_line(proc)}"
        with open(report) as f:
            return json.load(f)["outputs"][0]["max_abs_error"]

    def check(self, image_path, preprocess, expected, what):
        err = self.max_error(image_path, preprocess, expected)
        check(err == 0, f"{what}: --preprocess '{preprocess}' gives the reference tensor bit for bit "
                        f"(max abs error {err})")


def random_image(rng, width, height, mode="RGB"):
    """Smooth gradients plus noise: resizing then mixes many different neighbours."""
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([(xx * 7 + yy * 3) % 256, (xx * 2 + yy * 11) % 256, (xx * yy) % 256], axis=-1)
    noisy = (base + rng.integers(-40, 40, size=base.shape)).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(noisy, "RGB")
    return img if mode == "RGB" else img.convert(mode)


def torchvision_imagenet(img):
    from torchvision import transforms
    t = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    return t(img).numpy()[None]


def synthetic_cases(ex, tmp):
    rng = np.random.default_rng(5)
    d = os.path.join(tmp, "synthetic")
    os.makedirs(d)

    def save(img, name, **kw):
        path = os.path.join(d, name)
        img.save(path, **kw)
        return path

    # PP-OCR rec: (width, height) upscaled on both axes, downscaled height, width past the 640 cap,
    # taller than wide, and exactly 640x48 (no resize)
    for w, h in ((17, 9), (300, 31), (180, 75), (1000, 40), (50, 120), (640, 48)):
        path = save(random_image(rng, w, h), f"rec_{w}x{h}.png")
        ex.check(path, "ppocr-rec", rec_preprocess(Image.open(path).convert("RGB"), 48, 640)[None],
                 f"ppocr-rec {w}x{h} RGB PNG")
    path = save(random_image(rng, 260, 37), "cls.png")
    ex.check(path, "ppocr-cls", rec_preprocess(Image.open(path), 48, 192)[None], "ppocr-cls 260x37")
    path = save(random_image(rng, 64, 40), "det.png")
    ex.check(path, "ppocr-det", det_preprocess(Image.open(path))[None], "ppocr-det 64x40 (no resize)")

    # Other pixel formats: PIL's convert("RGB") is the reference (palette expanded, alpha dropped,
    # gray repeated)
    for mode in ("L", "P", "RGBA"):
        path = save(random_image(rng, 90, 30, mode), f"mode_{mode}.png")
        ex.check(path, "ppocr-rec", rec_preprocess(Image.open(path).convert("RGB"), 48, 640)[None],
                 f"ppocr-rec from a {mode} PNG")
    # JPEG: decoded by the same libjpeg-turbo as PIL's
    path = save(random_image(rng, 120, 44), "color.jpg", quality=85)
    ex.check(path, "ppocr-rec", rec_preprocess(Image.open(path).convert("RGB"), 48, 640)[None], "ppocr-rec color JPEG")
    path = save(random_image(rng, 33, 52, "L"), "gray.jpeg", quality=90)
    gray = np.asarray(Image.open(path).resize((28, 28), Image.BILINEAR))[None]
    ex.check(path, "fashion-mnist", fm.normalize(gray), "fashion-mnist from a 33x52 gray JPEG")

    # Fashion-MNIST from color: PIL's convert("L") then the 28x28 resize
    path = save(random_image(rng, 40, 35), "fm_rgb.png")
    gray = np.asarray(Image.open(path).convert("L").resize((28, 28), Image.BILINEAR))[None]
    ex.check(path, "fashion-mnist", fm.normalize(gray), "fashion-mnist from a 40x35 RGB PNG")

    # ImageNet: torchvision's Resize(256) + CenterCrop(224) on both orientations
    for w, h in ((300, 257), (231, 340)):
        path = save(random_image(rng, w, h), f"imagenet_{w}x{h}.png")
        ex.check(path, "imagenet", torchvision_imagenet(Image.open(path)), f"imagenet {w}x{h} (torchvision)")

    # Explicit keys over a preset, and NHWC
    path = save(random_image(rng, 70, 20), "nhwc.png")
    expected = rec_preprocess(Image.open(path), 32, 100).transpose(1, 2, 0)[None]
    ex.check(path, "ppocr-rec,resize=fit-height:100x32,layout=nhwc", expected, "preset with overrides, NHWC")
    a = np.asarray(Image.open(path).resize((24, 16), Image.BILINEAR), dtype=np.float32)
    expected = ((a / 255.0 - np.array([0.5, 0.25, 0.125], np.float32)) / np.float32(2.0)).transpose(2, 0, 1)[None]
    ex.check(path, "resize=24x16,mean=0.5,0.25,0.125,std=2", expected, "explicit keys only (RGB, NCHW)")


def real_data_cases(vitq, ex, tmp):
    # PP-OCR rec: the rendered calibration PNGs against the script's x.npy
    x = np.load(os.path.join(REC_DATA, "x.npy"))[:REC_SAMPLES]
    images = sorted(os.listdir(os.path.join(REC_DATA, "images")))[:REC_SAMPLES]
    png_dir = os.path.join(tmp, "rec_png")
    os.makedirs(png_dir)
    for name in images:
        shutil.copy(os.path.join(REC_DATA, "images", name), png_dir)
    errors = [ex.max_error(os.path.join(png_dir, name), "ppocr-rec", x[i:i + 1]) for i, name in enumerate(images)]
    check(all(e == 0 for e in errors), f"PP-OCR rec: {len(images)} rendered PNGs equal x.npy bit for bit ({errors})")
    np.save(os.path.join(tmp, "rec_x.npy"), x)
    a, b = os.path.join(tmp, "rec_npy.onnx"), os.path.join(tmp, "rec_png.onnx")
    pa = run(vitq, "quantize", REC_MODEL, "--recipe", "minmax", "--data", os.path.join(tmp, "rec_x.npy"), "-o", a,
             "--eval-samples", "2")
    pb = run(vitq, "quantize", REC_MODEL, "--recipe", "minmax", "--data", png_dir, "--preprocess", "ppocr-rec", "-o", b,
             "--eval-samples", "2")
    check(pa.returncode == 0 and pb.returncode == 0 and digest(a) == digest(b),
          f"PP-OCR rec: quantize from the PNGs writes the bytes it writes from x.npy "
          f"(exit {pa.returncode}/{pb.returncode} {last_line(pa)}{last_line(pb)})")

    # Fashion-MNIST: png/calib against calib_x.npy
    x = np.load(os.path.join(FASHION_DATA, "calib_x.npy"))[:FASHION_SAMPLES]
    png_dir = os.path.join(tmp, "fashion_png")
    os.makedirs(png_dir)
    for name in sorted(os.listdir(os.path.join(FASHION_DATA, "png", "calib")))[:FASHION_SAMPLES]:
        shutil.copy(os.path.join(FASHION_DATA, "png", "calib", name), png_dir)
    np.save(os.path.join(tmp, "fashion_x.npy"), x)
    a, b = os.path.join(tmp, "fm_npy.onnx"), os.path.join(tmp, "fm_png.onnx")
    pa = run(vitq, "quantize", FASHION_MODEL, "--data", os.path.join(tmp, "fashion_x.npy"), "-o", a)
    pb = run(vitq, "quantize", FASHION_MODEL, "--data", png_dir, "--preprocess", "fashion-mnist", "-o", b)
    check(pa.returncode == 0 and pb.returncode == 0 and digest(a) == digest(b),
          f"Fashion-MNIST: quantize from {FASHION_SAMPLES} PNGs writes the bytes it writes from calib_x.npy "
          f"(exit {pa.returncode}/{pb.returncode} {last_line(pb)})")

    # report and sensitivity read images too, with the same results as from the .npy
    reports = []
    for data, extra in ((os.path.join(tmp, "fashion_x.npy"), []), (png_dir, ["--preprocess", "fashion-mnist"])):
        out = os.path.join(tmp, f"report{len(reports)}.json")
        proc = run(vitq, "report", FASHION_MODEL, a, "--data", data, *extra, "--report", out)
        reports.append(json.load(open(out))["outputs"] if proc.returncode == 0 else last_line(proc))
    check(reports[0] == reports[1], "vitq report: the same outputs from the PNGs as from the .npy")
    proc = run(vitq, "sensitivity", FASHION_MODEL, "--data", png_dir, "--preprocess", "fashion-mnist",
               "--calib-samples", "4", "--eval-samples", "4", "--no-all-but", "--no-activations")
    check(proc.returncode == 0 and "sensitivity" in proc.stdout,
          f"vitq sensitivity runs on the PNGs (exit {proc.returncode} {last_line(proc)})")
    return png_dir


def error_cases(vitq, tmp, fashion_png):
    out = os.path.join(tmp, "never.onnx")

    def refused(args, expected, what):
        proc = run(vitq, "quantize", FASHION_MODEL, "-o", out, *args)
        message = last_line(proc)
        check(proc.returncode == 2 and expected in message and not os.path.exists(out),
              f"{what}: exit {proc.returncode}: {message}")

    refused(["--data", fashion_png],
            f"'{fashion_png}' holds images: say how to turn them into the input with --preprocess (docs/cli.md)",
            "images without --preprocess")
    mixed = os.path.join(tmp, "mixed")
    shutil.copytree(fashion_png, mixed)
    np.save(os.path.join(mixed, "extra.npy"), np.zeros((1, 1, 28, 28), np.float32))
    refused(["--data", mixed, "--preprocess", "fashion-mnist"],
            f"data folder '{mixed}' mixes images and .npy files: keep one kind of sample per folder", "images and .npy")
    npy = os.path.join(tmp, "fashion_x.npy")
    refused(["--data", npy, "--preprocess", "fashion-mnist"],
            f"--preprocess applies to images; '{npy}' holds no .png, .jpg or .jpeg files", "--preprocess on .npy data")
    refused(["--data", fashion_png, "--preprocess", "fashion-mnist,resize=28"],
            "--preprocess 'fashion-mnist,resize=28': resize='28': expected none, WxH, shorter:N or fit-height:WxH",
            "a resize without its height")
    refused(["--data", fashion_png, "--preprocess", "mnist"],
            "unknown preset 'mnist' (presets: ppocr-rec, ppocr-cls, ppocr-det, fashion-mnist, imagenet)",
            "an unknown preset")
    refused(["--data", fashion_png, "--preprocess", "fashion-mnist,crop=32x32"],
            f"'{os.path.join(fashion_png, '00000.png')}': crop 32x32 is larger than the resized image 28x28",
            "a crop larger than the image")
    refused(["--data", fashion_png, "--preprocess", "ppocr-rec"],
            f"'{os.path.join(fashion_png, '00000.png')}' has shape [1,3,48,640]; input 'input' is float[N,1,28,28] "
            "(the image after --preprocess 'ppocr-rec')", "a preprocessed shape the model does not take")
    broken = os.path.join(tmp, "broken")
    shutil.copytree(fashion_png, broken)
    victim = os.path.join(broken, "00000.png")
    with open(victim, "rb") as f:
        data = f.read()
    with open(victim, "wb") as f:
        f.write(data[:len(data) // 2])
    refused(["--data", broken, "--preprocess", "fashion-mnist"],
            f"'{victim}': truncated PNG (the file ends before the image does)", "a truncated PNG in the folder")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    vitq = parser.parse_args().vitq
    with tempfile.TemporaryDirectory() as tmp:
        ex = Exactness(vitq, tmp)
        synthetic_cases(ex, tmp)
        fashion_png = real_data_cases(vitq, ex, tmp)
        error_cases(vitq, tmp, fashion_png)
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
