"""The causal lag convention."""

import numpy as np
import pytest

import bayesrf


def test_lag_l_is_the_frame_l_intervals_earlier(small_sim):
    d = bayesrf.make_design(small_sim, n_lags=3)
    X = d.matrix().reshape(d.n_obs, 3, -1)
    frames = small_sim.stim.values.reshape(small_sim.sizes["time"], -1)
    for k in (0, 17, d.n_obs - 1):
        t = k + 2  # the interval whose count is counts[k] of the design
        assert d.counts[k] == small_sim.counts.values[t]
        for lag in range(3):
            np.testing.assert_array_equal(X[k, lag], frames[t - lag])
    assert d.n_dropped == 2 and d.n_obs == small_sim.sizes["time"] - 2
    np.testing.assert_allclose(d.offset, np.log(small_sim.duration.values[2:]))


def test_drive_without_design_matrix_equals_matrix_product(small_sim, rng):
    d = bayesrf.make_design(small_sim, n_lags=3)
    w = rng.normal(size=(3, d.n_pixels))
    np.testing.assert_allclose(d.drive(w), d.matrix() @ w.ravel(), rtol=1e-12, atol=1e-12)


def test_too_few_frames_for_lags(small_sim):
    with pytest.raises(bayesrf.DataError, match="cannot support 5 lags"):
        bayesrf.make_design(small_sim.isel(time=slice(0, 4)), n_lags=5)
    with pytest.raises(bayesrf.DataError, match="positive integer"):
        bayesrf.make_design(small_sim, n_lags=0)
