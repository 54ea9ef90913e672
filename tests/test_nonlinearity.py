"""The softplus nonlinearity (``[likelihood] nonlinearity = "softplus"``): spec validation; the link against
numpy's ``logaddexp``; the MAP against scipy's optimiser on a log-posterior written here; predictions and held-out
log-likelihoods against rates computed here from the draws; recovery of a simulated softplus neuron, and LOO
telling a softplus neuron from an exp one."""

import dataclasses
import warnings

import arviz_stats as azs
import numpy as np
import pytest
import scipy.optimize
import scipy.stats

import bayesrf
from bayesrf.errors import recorded
from bayesrf.nonlinearity import SOFTPLUS_AT_UNIT, SOFTPLUS_SLOPE, from_exp_link, log_rate, softplus_inverse

RATE, DT, LAGS = 20.0, 0.05, 2


def _spec(nonlinearity: str = "softplus", **fields) -> bayesrf.PriorSpec:
    base = dataclasses.replace(bayesrf.load_prior("ridge"), scale=1.0, baseline_kind="constant", nonlinearity=nonlinearity)
    return dataclasses.replace(base, **fields)


def _recording(nonlinearity: str, seed: int = 1, n_frames: int = 3000):
    return bayesrf.simulate(n_frames=n_frames, shape=(4, 4), lags=LAGS, rate=RATE, dt=DT, rf_norm=2.0,
                            nonlinearity=nonlinearity, seed=seed)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def test_nonlinearity_is_validated():
    spec = bayesrf.load_prior("ridge", ["likelihood.nonlinearity=softplus", "likelihood.rate_unit=12.5"])
    assert (spec.nonlinearity, spec.rate_unit) == ("softplus", 12.5) and not spec.penalized_glm
    assert bayesrf.load_prior(spec) == spec and bayesrf.PriorSpec.from_json(spec.to_json()) == spec
    assert bayesrf.load_prior("ridge", ["likelihood.nonlinearity=softplus"]).rate_unit == "auto"
    with pytest.raises(bayesrf.SpecError, match="likelihood.nonlinearity must be one of \\('exp', 'softplus'\\)"):
        bayesrf.load_prior("ridge", ["likelihood.nonlinearity=relu"])
    with pytest.raises(bayesrf.SpecError, match="likelihood.rate_unit must be a number of spikes/s > 0"):
        bayesrf.load_prior("ridge", ["likelihood.nonlinearity=softplus", "likelihood.rate_unit=-3"])
    with pytest.raises(bayesrf.SpecError, match="rate_unit is used by nonlinearity = \"softplus\" only"):
        bayesrf.load_prior("ridge", ["likelihood.rate_unit=3"])


def test_link_against_logaddexp():
    eta = np.array([-40.0, -30.5, -3.0, 0.0, SOFTPLUS_AT_UNIT, 5.0, 40.0, 700.0])
    np.testing.assert_allclose(log_rate(eta, "softplus", 7.0), np.log(7.0) + np.log(np.logaddexp(0.0, eta)), rtol=1e-12)
    assert log_rate(np.array([-800.0]), "softplus", 7.0)[0] == pytest.approx(np.log(7.0) - 800.0, rel=1e-15)  # e^-800 = 0
    np.testing.assert_array_equal(log_rate(eta, "exp", None), eta)
    np.testing.assert_allclose(_softplus(softplus_inverse(np.array([1e-3, 1.0, 37.0, 500.0]))), [1e-3, 1.0, 37.0, 500.0],
                               rtol=1e-12)
    slope = scipy.optimize.approx_fprime(np.array([SOFTPLUS_AT_UNIT]), lambda x: _softplus(x[0]), 1e-7)[0]
    assert slope == pytest.approx(SOFTPLUS_SLOPE, rel=1e-6) and _softplus(SOFTPLUS_AT_UNIT) == pytest.approx(1.0)
    intercept, slopes = from_exp_link(np.log(30.0), 20.0, {"rf": np.array([0.63])})
    assert 20.0 * _softplus(intercept) == pytest.approx(30.0) and slopes["rf"][0] == pytest.approx(0.63 / SOFTPLUS_SLOPE)


@pytest.fixture(scope="module")
def data():
    return _recording("softplus")


def _lagged(data) -> np.ndarray:
    T = data.sizes["time"]
    stim = data["stim"].values.reshape(T, -1)
    return np.hstack([stim[LAGS - 1 - lag : T - lag] for lag in range(LAGS)])  # lag 0 = the frame on screen


def test_map_equals_scipy_on_a_log_posterior_written_here(data):
    """Flat intercept, Normal(0, 1) weights, rate = u softplus(b + X w) with the data's mean rate u ("auto")."""
    fit = bayesrf.fit_map(data, _spec(intercept_family="flat"), lags=LAGS, estimates=False)
    X, c = _lagged(data), data["counts"].values[LAGS - 1 :]
    d = data["duration"].values[LAGS - 1 :]
    unit = c.sum() / d.sum()
    A = np.hstack([np.ones((X.shape[0], 1)), X])

    def objective(theta):  # Poisson NLL (no log c!) + 0.5 |w|^2, and its gradient
        eta = A @ theta
        mu = unit * _softplus(eta) * d
        dmu = unit * scipy.special.expit(eta) * d
        w = theta[1:]
        return (mu - c * np.log(mu)).sum() + 0.5 * w @ w, A.T @ (dmu - c * dmu / mu) + np.r_[0.0, w]

    start = np.r_[SOFTPLUS_AT_UNIT, np.zeros(X.shape[1])]
    ref = scipy.optimize.minimize(objective, start, jac=True, method="L-BFGS-B",
                                  options={"gtol": 1e-9, "ftol": 1e-15, "maxiter": 10_000})
    post = fit["posterior"]
    np.testing.assert_allclose(np.r_[post["intercept"].values.ravel(), post["rf"].values.ravel()], ref.x, atol=1e-4)
    assert float(fit["constant_data"]["rate_unit"]) == pytest.approx(unit, rel=1e-12)


def test_predictions_and_heldout_use_the_softplus(data):
    test = bayesrf.block_split(data.sizes["time"])
    spec = _spec(rate_unit=RATE)
    fit = bayesrf.fit_map(data, spec, lags=LAGS, keep=~test, estimates=False)
    post = fit["posterior"]
    X = _lagged(data)
    eta = post["intercept"].item() + X @ post["rf"].values.ravel()
    rate = bayesrf.predict(fit, data["stim"], baseline="mean")
    np.testing.assert_allclose(rate.values[0, 0], RATE * _softplus(eta), rtol=1e-9)
    rows = test[LAGS - 1 :]
    loc = RATE * _softplus(eta[rows]) * data["duration"].values[LAGS - 1 :][rows]
    want = scipy.stats.poisson.logpmf(data["counts"].values[LAGS - 1 :][rows], loc).sum()
    got = bayesrf.heldout.heldout_log_likelihood(data, spec, lags=LAGS, test=test)["loglik"]
    assert got == pytest.approx(want, rel=1e-9)
    with pytest.raises(bayesrf.SpecError, match="nonlinearity 'softplus'"):
        bayesrf.sample(data, spec, lags=LAGS, method="laplace")
    with pytest.raises(bayesrf.DataError, match="'exp' with a spike history"):
        bayesrf.simulate(n_frames=10, nonlinearity="softplus", history=[-0.5])


@pytest.fixture(scope="module")
def fits():
    """Each nonlinearity fitted to a neuron simulated with each (rate unit = the simulator's rate)."""
    out = {}
    for truth in ("exp", "softplus"):
        rec = _recording(truth, seed=3)
        for fitted in ("exp", "softplus"):
            spec = _spec(fitted, **({"rate_unit": RATE} if fitted == "softplus" else {}))
            with warnings.catch_warnings(record=True) as caught:  # 2 short chains: R-hat may pass 1.01 (recorded)
                warnings.simplefilter("always", bayesrf.BayesRFWarning)
                fit = bayesrf.sample(rec, spec, lags=LAGS, draws=500, tune=300, chains=2, seed=4, estimates=False)
            fit.attrs["test_warnings"] = [str(w.message) for w in caught]
            out[truth, fitted] = (rec, fit)
    return out


@pytest.mark.slow
def test_softplus_posterior_recovers_the_simulated_neuron(fits):
    rec, fit = fits["softplus", "softplus"]
    post = fit["posterior"]
    rf = post["rf"].values.reshape(-1, rec["rf_true"].size)
    lower, upper = np.quantile(rf, [0.025, 0.975], axis=0)
    inside = np.mean((lower < rec["rf_true"].values.ravel()) & (rec["rf_true"].values.ravel() < upper))
    assert inside >= 0.85, inside  # 32 weights of one fit: 95 % intervals, binomial SE 0.04
    b = post["intercept"].values.ravel()
    assert np.quantile(b, 0.005) < rec.attrs["intercept_true"] < np.quantile(b, 0.995)
    assert fit.attrs["n_divergent"] == 0, fit.attrs["test_warnings"]


@pytest.mark.slow
def test_loo_tells_the_nonlinearities_apart(fits):
    """On a neuron simulated with each nonlinearity (RF norm 2: strong drive, rectified by the softplus),
    ELPD-LOO prefers the fit with the true one by more than 2 SE."""
    for truth, other in (("exp", "softplus"), ("softplus", "exp")):
        table, notes = recorded(lambda: azs.compare({"truth": fits[truth, truth][1], "other": fits[truth, other][1]},
                                                    round_to="none"))  # Pareto-k warnings recorded, shown on failure
        assert table.index[0] == "truth", (truth, table, notes)
        gain = table.loc["truth", "elpd"] - table.loc["other", "elpd"]
        assert gain > 2 * table.loc["other", "dse"], (truth, table, notes)


def test_baseline_only_model_of_a_softplus_unit_is_scipys_pmf(data):
    """The null model of a softplus unit's evidence in ``fit_population``: NUTS on the intercept and spline
    baseline inside the softplus, no RF. Its pointwise log-likelihood is scipy's Poisson pmf at each draw's rate
    ``u softplus(intercept + baseline)`` computed here."""
    from bayesrf.design import make_design
    from bayesrf.unit_features import baseline_log_likelihood

    design = make_design(data, LAGS)
    spec = bayesrf.load_prior("ridge", ["likelihood.nonlinearity=softplus"])  # with its spline baseline
    tree = baseline_log_likelihood(design, spec, draws=200, seed=1)
    post = tree["posterior"].to_dataset()
    eta = post["intercept"].values[..., None] + post["baseline_coef"].values @ design.spline_basis(spec.baseline_n_basis).T
    unit = design.counts.sum() / np.exp(design.offset).sum()
    want = scipy.stats.poisson.logpmf(design.counts, unit * _softplus(eta) * np.exp(design.offset))
    np.testing.assert_allclose(tree["log_likelihood"]["counts"].values, want, rtol=1e-8)


@pytest.mark.slow
def test_checks_run_on_a_softplus_fit(fits):
    from bayesrf.criticism import check

    verdicts = {c["name"]: c for c in check(fits["softplus", "softplus"][1])["checks"]}
    assert verdicts["dispersion"]["ok"] and verdicts["rootogram"]["ok"], verdicts
    wrong = {c["name"]: c for c in check(fits["softplus", "exp"][1])["checks"]}
    assert not all(c["ok"] for c in wrong.values()), wrong  # the exp link misfits the rectified neuron
