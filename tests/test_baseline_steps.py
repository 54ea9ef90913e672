"""A baseline that can change abruptly (``[baseline] kind = "steps"``): Student-t jumps of a piecewise-constant
log-rate, checked against a neuron simulated here, with numpy, whose rate drops by a factor e^1.2 for the last
eighth of the session (the bundled neuron's rate collapses near the end of its session), and against an
independent scipy fit of the same MAP."""

import dataclasses
import warnings

import numpy as np
import pytest
import scipy.optimize
import scipy.stats

import bayesrf
from bayesrf.criticism import ALPHA, STEPS_HINT, check
from bayesrf.unit_features import baseline_log_likelihood

DROP = -1.2  # log-rate change at the start of the last eighth
SEGMENTS, STEP_SCALE, RIDGE = 8, 0.1, 0.5


@pytest.fixture(scope="module")
def dropping():
    """2 lags of 4 x 4 px binary frames, 2,400 frames of 0.1 s, 20 spikes/s until 7/8 of the session."""
    rng = np.random.default_rng(81)
    n, lags = 2400, 2
    frames = rng.choice([-1.0, 1.0], size=(n, 4, 4))
    w = 0.25 * rng.standard_normal((lags, 4, 4))
    duration = np.full(n, 0.1)
    drive = sum(np.r_[np.zeros(lag), frames.reshape(n, -1)[: n - lag] @ w[lag].ravel()] for lag in range(lags))
    log_rate = np.log(20.0) + drive + DROP * (np.arange(n) >= 7 * n // 8)
    rec = bayesrf.from_counts(frames, rng.poisson(np.exp(log_rate) * duration), duration, source="test")
    return rec, w


def _spec():
    return dataclasses.replace(bayesrf.load_prior("ridge"), scale=RIDGE, intercept_family="flat", baseline_kind="steps",
                               baseline_n_basis=SEGMENTS, baseline_scale=STEP_SCALE)


def _scipy_map(rec, lags):
    """The same log-posterior written out with numpy (lagged design, uncentred step indicators, Poisson with
    exposure, Normal weights, Student-t jumps) and maximised by scipy's L-BFGS-B with its exact gradient."""
    stim = rec["stim"].values.reshape(rec.sizes["time"], -1)
    X = np.hstack([stim[lags - 1 - lag : stim.shape[0] - lag] for lag in range(lags)])
    onset = rec["time"].values
    edges = np.linspace(onset[0], onset[-1] + rec["duration"].values[-1], SEGMENTS + 1)
    Z = (onset[lags - 1 :, None] >= edges[1:-1]).astype(float)
    A = np.hstack([np.ones((X.shape[0], 1)), X, Z])
    counts, exposure = rec["counts"].values[lags - 1 :], rec["duration"].values[lags - 1 :]
    nu, d = bayesrf.priors.BASELINE_STEP_NU, X.shape[1]

    def objective(theta):
        mu = np.exp(A @ theta) * exposure
        jumps = theta[1 + d :]
        value = (mu - counts * np.log(mu)).sum() + (theta[1 : 1 + d] ** 2).sum() / (2 * RIDGE**2) \
            - scipy.stats.t.logpdf(jumps, nu, scale=STEP_SCALE).sum()
        grad = A.T @ (mu - counts)
        grad[1 : 1 + d] += theta[1 : 1 + d] / RIDGE**2
        grad[1 + d :] += (nu + 1) * jumps / (nu * STEP_SCALE**2 + jumps**2)
        return value, grad

    start = np.r_[np.log(counts.sum() / exposure.sum()), np.zeros(A.shape[1] - 1)]
    res = scipy.optimize.minimize(objective, start, jac=True, method="L-BFGS-B", options={"gtol": 1e-9, "ftol": 1e-15})
    assert res.success, res.message
    return A @ res.x, res.x[1 : 1 + d], res.x[1 + d :]


def test_steps_map_follows_the_drop_and_equals_an_independent_fit(dropping):
    rec, w = dropping
    tree = bayesrf.fit_map(rec, _spec(), lags=2)
    post = tree["posterior"].isel(chain=0, draw=0)
    eta, rf, jumps = _scipy_map(rec, 2)
    np.testing.assert_allclose(post["rf"].values.ravel(), rf, atol=2e-4)
    np.testing.assert_allclose(post["baseline_coef"].values, jumps, atol=2e-4)
    design = bayesrf.design.make_design(rec, 2)
    fitted = post["intercept"].item() + design.baseline_basis("steps", SEGMENTS) @ post["baseline_coef"].values
    np.testing.assert_allclose(fitted + design.drive(post["rf"].values.reshape(2, -1)), eta, atol=2e-4)
    assert jumps[-1] == pytest.approx(DROP, abs=0.15)  # the drop is followed ...
    assert np.abs(jumps[:-1]).max() < 0.1  # ... and the other jumps shrink to about 0
    np.testing.assert_allclose(rf, w.ravel(), atol=0.15)
    assert tree["posterior"]["baseline_level"].values.ravel() == pytest.approx(np.cumsum(jumps), abs=2e-4)


def test_steps_posterior_covers_the_drop_and_predicts_through_it(dropping):
    rec, _ = dropping
    with warnings.catch_warnings(record=True) as caught:  # 2 x 200 draws may miss R-hat < 1.01: recorded, checked
        warnings.simplefilter("always", bayesrf.BayesRFWarning)
        fit = bayesrf.sample(rec, _spec(), lags=2, draws=200, tune=200, chains=2, seed=1, progress=False)
    assert all("sampling diagnostics failed: max R-hat" in str(w.message) for w in caught), [str(w.message) for w in caught]
    last = fit["posterior"]["baseline_coef"].isel(knot=-1).values.ravel()
    assert np.quantile(last, 0.05) < DROP < np.quantile(last, 0.95)
    report = bayesrf.summary(fit)["baseline"]
    session = rec["time"].values[0], rec["time"].values[-1] + rec["duration"].values[-1]
    assert report["n_segments"] == SEGMENTS and report["largest_jump"]["segment"] == SEGMENTS
    assert report["largest_jump"]["start_s"] == pytest.approx(session[0] + 7 / 8 * (session[1] - session[0]))
    assert report["largest_jump"]["lower"] < DROP < report["largest_jump"]["upper"]
    segments = {c["name"]: c for c in check(fit, seed=0)["checks"]}["segments"]
    assert segments["p"] > ALPHA, segments  # the rate per eighth of the session is reproduced, drop included
    rate = bayesrf.predict(fit, rec["stim"]).mean(("chain", "draw"))  # the fitted session's own clock
    late = rate.time >= rec["time"][7 * rec.sizes["time"] // 8]
    assert float(rate.where(~late).mean() / rate.where(late).mean()) == pytest.approx(np.exp(-DROP), rel=0.15)
    with pytest.raises(bayesrf.SpecError, match="baseline 'steps'"):
        bayesrf.sample(rec, _spec(), lags=2, method="laplace")


def test_a_constant_baseline_fails_the_segments_check_and_is_told_of_steps(dropping):
    rec, _ = dropping
    constant = dataclasses.replace(_spec(), baseline_kind="constant", intercept_family="normal")
    segments = {c["name"]: c for c in check(bayesrf.sample(rec, constant, lags=2, method="laplace", draws=200),
                                            seed=0)["checks"]}["segments"]
    assert not segments["ok"] and "segment 8/8" in segments["verdict"] and STEPS_HINT in segments["verdict"]


def test_baseline_only_model_of_a_population_unit_follows_the_drop(dropping):
    """The no-RF model a unit's evidence is scored against (NUTS for a steps baseline) keeps the baseline."""
    rec, _ = dropping
    tree = baseline_log_likelihood(bayesrf.design.make_design(rec, 2), _spec(), draws=200, seed=0)
    last = tree["posterior"]["baseline_coef"].isel(knot=-1).values.ravel()
    assert np.quantile(last, 0.05) < DROP < np.quantile(last, 0.95)
    assert tree["log_likelihood"]["counts"].sizes["time"] == rec.sizes["time"] - 1


@pytest.mark.parametrize(("kind", "n_basis", "fewest"), [("steps", 1, 2), ("spline", 3, 4)])
def test_too_few_baseline_pieces_are_refused(kind, n_basis, fewest):
    with pytest.raises(bayesrf.SpecError, match=f"baseline.n_basis must be an integer >= {fewest} for kind = '{kind}'"):
        bayesrf.load_prior("ridge", [f'baseline.kind="{kind}"', f"baseline.n_basis={n_basis}"])
