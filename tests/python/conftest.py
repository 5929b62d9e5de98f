"""Shared set-up for the evaluation-suite tests.

The tests find the repository root from this file's location. Models and data come from
``scripts/prepare_all.sh --fast``; the committed Fashion-MNIST models only need Debian's
dataset-fashion-mnist. A missing prepared file skips the test, or fails it when ``CI`` or
``VITQ_REQUIRE_DATA`` is set, so that CI cannot pass by skipping.
"""
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
for sub in ("scripts/eval", "scripts/data", "scripts/models", "scripts/bench"):
    p = os.path.join(ROOT, sub)
    if p not in sys.path:
        sys.path.insert(0, p)


def require(*paths):
    """Return absolute paths; skip (or fail under CI) when one is missing."""
    full = [os.path.join(ROOT, p) for p in paths]
    missing = [p for p, f in zip(paths, full) if not os.path.exists(f)]
    if missing:
        msg = f"missing {', '.join(missing)}: run scripts/prepare_all.sh --fast"
        if os.environ.get("CI") or os.environ.get("VITQ_REQUIRE_DATA"):
            pytest.fail(msg)
        pytest.skip(msg)
    return full[0] if len(full) == 1 else full


@pytest.fixture(scope="session")
def root():
    return ROOT
