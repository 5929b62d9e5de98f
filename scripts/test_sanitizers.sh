#!/usr/bin/env bash
# Builds vitq with AddressSanitizer and UndefinedBehaviorSanitizer (-DVITQ_SANITIZE=ON, undefined
# behaviour fatal) in build-asan/ and runs the ctest suite against the sanitized code: the C++
# unit tests, the executor's conformance suite, the CLI tests and the end-to-end tests (ONNX
# Runtime cross-checks, every recipe, reports, statistics shards, image data). Any sanitizer
# report fails the run.
#
# The tests labelled plain-only (tests/CMakeLists.txt: the six longest under ASan, whose code the
# others reach on less data) run only in the plain suite unless --all is given; that keeps CI
# well inside its time (#28).
#
# The heaviest end-to-end tests take --quick here (tests/CMakeLists.txt lists them: the same checks
# on fewer samples, steps or images, where an accuracy goal needs the full data printed but not
# gated; ASan makes vitq about 8x slower): the Fashion-MNIST end-to-end test, RepQ-ViT, the W8A8 and
# W6A6 goals, Q-HyViT, the budget search, the INT4 export, determinism, the HTML report and both
# I-ViT tests (with --all, the plain-only ones among them). Left out always is the evaluation
# suite's pytest: it tests the Python scripts, which run no vitq code.
set -euo pipefail
skip=(-LE plain-only)
[ "${1:-}" = "--all" ] && skip=()
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-asan"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"  # two tests share the cores (scripts/test.sh)
start=$SECONDS
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVITQ_WERROR=ON -DVITQ_SANITIZE=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
echo "sanitizer build: $((SECONDS - start)) s"

# Leaks count as failures; halt on the first report of any kind. The exit code of a sanitized
# process with a report (99) is one no test expects.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:exitcode=99:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99"
cd "$build"
ctest --output-on-failure -j "$(nproc)" -E '^evaluation_suite_pytest$' "${skip[@]}"
echo "sanitizer build and tests: $((SECONDS - start)) s"
