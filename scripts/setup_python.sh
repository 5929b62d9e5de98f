#!/usr/bin/env bash
# Creates .venv from Debian's python3 (it sees Debian's torch and onnx) and installs
# scripts/requirements.txt into it. Reruns are cheap: pip skips what is satisfied.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/scripts/requirements.txt"
