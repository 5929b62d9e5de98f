#!/usr/bin/env bash
# The main job: build vitq and inspect the real default model, PP-OCRv4 rec (a hybrid conv +
# transformer OCR model). Quantization and its accuracy report join here as they land.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh"
model="$root/models/ppocr/ch_PP-OCRv4_rec_infer.onnx"
[ -f "$model" ] || model="$root/../shared/models/ppocr/ch_PP-OCRv4_rec_infer.onnx"
"$root/build/apps/vitq" inspect "$model"
