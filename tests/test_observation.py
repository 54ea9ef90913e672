"""Count distributions of the observation model: spec validation, the negative binomial's posterior
against counts drawn in the test with a known overdispersion, and what each fit's checks say."""

import dataclasses
import warnings

import arviz_stats as azs
import numpy as np
import pytest

import bayesrf
from bayesrf.criticism import check
from bayesrf.errors import recorded
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


def test_map_and_laplace_refuse_other_likelihoods():
    rec, _ = _truth()
    spec = bayesrf.load_prior("ridge", ["likelihood.family=negative-binomial"])
    with pytest.raises(bayesrf.SpecError, match="method='nuts'"):
        bayesrf.fit_map(rec, spec, lags=LAGS)
    with pytest.raises(bayesrf.SpecError, match="method='nuts'"):
        bayesrf.sample(rec, spec, lags=LAGS, method="laplace")


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
    mu = bayesrf.results.expected_counts(fit).values
    phi = fit["posterior"]["count_overdispersion"].values[..., None]
    pearson = ((ppc - mu) ** 2 / (mu + phi * mu**2)).mean()
    assert pearson == pytest.approx(1.0, abs=0.05)  # the replicated counts have the family's variance
