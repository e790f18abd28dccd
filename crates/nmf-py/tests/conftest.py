"""Shared data for the tests: the Olivetti faces from ../shared/data (or $NMF_DATA_HOME).

Without the file a test that needs it is skipped, except under CI=true, where missing data is
a failure (CI always has ../shared beside the repository)."""

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]


def _faces_path():
    home = os.environ.get("NMF_DATA_HOME")
    base = Path(home) if home else ROOT.parent / "shared" / "data"
    return base / "olivetti_faces.npy"


@pytest.fixture(scope="session")
def faces():
    path = _faces_path()
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing (CI must have ../shared/data)")
        pytest.skip(f"{path} not found")
    return np.load(path)


@pytest.fixture
def rng():
    return np.random.RandomState(0)
