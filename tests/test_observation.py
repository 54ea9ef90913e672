"""Count distributions of the observation model: spec validation; the COM-Poisson's pmf, moments and draws
against sums written here (and Poisson at nu = 1); each family's MAP against scipy's optimiser on a
log-posterior written here; posteriors against counts drawn in the test with known dispersion, and what each
fit's checks say."""

import dataclasses
import warnings

import arviz_stats as azs
import numpy as np
import pytest
import scipy.optimize
import scipy.stats
from scipy.special import gammaln, logsumexp

import bayesrf
from bayesrf.criticism import check
from bayesrf.errors import recorded
from bayesrf.observation import DISPERSIONS, NU_MIN, CountModel
from test_criticism import LAGS, _truth

PHI = 0.5  # the simulated overdispersion: Var = mu + PHI mu^2


def test_likelihood_table_is_validated():
    spec = bayesrf.load_prior("ridge", ["likelihood.family=negative-binomial", "likelihood.dispersion_scale=2.0"])
    assert (spec.likelihood, spec.dispersion_scale) == ("negative-binomial", 2.0)
    assert bayesrf.load_prior(spec).likelihood == "negative-binomial"  # survives a reload of the spec
    assert bayesrf.PriorSpec.from_json(spec.to_json()) == spec
    assert bayesrf.load_prior("ridge").likelihood == "poisson"
    with pytest.raises(bayesrf.SpecError, match="did you mean 'negative-binomial'"):
        bayesrf.load_prior("ridge", ["likelihood.family=negative-binomal"])
    with pytest.raises(bayesrf.SpecError, match="dispersion_scale must be a number > 0"):
        bayesrf.load_prior("ridge", ["likelihood.family=negative-binomial", "likelihood.dispersion_scale=0"])


def test_laplace_and_per_lag_map_refuse_other_likelihoods():
    rec, _ = _truth()
    spec = bayesrf.load_prior("ridge", ["likelihood.family=negative-binomial"])
    with pytest.raises(bayesrf.SpecError, match="method='nuts'"):
        bayesrf.sample(rec, spec, lags=LAGS, method="laplace")
    with pytest.raises(bayesrf.SpecError, match="per_lag MAP"):
        bayesrf.fit_map(rec, spec, lags=LAGS, per_lag=True)


def test_baseline_only_model_of_another_likelihood_is_scipys_pmf_without_an_rf():
    """The null model of a unit's evidence under the negative binomial: NUTS on the spec's intercept, spline
    baseline and count distribution, no RF. Its pointwise log-likelihood is scipy's pmf at each draw's own
    parameters, and on a unit without an RF (where it is the true model) its overdispersion holds the truth."""
    from bayesrf import nuts
    from bayesrf.design import make_design
    from bayesrf.unit_features import baseline_log_likelihood

    rec = bayesrf.simulate(n_frames=1500, shape=(4, 4), lags=2, rf=np.zeros((2, 4, 4)), rate=60.0, dt=0.05,
                           likelihood="negative-binomial", dispersion=0.5, seed=3)
    design = make_design(rec, 2)
    spec = bayesrf.load_prior("ridge", ["likelihood.family=negative-binomial"])  # with its spline baseline
    tree = baseline_log_likelihood(design, spec, draws=400, seed=1)
    post = tree["posterior"].to_dataset()
    assert "rf" not in post and post.sizes["chain"] * post.sizes["draw"] == 400
    eta = (post["intercept"].values[..., None] + post["baseline_coef"].values @ design.spline_basis(spec.baseline_n_basis).T
           + design.offset)
    n = 1.0 / post["count_overdispersion"].values[..., None]
    want = scipy.stats.nbinom.logpmf(design.counts, n, n / (n + np.exp(eta)))
    np.testing.assert_allclose(tree["log_likelihood"]["counts"].values, want, rtol=1e-8)
    low, high = np.quantile(post["count_overdispersion"].values, [0.03, 0.97])
    assert low < 0.5 < high, f"phi 94 % interval {low:.3f}-{high:.3f} misses 0.5"
    other = make_design(rec.assign(counts=("time", rec["counts"].values[::-1])), 2)  # another unit, same model
    kept = len(nuts._COMPILED)
    reused = baseline_log_likelihood(other, spec, draws=400, seed=1)
    fresh = baseline_log_likelihood(other, spec, draws=400, seed=1, reuse_compiled=False)
    assert len(nuts._COMPILED) == kept  # not compiled again
    np.testing.assert_array_equal(reused["log_likelihood"]["counts"].values, fresh["log_likelihood"]["counts"].values)


@pytest.fixture(scope="module")
def fits():
    rec, mu = _truth()
    rng = np.random.default_rng(5)
    data = rec.assign(counts=("time", rng.negative_binomial(1 / PHI, 1 / (1 + PHI * mu))))
    weak = dataclasses.replace(bayesrf.load_prior("ridge"), scale=1.0, baseline_kind="constant")
    settings = dict(lags=LAGS, draws=800, tune=500, chains=2, seed=1, estimates=False)
    out = {}
    for name in ("poisson", "negative-binomial"):
        with warnings.catch_warnings(record=True) as caught:  # 2 short chains: R-hat may pass 1.01 (recorded)
            warnings.simplefilter("always", bayesrf.BayesRFWarning)
            out[name] = bayesrf.sample(data, dataclasses.replace(weak, likelihood=name), **settings)
        out[name].attrs["test_warnings"] = [str(w.message) for w in caught]
    return out


@pytest.mark.slow
def test_negative_binomial_recovers_the_overdispersion(fits):
    phi = fits["negative-binomial"]["posterior"]["count_overdispersion"]
    lower, upper = np.quantile(phi.values, [0.005, 0.995])
    assert lower < PHI < upper and upper - lower < 0.4, (lower, upper)
    attrs = fits["negative-binomial"].attrs
    assert attrs["max_rhat"] < 1.02 and attrs["n_divergent"] == 0, attrs["test_warnings"]


@pytest.mark.slow
def test_checks_and_loo_prefer_the_negative_binomial(fits):
    verdicts = {name: {c["name"]: c for c in check(fit)["checks"]} for name, fit in fits.items()}
    assert not verdicts["poisson"]["dispersion"]["ok"] and "overdispersed" in verdicts["poisson"]["dispersion"]["verdict"]
    assert verdicts["negative-binomial"]["dispersion"]["ok"], verdicts["negative-binomial"]["dispersion"]["verdict"]
    assert verdicts["negative-binomial"]["rootogram"]["ok"]
    # the misspecified Poisson fit has influential intervals (Pareto k > 0.7): recorded, and the gap is far larger
    table, notes = recorded(lambda: azs.compare(fits, round_to="none"))
    assert all("Pareto" in note or "ELPD" in note for note in notes.split(" | ") if note), notes
    assert table.index[0] == "negative-binomial"
    assert abs(table.loc["poisson", "elpd_diff"]) > 4 * table.loc["poisson", "dse"]  # ArviZ 1: diff to the best


@pytest.mark.slow
def test_posterior_predictive_draws_negative_binomial_counts(fits):
    fit = fits["negative-binomial"]
    ppc = bayesrf.posterior_predictive(fit, seed=0)["posterior_predictive"]["counts"].values
    mu = bayesrf.results.count_locations(fit)[0].values
    phi = fit["posterior"]["count_overdispersion"].values[..., None]
    pearson = ((ppc - mu) ** 2 / (mu + phi * mu**2)).mean()
    assert pearson == pytest.approx(1.0, abs=0.05)  # the replicated counts have the family's variance


# --- COM-Poisson: sums written here -------------------------------------------------------------------------

REFERENCE_TERMS = 2000
NU_TRUE = 2.5  # the simulated COM-Poisson nu: underdispersed, Var ~ mean / nu


def _com_reference(loc: np.ndarray, nu: float, terms: int = REFERENCE_TERMS) -> np.ndarray:
    """log P(c) for c = 0 .. terms - 1 (rows: loc), summed here over ``terms`` counts."""
    c = np.arange(terms)
    log_w = nu * (np.log(np.atleast_1d(loc))[:, None] * c - gammaln(c + 1))
    return log_w - logsumexp(log_w, axis=1, keepdims=True)


def _com_counts(loc: np.ndarray, nu: float, rng: np.random.Generator) -> np.ndarray:
    """COM-Poisson counts by inverting the CDF of :func:`_com_reference` (300 terms)."""
    cdf = np.cumsum(np.exp(_com_reference(loc, nu, 300)), axis=1)
    return (cdf < rng.random(loc.size)[:, None]).sum(1)


def test_com_poisson_is_poisson_at_nu_1_and_its_sums_are_accurate():
    loc = np.array([[0.01, 0.5, 3.0, 10.0, 15.0]])
    counts = np.array([0, 1, 4, 12, 15])
    at_one = CountModel("com-poisson", np.array([[1.0]]))
    np.testing.assert_allclose(at_one.logpmf(counts, loc)[0], scipy.stats.poisson.logpmf(counts, loc[0]), atol=1e-11)
    for nu in (NU_MIN, 0.5, 1.0, 2.0, 5.0):
        model = CountModel("com-poisson", np.array([[nu]]))
        mean, var = model.moments(loc)
        reference = _com_reference(loc[0], nu)
        pmf, c = np.exp(reference), np.arange(REFERENCE_TERMS)
        np.testing.assert_allclose(mean[0], pmf @ c, rtol=1e-10)
        np.testing.assert_allclose(var[0], pmf @ c**2 - (pmf @ c) ** 2, rtol=1e-9)
        np.testing.assert_allclose(model.logpmf(counts, loc)[0], reference[np.arange(loc.size), counts], atol=1e-10)
    assert CountModel("com-poisson", np.array([[3.0]])).moments(loc)[1][0, -1] < 15 / 2  # underdispersed


def test_pymc_com_poisson_likelihood_matches_the_sums_written_here():
    rec, mu = _truth()
    spec = dataclasses.replace(bayesrf.load_prior("ridge"), baseline_kind="constant", likelihood="com-poisson")
    model = bayesrf.build_model(rec, spec, lags=LAGS)
    pointwise = model.compile_fn(model.logp(vars=[model["counts"]], sum=False)[0], point_fn=True)
    point = model.initial_point() | {"intercept": np.array(1.0), "rf": np.zeros((LAGS, 4, 4))}
    counts = rec["counts"].values[LAGS - 1 :]
    loc = np.e * rec["duration"].values[LAGS - 1 :]
    for nu in (1.0, NU_TRUE):
        got = pointwise(point | {"count_nu_log__": np.array(np.log(nu))})
        want = scipy.stats.poisson.logpmf(counts, loc) if nu == 1.0 else _com_reference(loc, nu)[np.arange(loc.size), counts]
        np.testing.assert_allclose(got, want, atol=1e-10)


def test_com_poisson_draws_and_simulator_follow_the_pmf():
    rng = np.random.default_rng(3)
    model = CountModel("com-poisson", np.array([[NU_TRUE]]))
    direct = model.draw(np.full((1, 20_000), 4.0), rng)[0]
    rec = bayesrf.simulate(n_frames=20_000, shape=(2, 2), rf=np.zeros((1, 2, 2)), rate=40.0, dt=0.1,
                           likelihood="com-poisson", dispersion=NU_TRUE, seed=4)  # location 4 in every interval
    expected = np.exp(_com_reference(np.array([4.0]), NU_TRUE)[0]) * 20_000
    bins = np.r_[expected[:9], expected[9:].sum()]
    for counts in (direct, rec["counts"].values):
        observed = np.r_[np.bincount(np.minimum(counts, 9), minlength=10)]
        assert scipy.stats.chisquare(observed, bins * observed.sum() / bins.sum()).pvalue > 1e-3
    assert rec.attrs["dispersion_true"] == NU_TRUE


def test_simulator_dispersion_is_validated():
    with pytest.raises(bayesrf.DataError, match="needs a dispersion > 0"):
        bayesrf.simulate(n_frames=10, likelihood="negative-binomial")
    with pytest.raises(bayesrf.DataError, match="no dispersion"):
        bayesrf.simulate(n_frames=10, dispersion=0.5)
    with pytest.raises(bayesrf.DataError, match="likelihood must be one of"):
        bayesrf.simulate(n_frames=10, likelihood="gamma", dispersion=0.5)


# --- MAP of each family against scipy's optimiser on a log-posterior written here ----------------------------


def _lagged(rec) -> np.ndarray:
    """Design rows L-1 .. T-1: the frames at lags 0 .. L-1 side by side (lag 0 = the frame on screen)."""
    stim = rec["stim"].values.reshape(rec.sizes["time"], -1)
    return np.hstack([stim[LAGS - 1 - lag : stim.shape[0] - lag] for lag in range(LAGS)])


@pytest.mark.parametrize("family", ["negative-binomial", "com-poisson"])
def test_map_equals_scipy_on_a_log_posterior_written_here(family):
    rec, mu = _truth()
    rec, mu = rec.isel(time=slice(0, 1000)), mu[:1000]  # the reference below differentiates numerically
    rng = np.random.default_rng(9)
    counts = (rng.negative_binomial(1 / PHI, 1 / (1 + PHI * mu)) if family == "negative-binomial"
              else _com_counts(mu, NU_TRUE, rng))
    data = rec.assign(counts=("time", counts))
    spec = dataclasses.replace(bayesrf.load_prior("ridge"), scale=1.0, baseline_kind="constant", intercept_family="flat",
                               likelihood=family)
    fit = bayesrf.fit_map(data, spec, lags=LAGS, estimates=False)
    X, c = _lagged(rec), counts[LAGS - 1 :]
    log_d = np.log(rec["duration"].values[LAGS - 1 :])

    def neg_log_posterior(theta):  # (intercept, weights, log dispersion); the sampler's coordinates
        loc = np.exp(theta[0] + X @ theta[1:-1] + log_d)
        d = np.exp(theta[-1])
        if family == "negative-binomial":  # HalfNormal(1) prior on phi, plus the log-transform's Jacobian
            lik = scipy.stats.nbinom.logpmf(c, 1 / d, 1 / (1 + d * loc)).sum()
            prior = scipy.stats.halfnorm.logpdf(d) + theta[-1]
        else:  # log nu ~ Normal(0, 1)
            lik = _com_reference(loc, d, 120)[np.arange(c.size), c].sum()
            prior = scipy.stats.norm.logpdf(theta[-1])
        return -(lik + scipy.stats.norm.logpdf(theta[1:-1]).sum() + prior)

    start = np.r_[np.log(c.mean() / 0.1), np.zeros(X.shape[1]), 0.0]
    ref = scipy.optimize.minimize(neg_log_posterior, start, method="BFGS", options={"gtol": 1e-7})
    post = fit["posterior"]
    got = np.r_[post["intercept"].values.ravel(), post["rf"].values.ravel(),
                np.log(post[DISPERSIONS[family]].values.ravel())]
    assert fit.attrs["converged"] == 1
    np.testing.assert_allclose(got, ref.x, atol=2e-4)
    assert neg_log_posterior(got) <= ref.fun + 1e-6


# --- COM-Poisson posterior on counts drawn here ----------------------------------------------------------------


@pytest.fixture(scope="module")
def com_fits():
    rec, mu = _truth()
    rec, mu = rec.isel(time=slice(0, 1500)), mu[:1500]
    data = rec.assign(counts=("time", _com_counts(mu, NU_TRUE, np.random.default_rng(7))))
    weak = dataclasses.replace(bayesrf.load_prior("ridge"), scale=1.0, baseline_kind="constant")
    out = {}
    for name in ("poisson", "com-poisson"):
        with warnings.catch_warnings(record=True) as caught:  # 2 short chains: R-hat may pass 1.01 (recorded)
            warnings.simplefilter("always", bayesrf.BayesRFWarning)
            out[name] = bayesrf.sample(data, dataclasses.replace(weak, likelihood=name), lags=LAGS, draws=600,
                                       tune=400, chains=2, seed=2, estimates=False)
        out[name].attrs["test_warnings"] = [str(w.message) for w in caught]
    return out


@pytest.mark.slow
def test_com_poisson_recovers_the_underdispersion(com_fits):
    fit = com_fits["com-poisson"]
    lower, upper = np.quantile(fit["posterior"]["count_nu"].values, [0.005, 0.995])
    assert lower < NU_TRUE < upper and upper - lower < 1.0, (lower, upper)
    assert fit.attrs["max_rhat"] < 1.02 and fit.attrs["n_divergent"] == 0, fit.attrs["test_warnings"]


@pytest.mark.slow
def test_checks_and_loo_prefer_the_com_poisson_on_underdispersed_counts(com_fits):
    verdicts = {name: {c["name"]: c for c in check(fit)["checks"]} for name, fit in com_fits.items()}
    assert "underdispersed" in verdicts["poisson"]["dispersion"]["verdict"]
    assert verdicts["com-poisson"]["dispersion"]["ok"], verdicts["com-poisson"]["dispersion"]["verdict"]
    assert verdicts["com-poisson"]["rootogram"]["ok"]
    table, _ = recorded(lambda: azs.compare(com_fits, round_to="none"))
    assert table.index[0] == "com-poisson"
    assert abs(table.loc["poisson", "elpd_diff"]) > 4 * table.loc["poisson", "dse"]


@pytest.mark.slow
def test_posterior_predictive_draws_com_poisson_counts(com_fits):
    fit = com_fits["com-poisson"]
    ppc = bayesrf.posterior_predictive(fit, seed=0, max_draws=150)["posterior_predictive"]["counts"].values
    loc, counts_model = bayesrf.results.count_locations(fit, max_draws=150)
    mean, var = counts_model.moments(loc.values.reshape(-1, loc.sizes["time"]))
    pearson = ((ppc.reshape(mean.shape) - mean) ** 2 / var).mean()
    assert pearson == pytest.approx(1.0, abs=0.05)  # the replicated counts have the family's variance
    assert (var < mean).all()  # underdispersed, Var / mean -> 1 / nu as the mean grows
    assert np.mean((var / mean)[mean > 5]) == pytest.approx(1 / NU_TRUE, abs=0.1)


def test_heldout_log_likelihood_scores_with_the_fits_count_distribution():
    rec, mu = _truth()
    counts = np.random.default_rng(9).negative_binomial(1 / PHI, 1 / (1 + PHI * mu))
    data = rec.assign(counts=("time", counts))
    spec = dataclasses.replace(bayesrf.load_prior("ridge"), scale=1.0, baseline_kind="constant",
                               likelihood="negative-binomial")
    test = bayesrf.block_split(rec.sizes["time"])
    got = bayesrf.heldout.heldout_log_likelihood(data, spec, lags=LAGS, test=test)["loglik"]
    post = bayesrf.fit_map(data, spec, lags=LAGS, keep=~test, estimates=False)["posterior"]
    rows = test[LAGS - 1 :]
    drive = post["intercept"].item() + _lagged(rec)[rows] @ post["rf"].values.ravel()
    loc = np.exp(drive) * rec["duration"].values[LAGS - 1 :][rows]
    phi = post["count_overdispersion"].item()
    want = scipy.stats.nbinom.logpmf(counts[LAGS - 1 :][rows], 1 / phi, 1 / (1 + phi * loc)).sum()
    assert got == pytest.approx(want, rel=1e-9)
