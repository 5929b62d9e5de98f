#!/usr/bin/env bash
# The main job: build vitq, prepare the real default model (PP-OCRv4 rec, a hybrid conv +
# transformer OCR model) and its rendered text-line data, quantize it at W8A8 (per-sample mean
# ranges and bias correction: the W8A8 setting that keeps its CER, docs/benchmarks.md) and print the
# accuracy report. With --eval, also score FP32 and W8A8 CER with ONNX Runtime (a few minutes).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh"
[ -f "$root/data/ppocr/rec_calib/x.npy" ] || "$root/scripts/prepare_all.sh" --fast
mkdir -p "$root/out"
model="$root/models/ppocr/ch_PP-OCRv4_rec_infer.onnx"
"$root/build/apps/vitq" inspect "$model" | sed -n '1,12p'
echo
"$root/build/apps/vitq" quantize "$model" --data "$root/data/ppocr/rec_calib/x.npy" --calib-samples 32 \
  --recipe mean-minmax --bias-correction \
  --threads "$(nproc)" -o "$root/out/ppocr_rec_w8a8.onnx" --report "$root/out/ppocr_rec_w8a8.json"
if [ "${1:-}" = "--eval" ]; then
  for m in "$model" "$root/out/ppocr_rec_w8a8.onnx"; do
    "$root/.venv/bin/python" "$root/scripts/eval/evaluate.py" --task ppocr-rec --model "$m" \
      --json "$root/out/$(basename "$m" .onnx).eval.json" >/dev/null
    "$root/.venv/bin/python" -c "import json,sys; d=json.load(open(sys.argv[1])); m=d['metrics']; print(f\"{sys.argv[2]}: CER {m['cer']*100:.2f} %, exact lines {m['exact_line_rate']*100:.1f} %\")" \
      "$root/out/$(basename "$m" .onnx).eval.json" "$(basename "$m")"
  done
fi
