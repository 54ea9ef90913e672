import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest

import bayesrf


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
