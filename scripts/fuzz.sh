#!/usr/bin/env bash
# Builds a libFuzzer harness with clang, AddressSanitizer and UBSan in build-fuzz/ and runs it for
# SECONDS (default 60) from its seed corpus (tests/fuzz/corpus/ for the importer,
# tests/fuzz/stats_corpus/ for the statistics reader, tests/fuzz/image_corpus/ for the PNG/JPEG
# decoders). New inputs go to build-fuzz/corpus-TARGET;
# a crash is written to build-fuzz/crash-* and the script exits non-zero.
# Usage: scripts/fuzz.sh [importer|stats|image] [SECONDS] [extra libFuzzer flags...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:-importer}"
case "$target" in
  importer) seeds="$root/tests/fuzz/corpus" ;;
  stats) seeds="$root/tests/fuzz/stats_corpus" ;;
  image) seeds="$root/tests/fuzz/image_corpus" ;;
  *) echo "usage: $0 [importer|stats|image] [SECONDS] [libFuzzer flags...]" >&2; exit 2 ;;
esac
seconds="${2:-60}"
shift $(( $# < 2 ? $# : 2 ))
build="$root/build-fuzz"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVITQ_FUZZ=ON -DVITQ_BUILD_TESTS=OFF -DVITQ_NATIVE=OFF >/dev/null
cmake --build "$build" --target "${target}_fuzzer" -j "$(nproc)"
corpus="$build/corpus-$target"
mkdir -p "$corpus"
cp -n "$seeds"/* "$corpus/"
cd "$build"
# Leaks and sanitizer reports are failures; the readers' own limits keep memory small, so an
# input that needs more than 2 GB (-rss_limit_mb) is one too.
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "./tests/fuzz/${target}_fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=20 \
  -print_final_stats=1 "$@" "$corpus"
