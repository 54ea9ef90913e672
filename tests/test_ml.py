"""(Penalised) ML fits against scikit-learn, glum, scipy and a known truth."""

import glum
import numpy as np
import pytest
import xarray as xr
from scipy.optimize import minimize
from sklearn.linear_model import PoissonRegressor

import bayesrf
from bayesrf.design import make_design
from bayesrf.likelihood import poisson_grad, poisson_nll
from bayesrf.ml import with_intercept

TOL = 1e-5  # max abs difference between solvers at the same optimum


def _sklearn_l2(design, alpha):
    """sklearn has no offset: fit counts/duration with weights=duration (alpha rescaled)."""
    duration = np.exp(design.offset)
    alpha_sk = alpha * design.n_obs / duration.sum()
    model = PoissonRegressor(alpha=alpha_sk, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    model.fit(design.matrix(), design.counts / duration, sample_weight=duration)
    return model.intercept_, model.coef_


def _glum(design, alpha, l1_ratio):
    model = glum.GeneralizedLinearRegressor(family="poisson", alpha=alpha, l1_ratio=l1_ratio,
                                            gradient_tol=1e-10, max_iter=1000)
    model.fit(design.matrix(), design.counts, offset=design.offset)
    return model.intercept_, model.coef_


@pytest.mark.parametrize("matrix_free", [False, True])
@pytest.mark.parametrize("alpha", [1e-3, 3e-2])
def test_ridge_matches_sklearn_and_glum(small_sim, monkeypatch, alpha, matrix_free):
    """Dense Newton and the matrix-free solver (from MATRIX_FREE_WEIGHTS weights on) against sklearn and glum."""
    monkeypatch.setattr("bayesrf.ml.MATRIX_FREE_WEIGHTS", 0 if matrix_free else 10**9)
    fit = bayesrf.fit_ml(small_sim, lags=3, penalty="l2", alpha=alpha)
    assert fit.attrs["solver"] == ("newton-cg" if matrix_free else "newton-cholesky")
    design = make_design(small_sim, 3)
    for b, w in (_sklearn_l2(design, alpha), _glum(design, alpha, 0.0)):
        np.testing.assert_allclose(fit.rf.values.ravel(), w, atol=TOL, rtol=0)
        assert fit.intercept.item() == pytest.approx(b, abs=TOL)


def test_lasso_matches_glum_and_is_sparse(small_sim):
    alpha = 5e-2
    fit = bayesrf.fit_ml(small_sim, lags=3, penalty="l1", alpha=alpha)
    b, w = _glum(make_design(small_sim, 3), alpha, 1.0)
    np.testing.assert_allclose(fit.rf.values.ravel(), w, atol=TOL, rtol=0)
    assert fit.intercept.item() == pytest.approx(b, abs=TOL)
    assert 0.2 < float((fit.rf == 0).mean()) < 0.95


def test_lasso_satisfies_kkt_conditions(small_sim):
    """Optimality of the L1 fit checked with our own gradient, independent of any solver."""
    alpha = 5e-3
    fit = bayesrf.fit_ml(small_sim, lags=3, penalty="l1", alpha=alpha)
    d = make_design(small_sim, 3)
    theta = np.r_[fit.intercept.item(), fit.rf.values.ravel()]
    g = poisson_grad(theta, with_intercept(d.matrix()), d.counts, d.offset) / d.n_obs
    w = theta[1:]
    assert abs(g[0]) < 1e-6
    np.testing.assert_allclose(g[1:][w != 0], -alpha * np.sign(w[w != 0]), atol=1e-6)
    assert np.all(np.abs(g[1:][w == 0]) <= alpha + 1e-6)


def test_lasso_on_real_neuron_matches_glum(real):
    alpha = 2e-3
    fit = bayesrf.fit_ml(real, lags=5, penalty="l1", alpha=alpha)
    b, w = _glum(make_design(real, 5), alpha, 1.0)
    np.testing.assert_allclose(fit.rf.values.ravel(), w, atol=TOL, rtol=0)


def test_plain_ml_matches_scipy_minimize(small_sim):
    fit = bayesrf.fit_ml(small_sim, lags=3)
    d = make_design(small_sim, 3)
    A = with_intercept(d.matrix())
    res = minimize(poisson_nll, np.zeros(A.shape[1]), args=(A, d.counts, d.offset), jac=poisson_grad,
                   method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10000})
    np.testing.assert_allclose(fit.rf.values.ravel(), res.x[1:], atol=1e-4)
    assert fit.attrs["nll"] <= res.fun + 1e-8


def test_ml_recovers_true_rf_with_enough_data():
    rec = bayesrf.simulate(n_frames=20000, shape=(15, 15), lags=5, spatial="gabor", rf_norm=1.0, seed=11)
    fit = bayesrf.fit_ml(rec, lags=5)
    assert float(xr.corr(fit.rf, rec.rf_true)) >= 0.9
    assert fit.intercept.item() == pytest.approx(np.log(50.0), abs=0.05)


@pytest.mark.parametrize("matrix_free", [False, True])
def test_per_lag_fits_each_lag_alone(small_sim, monkeypatch, matrix_free):
    """Each lag's plain ML, dense and matrix-free, against sklearn on that lag's frames cut from the stimulus."""
    monkeypatch.setattr("bayesrf.ml.MATRIX_FREE_WEIGHTS", 0 if matrix_free else 10**9)
    fit = bayesrf.fit_ml(small_sim, lags=3, per_lag=True)
    assert fit.intercept.dims == ("lag",)
    assert fit.attrs["solver"] == ("newton-cg" if matrix_free else "newton-cholesky")
    d = make_design(small_sim, 3)
    frames = small_sim["stim"].values.reshape(small_sim.sizes["time"], -1)
    assert d.n_obs == frames.shape[0] - 2  # every interval with a full history is fitted
    duration = np.exp(d.offset)
    for lag in (0, 2):  # interval t (a count of frame t + 2's interval) sees frame t + 2 - lag
        alone = PoissonRegressor(alpha=0.0, solver="newton-cholesky", tol=1e-12, max_iter=1000)
        alone.fit(frames[2 - lag : frames.shape[0] - lag], d.counts / duration, sample_weight=duration)
        np.testing.assert_allclose(fit.rf.sel(lag=lag).values.ravel(), alone.coef_, atol=TOL)
        assert fit.intercept.sel(lag=lag).item() == pytest.approx(alone.intercept_, abs=TOL)


def test_plain_ml_refuses_unidentifiable_problem(real):
    with pytest.raises(bayesrf.FitError, match="1484 intervals for 1501 parameters"):
        bayesrf.fit_ml(real, lags=5)


def test_all_zero_counts_is_an_error():
    rec = bayesrf.from_counts(np.ones((10, 2, 2)) * np.arange(10)[:, None, None] % 2, np.zeros(10), 0.1)
    with pytest.raises(bayesrf.FitError, match="all spike counts are zero"):
        bayesrf.fit_ml(rec, lags=1, penalty="l2", alpha=1.0)


@pytest.mark.parametrize(("penalty", "alpha", "message"), [("l3", 1.0, "penalty must be"), ("l2", -1.0, "alpha")])
def test_bad_penalty_arguments(small_sim, penalty, alpha, message):
    with pytest.raises(bayesrf.DataError, match=message):
        bayesrf.fit_ml(small_sim, lags=1, penalty=penalty, alpha=alpha)
