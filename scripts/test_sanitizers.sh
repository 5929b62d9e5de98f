#!/usr/bin/env bash
# Builds vitq with AddressSanitizer and UndefinedBehaviorSanitizer (-DVITQ_SANITIZE=ON, undefined
# behaviour fatal) in build-asan/ and runs, against the sanitized code: the C++ unit tests, the
# executor's conformance suite, and the CLI tests that spawn the sanitized vitq (bad input,
# robustness, .npz data, ONNX node-suite round trip). Any sanitizer report fails the run.
# The end-to-end quantization tests stay with the plain build (scripts/test.sh): under ASan they
# would take most of CI's time and exercise the same kernels the unit tests already cover.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-asan"
start=$SECONDS
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVITQ_WERROR=ON -DVITQ_SANITIZE=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target vitq vitq_unit_tests vitq_conformance
echo "sanitizer build: $((SECONDS - start)) s"

# Leaks count as failures; halt on the first report of any kind. The exit code of a sanitized
# process with a report (99) is one no test expects.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:exitcode=99:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99"
"$build/tests/vitq_unit_tests"
cd "$build"
ctest --output-on-failure -j "$(nproc)" \
  -R '^(conformance_node_suite|cli_errors|robustness_cases|npz_calibration_data|roundtrip_node_suite)$'
echo "sanitizer build and tests: $((SECONDS - start)) s"
