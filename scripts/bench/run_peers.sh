#!/usr/bin/env bash
# Peer baselines: makes out/venv-bench (plain venv, no Debian site packages: NNCF would import
# Debian's torch 1.13 and fail) from scripts/requirements-bench.txt, runs scripts/bench/peers.py
# with the given arguments, then renders the tables into docs/benchmarks.md.
# Needs the models and data of scripts/prepare_all.sh (the full one, for deit-small/swin-t).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/out/venv-bench"
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/scripts/requirements-bench.txt"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
"$venv/bin/python" "$root/scripts/bench/peers.py" "$@"
"$venv/bin/python" "$root/scripts/bench/report.py" --update "$root/docs/benchmarks.md"
echo "tables updated in docs/benchmarks.md"
