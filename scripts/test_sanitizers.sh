#!/usr/bin/env bash
# Builds vitq with AddressSanitizer and UndefinedBehaviorSanitizer (-DVITQ_SANITIZE=ON, undefined
# behaviour fatal) in build-asan/ and runs the ctest suite against the sanitized code: the C++
# unit tests, the executor's conformance suite, the CLI tests and the end-to-end tests (ONNX
# Runtime cross-checks, every recipe, statistics shards, image data, I-ViT's integer export on
# 200 images). Any sanitizer report fails the run.
#
# Left to the plain build (scripts/test.sh) are four tests that repeat pipelines the sanitized
# set already runs once, and would take most of CI's time under ASan (measured on 2 cores: 29,
# 13, 10 and 9 minutes): the accuracy-budget search (about 100 quantize-and-score rounds), the
# HTML report (that search again, then Chromium), Q-HyViT's 400-step reconstruction and the
# byte-identity reruns of every recipe. Their code is covered here by the unit tests of the
# budget search, block reconstruction and report, and by the recipe runs of the other tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-asan"
start=$SECONDS
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVITQ_WERROR=ON -DVITQ_SANITIZE=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
echo "sanitizer build: $((SECONDS - start)) s"

# Leaks count as failures; halt on the first report of any kind. The exit code of a sanitized
# process with a report (99) is one no test expects.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:exitcode=99:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99"
cd "$build"
ctest --output-on-failure -j "$(nproc)" \
  -E '^(sensitivity_budget_fashion_vit|html_report_renders|qhyvit_fashion_hybrid|determinism_all_recipes)$'
echo "sanitizer build and tests: $((SECONDS - start)) s"
