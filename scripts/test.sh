#!/usr/bin/env bash
# Builds vitq and runs the whole test suite (C++ unit tests, CLI tests, ONNX Runtime cross-checks).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j "$(nproc)"
