"""Spike history (``[history] lags = k``, per lag or on ``n_basis`` raised cosines): spec validation; the
raised cosines against Pillow et al.'s formula written here; the MAP against scipy's optimiser on a
log-posterior written here; the simulator against glum's unpenalised Poisson GLM; the posterior and the
checks on counts drawn here one interval at a time with a known history filter, and a long filter on raised
cosines recovered from the simulator's counts."""

import dataclasses
import warnings

import glum
import numpy as np
import pytest
import scipy.optimize
import scipy.stats

import bayesrf
from bayesrf.criticism import check
from test_criticism import LAGS, T, _truth

H_TRUE = np.array([-0.4, -0.1])  # refractory: each spike lowers the next intervals' log-rate


def _past(counts: np.ndarray, k: int) -> np.ndarray:
    """(n, k): c_{t-1}, ..., c_{t-k} for every interval t (0 before the first), written here."""
    out = np.zeros((counts.size, k))
    for j in range(1, k + 1):
        out[j:, j - 1] = counts[:-j]
    return out


def _history_counts(mu: np.ndarray, h: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    counts = np.zeros(mu.size, dtype=int)
    for t in range(mu.size):
        past = [counts[t - j] if t >= j else 0 for j in range(1, h.size + 1)]
        counts[t] = rng.poisson(mu[t] * np.exp(h @ past))
    return counts


@pytest.fixture(scope="module")
def data():
    rec, mu = _truth()
    return rec.assign(counts=("time", _history_counts(mu, H_TRUE, np.random.default_rng(3))))


def _spec(k: int = 2, n_basis: int = 0) -> bayesrf.PriorSpec:
    return dataclasses.replace(bayesrf.load_prior("ridge"), scale=1.0, baseline_kind="constant", history_lags=k,
                               history_basis=n_basis)


def _pillow_basis(k: int, m: int) -> np.ndarray:
    """Raised cosines in log time (Pillow et al. 2008), written here: bump i = cos^2 of half the phase, the
    phase pi (log(j + 1) - centre_i) / spacing clipped to [-pi, pi], centres evenly spaced in log(j + 1)."""
    out = np.zeros((k, m))
    first, last = np.log(2.0), np.log(k + 1.0)
    spacing = (last - first) / (m - 1)
    for j in range(1, k + 1):
        for i in range(m):
            phase = np.pi * (np.log(j + 1.0) - (first + i * spacing)) / spacing
            out[j - 1, i] = np.cos(max(-np.pi, min(np.pi, phase)) / 2) ** 2
    return out


def test_history_table_is_validated():
    spec = bayesrf.load_prior("ridge", ["history.lags=3", "history.scale=0.2"])
    assert (spec.history_lags, spec.history_scale) == (3, 0.2)
    assert bayesrf.load_prior(spec) == spec and bayesrf.PriorSpec.from_json(spec.to_json()) == spec
    with pytest.raises(bayesrf.SpecError, match="history.lags must be an integer >= 0"):
        bayesrf.load_prior("ridge", ["history.lags=-1"])
    with pytest.raises(bayesrf.SpecError, match="history.scale must be a number > 0"):
        bayesrf.load_prior("ridge", ["history.lags=2", "history.scale=0"])
    with pytest.raises(bayesrf.SpecError, match="unknown field history.lag"):
        bayesrf.load_prior("ridge", ["history.lag=2"])
    spec = bayesrf.load_prior("ridge", ["history.lags=12", "history.n_basis=4"])
    assert spec.history_basis == 4 and bayesrf.PriorSpec.from_json(spec.to_json()) == spec
    assert bayesrf.load_prior(spec) == spec and spec.history_sd == bayesrf.priors.HISTORY_BASIS_SCALE
    assert bayesrf.load_prior("ridge", ["history.lags=12"]).history_sd == bayesrf.priors.HISTORY_SCALE
    assert bayesrf.load_prior(spec, ["history.scale=0.2"]).history_sd == 0.2  # a set scale wins for both forms
    for bad in (1, -2, 2.5):
        with pytest.raises(bayesrf.SpecError, match="history.n_basis must be 0 .* or an integer >= 2"):
            bayesrf.load_prior("ridge", ["history.lags=3", f"history.n_basis={bad}"])
    with pytest.raises(bayesrf.SpecError, match="history.n_basis = 5 exceeds 3, the most .* history.lags = 3"):
        bayesrf.load_prior("ridge", ["history.lags=3", "history.n_basis=5"])
    with pytest.raises(bayesrf.SpecError, match="history.n_basis = 10 exceeds 9, .* independent over history.lags = 12"):
        bayesrf.load_prior("ridge", ["history.lags=12", "history.n_basis=10"])


def test_history_longer_than_the_data_is_refused(data):
    n_obs = T - LAGS + 1
    with pytest.raises(bayesrf.SpecError, match=f"history.lags = {n_obs} reaches the {n_obs} fitted intervals"):
        bayesrf.fit_map(data, _spec(n_obs), lags=LAGS, estimates=False)


@pytest.mark.parametrize(("k", "m"), [(2, 2), (10, 4), (40, 8), (12, 9), (12, 10)])
def test_raised_cosines_follow_pillows_formula(k, m):
    basis = bayesrf.design.raised_cosine_basis(k, m)
    np.testing.assert_allclose(basis, _pillow_basis(k, m), atol=1e-12)
    np.testing.assert_allclose(basis.sum(axis=1), 1.0, atol=1e-12)  # neighbours only: a partition of unity
    independent = m <= bayesrf.design.raised_cosine_limit(k)
    assert (np.linalg.matrix_rank(_pillow_basis(k, m)) == m) == independent
    with pytest.raises(bayesrf.DataError, match="2 <= n_basis <= lags"):
        bayesrf.design.raised_cosine_basis(k, k + 1)


@pytest.mark.parametrize(("k", "m"), [(2, 0), (6, 3)])
def test_map_equals_scipy_on_a_log_posterior_written_here(data, k, m):
    spec = dataclasses.replace(_spec(k, m), intercept_family="flat")
    fit = bayesrf.fit_map(data, spec, lags=LAGS, estimates=False)
    stim = data["stim"].values.reshape(T, -1)
    X = np.hstack([stim[LAGS - 1 - lag : T - lag] for lag in range(LAGS)])  # lag 0 = the frame on screen
    H = _past(data["counts"].values, k)[LAGS - 1 :]
    H = H @ _pillow_basis(k, m) if m else H  # the weights are then the raised cosines' coefficients
    A = np.hstack([np.ones((X.shape[0], 1)), X, H])
    c, log_d = data["counts"].values[LAGS - 1 :], np.log(data["duration"].values[LAGS - 1 :])
    prior_sd = np.r_[np.inf, np.ones(X.shape[1]), np.full(H.shape[1], spec.history_sd)]

    def objective(theta):  # Poisson negative log-likelihood (no log c!) + Normal priors, and its gradient
        mu = np.exp(A @ theta + log_d)
        return (mu - c * (A @ theta)).sum() + 0.5 * np.sum((theta / prior_sd) ** 2), A.T @ (mu - c) + theta / prior_sd**2

    ref = scipy.optimize.minimize(objective, np.r_[np.log(c.mean() / 0.1), np.zeros(A.shape[1] - 1)], jac=True,
                                  method="L-BFGS-B", options={"gtol": 1e-9, "ftol": 1e-15, "maxiter": 10_000})
    post = fit["posterior"]
    history = post["history_coef"] if m else post["history"]
    got = np.r_[post["intercept"].values.ravel(), post["rf"].values.ravel(), history.values.ravel()]
    np.testing.assert_allclose(got, ref.x, atol=1e-4)
    if m:
        np.testing.assert_allclose(post["history"].values.ravel(), _pillow_basis(k, m) @ ref.x[-m:], atol=1e-4)


def test_simulator_history_matches_glum():
    rec = bayesrf.simulate(n_frames=20_000, shape=(3, 3), lags=1, rate=20.0, dt=0.05, history=H_TRUE, seed=5)
    c = rec["counts"].values
    X = np.hstack([rec["stim"].values.reshape(c.size, -1), _past(c, 2)])
    ref = glum.GeneralizedLinearRegressor(family="poisson", alpha=0, gradient_tol=1e-10)
    ref.fit(X, c, offset=np.log(rec["duration"].values))
    np.testing.assert_allclose(ref.coef_[-2:], H_TRUE, atol=0.05)
    np.testing.assert_allclose(ref.intercept_, np.log(20.0), atol=0.05)
    np.testing.assert_allclose(rec["history_true"].values, H_TRUE)


def test_history_fits_refuse_laplace_prediction_and_populations(data):
    with pytest.raises(bayesrf.SpecError, match="method='nuts'"):
        bayesrf.sample(data, _spec(), lags=LAGS, method="laplace")
    with pytest.raises(bayesrf.SpecError, match="per_lag MAP"):
        bayesrf.fit_map(data, _spec(), lags=LAGS, per_lag=True)
    fit = bayesrf.fit_map(data, _spec(), lags=LAGS, estimates=False)
    with pytest.raises(bayesrf.DataError, match="spike history"):
        bayesrf.predict(fit, data["stim"])


@pytest.fixture(scope="module")
def fits(data):
    settings = dict(lags=LAGS, draws=500, tune=300, chains=2, seed=1, estimates=False)
    out = {}
    for k in (0, 2):
        with warnings.catch_warnings(record=True) as caught:  # 2 short chains: R-hat may pass 1.01 (recorded)
            warnings.simplefilter("always", bayesrf.BayesRFWarning)
            out[k] = bayesrf.sample(data, _spec(k), **settings)
        out[k].attrs["test_warnings"] = [str(w.message) for w in caught]
    return out


@pytest.mark.slow
def test_posterior_recovers_the_history_filter(fits):
    h = fits[2]["posterior"]["history"].values.reshape(-1, 2)
    lower, upper = np.quantile(h, [0.005, 0.995], axis=0)
    assert np.all((lower < H_TRUE) & (H_TRUE < upper)), (lower, upper)
    assert fits[2].attrs["n_divergent"] == 0, fits[2].attrs["test_warnings"]


@pytest.mark.slow
def test_checks_see_the_missing_history(fits):
    verdicts = {k: {c["name"]: c for c in check(fit)["checks"]} for k, fit in fits.items()}
    assert not verdicts[0]["autocorrelation"]["ok"], verdicts[0]["autocorrelation"]["verdict"]
    assert verdicts[2]["autocorrelation"]["ok"] and verdicts[2]["dispersion"]["ok"]
    ppc = bayesrf.posterior_predictive(fits[2], max_draws=50)["posterior_predictive"]["counts"]
    assert ppc.sizes["time"] == fits[2]["observed_data"]["counts"].size


def test_heldout_log_likelihood_conditions_on_the_observed_history(data):
    test = bayesrf.block_split(T)
    got = bayesrf.heldout.heldout_log_likelihood(data, _spec(), lags=LAGS, test=test)["loglik"]
    post = bayesrf.fit_map(data, _spec(), lags=LAGS, keep=~test, estimates=False)["posterior"]
    stim, c = data["stim"].values.reshape(T, -1), data["counts"].values
    X = np.hstack([stim[LAGS - 1 - lag : T - lag] for lag in range(LAGS)])
    eta = (post["intercept"].item() + X @ post["rf"].values.ravel()
           + _past(c, 2)[LAGS - 1 :] @ post["history"].values.ravel())
    rows = test[LAGS - 1 :]
    loc = np.exp(eta[rows]) * data["duration"].values[LAGS - 1 :][rows]
    want = scipy.stats.poisson.logpmf(c[LAGS - 1 :][rows], loc).sum()
    assert got == pytest.approx(want, rel=1e-9)


@pytest.mark.slow
def test_posterior_recovers_a_long_filter_on_raised_cosines():
    """A 12-interval refractory-then-rebound filter in the span of 4 raised cosines (Pillow's formula, written
    here), counts from the simulator (checked against glum above): the 99 % intervals hold the filter at every
    lag and each coefficient."""
    coef = np.array([-1.5, -0.5, 0.1, 0.0])
    filt = _pillow_basis(12, 4) @ coef
    rec = bayesrf.simulate(n_frames=4000, shape=(3, 3), lags=1, rate=30.0, dt=0.02, history=filt, seed=8)
    with warnings.catch_warnings(record=True) as caught:  # 2 short chains: R-hat may pass 1.01 (recorded)
        warnings.simplefilter("always", bayesrf.BayesRFWarning)
        fit = bayesrf.sample(rec, _spec(12, 4), lags=1, draws=500, tune=300, chains=2, seed=2, estimates=False)
    post = fit["posterior"]
    for name, truth in (("history", filt), ("history_coef", coef)):
        draws = post[name].values.reshape(-1, truth.size)
        lower, upper = np.quantile(draws, [0.005, 0.995], axis=0)
        assert np.all((lower < truth) & (truth < upper)), (name, lower, truth, upper)
    assert fit.attrs["n_divergent"] == 0, [str(w.message) for w in caught]
