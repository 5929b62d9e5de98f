#!/usr/bin/env bash
# Configures and builds vitq in build/ (Release, warnings as errors). Extra args go to cmake.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVITQ_WERROR=ON "$@" >/dev/null
cmake --build "$root/build" -j "$(nproc)"
