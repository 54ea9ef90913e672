import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest

import bayesrf

LONG_FILES = ("test_notebooks.py", "test_population_fit.py", "test_sampling.py", "test_sensitivity.py",
              "test_observation.py", "test_cli.py", "test_structured.py", "test_validate.py", "test_nonlinearity.py",
              "test_regression.py", "test_benchmarks.py", "test_map.py", "test_history.py")
"""Test files that take about a minute or more, longest first (``--durations=0`` of a 2-worker run: 615 s of test
time in test_notebooks.py down to 54 s in test_history.py). ``make test``'s two pytest-xdist workers take one file at
a time in collection order (``--no-loadscope-reorder``: xdist otherwise orders files by their number of tests, which
put the notebooks last, on one worker alone for the suite's last 3 minutes)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long files first (in :data:`LONG_FILES`' order), the rest as collected (a stable sort)."""
    items.sort(key=lambda item: LONG_FILES.index(item.path.name) if item.path.name in LONG_FILES else len(LONG_FILES))


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


@pytest.fixture(scope="session")
def real():
    """The bundled real neuron."""
    return bayesrf.load_recording()


@pytest.fixture(scope="session")
def small_sim():
    """A small simulated recording with jittered durations (exposure matters)."""
    return bayesrf.simulate(n_frames=3000, shape=(6, 5), lags=3, spatial="gabor",
                            spatial_params={"sigma": 1.5, "wavelength": 4.0}, rf_norm=1.0,
                            rate=20.0, dt=0.1, jitter=0.3, seed=3)
