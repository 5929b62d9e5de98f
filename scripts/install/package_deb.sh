#!/usr/bin/env bash
# Builds vitq's Debian package: a Release build without tests for a baseline CPU (x86-64-v3 unless
# VITQ_PORTABLE_ARCH says otherwise; never -march=native, so the package runs on other machines),
# then `cpack -G DEB`. Its Depends line comes from dpkg-shlibdeps (Debian's runtime library
# packages). Prints the path of the .deb.
# Usage: scripts/install/package_deb.sh [BUILD_DIR]   (default build-package/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build-package}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVITQ_WERROR=ON -DVITQ_BUILD_TESTS=OFF \
  -DVITQ_NATIVE=OFF -DVITQ_PORTABLE_ARCH="${VITQ_PORTABLE_ARCH:-x86-64-v3}" >/dev/null
cmake --build "$build" -j "$(nproc)"
(cd "$build" && cpack -G DEB >/dev/null)
ls "$build"/vitq_*.deb
