"""Shared set-up of the Python package's tests (run with pytest)."""

import os
import pathlib

# Before any framework is imported: Keras 3 on JAX (as lossc's emit tests run
# it), CPU only, quiet TensorFlow.
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

#: The repository's examples/ folder.
EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def examples() -> pathlib.Path:
    return EXAMPLES


def framework(name: str):
    """Imports a framework, or skips the test saying which one is missing."""
    return pytest.importorskip(name, reason=f"{name} is not installed in this environment")
