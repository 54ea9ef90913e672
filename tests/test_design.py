"""The causal lag convention."""

import dataclasses

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


def test_design_operator_equals_the_dense_design(small_sim, rng):
    """The matrix-free ``[1, X, Z]`` (with held-out intervals) against products with the dense matrix: forward,
    adjoint, and the squared adjoint that gives the Hessian's diagonal."""
    from bayesrf.ml import DesignOperator, with_intercept

    d = bayesrf.make_design(small_sim, n_lags=3, keep=np.arange(small_sim.sizes["time"]) % 5 != 0)
    Z = rng.normal(size=(d.n_obs, 4))
    A, op = np.hstack([with_intercept(d.matrix()), Z]), DesignOperator(d, Z)
    theta, r = rng.normal(size=A.shape[1]), rng.exponential(size=d.n_obs)
    assert op.shape == A.shape
    np.testing.assert_allclose(op @ theta, A @ theta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op.T @ r, A.T @ r, rtol=1e-12, atol=1e-10)
    squared = dataclasses.replace(d, frames=d.frames**2)  # what DesignOperator.squared holds (there in float32)
    np.testing.assert_allclose(squared.drive_adjoint(r).ravel(), (d.matrix() ** 2).T @ r, rtol=1e-12)


def test_l1_penalty_refuses_the_operator(small_sim):
    from bayesrf.ml import DesignOperator, Penalty, solve_penalized

    d = bayesrf.make_design(small_sim, n_lags=3)
    p = 1 + d.n_weights
    with pytest.raises(bayesrf.FitError, match="L1 penalty needs the dense design"):
        solve_penalized(DesignOperator(d), d.counts, d.offset, Penalty(np.zeros(p), np.zeros(p), np.ones(p)))


def test_too_few_frames_for_lags(small_sim):
    with pytest.raises(bayesrf.DataError, match="cannot support 5 lags"):
        bayesrf.make_design(small_sim.isel(time=slice(0, 4)), n_lags=5)
    with pytest.raises(bayesrf.DataError, match="positive integer"):
        bayesrf.make_design(small_sim, n_lags=0)
