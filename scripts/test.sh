#!/usr/bin/env bash
# Builds vitq, prepares the CI subset of models and data, and runs the whole test suite
# (C++ unit tests, conformance, CLI tests, ONNX Runtime cross-checks, evaluation suite), then the
# sanitizer build (ASan + UBSan) running the suite again, the heaviest tests on less data
# (scripts/test_sanitizers.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# ctest runs two tests at once and many run vitq with --threads 2: OpenMP threads that spin while
# waiting would take the cores from each other (a run measured 14-18 s spinning, 0.6 s passive).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
"$root/scripts/build.sh"
"$root/scripts/prepare_all.sh" --fast
cd "$root/build"
ctest --output-on-failure -j "$(nproc)"
"$root/scripts/test_sanitizers.sh"
