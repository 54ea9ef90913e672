"""Likelihood, gradient and Hessian against scipy and finite differences."""

import numpy as np
import pytest
from scipy.differentiate import hessian
from scipy.optimize import check_grad
from scipy.stats import poisson

from bayesrf.likelihood import poisson_grad, poisson_hessian, poisson_nll


@pytest.fixture
def problem(rng):
    n, p = 200, 6
    A = np.hstack([np.ones((n, 1)), rng.choice([-1.0, 1.0], size=(n, p - 1))])
    offset = np.log(rng.uniform(0.05, 0.2, n))
    theta_true = np.r_[np.log(20.0), 0.3 * rng.normal(size=p - 1)]
    counts = rng.poisson(np.exp(A @ theta_true + offset))
    return A, counts, offset, theta_true + 0.1 * rng.normal(size=p)


def test_nll_equals_scipy_poisson(problem):
    A, counts, offset, theta = problem
    expected = -poisson.logpmf(counts, np.exp(A @ theta + offset)).sum()
    assert poisson_nll(theta, A, counts, offset) == pytest.approx(expected, rel=1e-12)


def test_nll_handles_large_counts_without_overflow():
    A = np.ones((1, 1))
    value = poisson_nll(np.array([np.log(500.0)]), A, np.array([500]), np.zeros(1))
    assert value == pytest.approx(-poisson.logpmf(500, 500.0), rel=1e-10)


def test_gradient_matches_finite_differences(problem):
    A, counts, offset, theta = problem
    err = check_grad(poisson_nll, poisson_grad, theta, A, counts, offset)
    assert err < 1e-4 * np.linalg.norm(poisson_grad(theta, A, counts, offset)) + 1e-3


def test_hessian_matches_numerical_hessian(problem):
    A, counts, offset, theta = problem

    def f(t):  # scipy.differentiate vectorises over trailing axes
        return np.apply_along_axis(lambda v: poisson_nll(v, A, counts, offset), 0, t)

    numeric = hessian(f, theta).ddf
    np.testing.assert_allclose(poisson_hessian(theta, A, counts, offset), numeric, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("large", ["no", "in weights", "in bytes"])
def test_model_likelihood_in_float32_frames_matches_scipy(small_sim, monkeypatch, rng, large):
    """From SINGLE_PRECISION_WEIGHTS weights or SINGLE_PRECISION_BYTES bytes of float64 frames on, binary frames
    enter the PyMC model in float32 (here the thresholds are moved to this small design, "no" one byte above it):
    its Poisson log-likelihood and gradient against scipy's logpmf and the dense float64 design (counts c, rate
    exp(A theta))."""
    import pytensor
    import pytensor.tensor as pt

    import bayesrf
    from bayesrf.model import build_model
    from bayesrf.ml import with_intercept

    design = bayesrf.make_design(small_sim, n_lags=3)
    float64_bytes = design.frames.size * 8
    monkeypatch.setattr("bayesrf.model.SINGLE_PRECISION_WEIGHTS", design.n_weights if large == "in weights" else 10**9)
    monkeypatch.setattr("bayesrf.model.SINGLE_PRECISION_BYTES", float64_bytes + (large != "in bytes"))
    model = build_model(design, bayesrf.load_prior("ridge", {"baseline": {"kind": "constant"}}))
    assert model["frames"].dtype == ("float64" if large == "no" else "float32")
    loglik = model.logp(vars=[model["counts"]])
    fn = pytensor.function(model.value_vars, [loglik, pt.grad(loglik, model.rvs_to_values[model["rf"]])])
    theta = np.r_[np.log(20.0), 0.2 * rng.normal(size=design.n_weights)]
    value, grad = fn(intercept=theta[0], rf=theta[1:].reshape(3, design.ny, design.nx))
    A = with_intercept(design.matrix())
    rate = np.exp(A @ theta + design.offset)
    assert value == pytest.approx(poisson.logpmf(design.counts, rate).sum(), rel=1e-6)
    want = (A.T @ (design.counts - rate))[1:]
    np.testing.assert_allclose(grad.ravel(), want, rtol=0, atol=1e-5 * np.abs(want).max())  # float32 sums: ~3e-6


def test_frames_float32_does_not_hold_exactly_stay_float64_in_a_large_model(small_sim, monkeypatch):
    """Frames of thirds are not exact in float32: however large the model, they enter it in float64, unrounded."""
    import bayesrf
    from bayesrf.model import model_frames

    monkeypatch.setattr("bayesrf.model.SINGLE_PRECISION_WEIGHTS", 0)
    monkeypatch.setattr("bayesrf.model.SINGLE_PRECISION_BYTES", 0)
    design = bayesrf.make_design(small_sim.assign(stim=small_sim["stim"] / 3), n_lags=3)
    frames = model_frames(design)
    assert frames.dtype == np.float64
    np.testing.assert_array_equal(frames, small_sim["stim"].values.reshape(len(frames), -1) / 3)
