"""The regularised horseshoe prior: its spec, its density against scipy's, its sampler form, a sparse fit."""

import numpy as np
import pymc as pm
import pytest
from scipy import stats

import bayesrf
from bayesrf.families import SLAB_DF

LAGS, SHAPE = 2, (4, 3)


@pytest.fixture(scope="module")
def small():
    return bayesrf.simulate(n_frames=60, shape=SHAPE, lags=LAGS, seed=0)


@pytest.mark.parametrize(("override", "message"), [
    ("prior.slab_scale=-1", "prior.slab_scale must be a number > 0 for a horseshoe prior"),
    ("prior.hierarchical=false", "a horseshoe prior learns its scales"),
    ("prior.hyper_family='halfnormal'", "prior.hyper_family of a horseshoe prior must be 'halfcauchy'"),
])
def test_bad_horseshoe_spec_names_the_field(override, message):
    with pytest.raises(bayesrf.SpecError, match=message):
        bayesrf.load_prior("horseshoe", [override])


def test_slab_scale_and_halfcauchy_belong_to_the_horseshoe_only():
    with pytest.raises(bayesrf.SpecError, match="prior.slab_scale is only used by family = \"horseshoe\""):
        bayesrf.load_prior("ridge", ["prior.slab_scale=0.5"])
    with pytest.raises(bayesrf.SpecError, match="prior.hyper_family of a normal prior must be 'halfnormal'"):
        bayesrf.load_prior("ridge-hier", ["prior.hyper_family='halfcauchy'"])


def test_a_loaded_horseshoe_spec_reloads_unchanged():
    spec = bayesrf.load_prior("horseshoe", ["prior.slab_scale=0.7"])
    assert (spec.slab_scale, spec.hyper_family) == (0.7, "halfcauchy")
    assert bayesrf.load_prior(spec) == spec


def test_horseshoe_log_prior_is_scipys(small, rng):
    """The direct form's log-density of the RF's prior terms, at a random point, is the sum of scipy's: the global
    scale HalfCauchy(hyper_scale), the slab variance InverseGamma(2, 2 slab_scale^2), per weight HalfCauchy(1)
    local scales and standard normal ``rf_z``."""
    spec = bayesrf.load_prior("horseshoe", ["prior.hyper_scale=0.03", "prior.slab_scale=0.4"])
    model = bayesrf.build_model(small, spec, lags=LAGS)
    tau, slab = 0.02, 0.1
    local, z = rng.uniform(0.1, 5.0, (LAGS, *SHAPE)), rng.normal(size=(LAGS, *SHAPE))
    names = ("rf_global", "rf_slab", "rf_local", "rf_z")
    logp = model.compile_logp(vars=[model[n] for n in names], jacobian=False)
    point = model.initial_point() | {"rf_global_log__": np.log(tau), "rf_slab_log__": np.log(slab),
                                     "rf_local_log__": np.log(local), "rf_z": z}
    expected = (stats.halfcauchy.logpdf(tau, scale=0.03) + stats.invgamma.logpdf(slab, SLAB_DF / 2, scale=SLAB_DF * 0.4**2 / 2)
                + stats.halfcauchy.logpdf(local).sum() + stats.norm.logpdf(z).sum())
    np.testing.assert_allclose(logp(point), expected, rtol=1e-8)  # float64 rounding: 6e-10 measured
    rf = model.compile_fn(model.replace_rvs_by_values([model["rf"]])[0], inputs=model.value_vars,
                          on_unused_input="ignore")(point)
    np.testing.assert_allclose(rf, z * tau * np.sqrt(slab * local**2 / (slab + tau**2 * local**2)), rtol=1e-12)


def test_scale_mixture_form_draws_the_same_half_cauchy_scales(small):
    """The sampler's form writes each half-Cauchy scale as HalfNormal x sqrt(InverseGamma(1/2, 1/2)): its prior
    draws pass scipy's Kolmogorov-Smirnov test against the half-Cauchy (and a wrong scale fails it)."""
    model = bayesrf.build_model(small, "horseshoe", lags=LAGS, laplace="scale-mixture")
    local, tau = pm.draw([model["rf_local"], model["rf_global"]], draws=4000, random_seed=2)
    assert stats.kstest(local[:, 0, 0, 0], stats.halfcauchy().cdf).pvalue > 0.01
    assert stats.kstest(tau, stats.halfcauchy(scale=0.01).cdf).pvalue > 0.01
    assert stats.kstest(tau, stats.halfcauchy(scale=0.013).cdf).pvalue < 1e-3


@pytest.mark.slow
def test_horseshoe_recovers_a_sparse_rf_that_ridge_blurs():
    """Six isolated pixels (truth written here with numpy): the horseshoe's posterior mean is closer to the truth
    than ``ridge-hier``'s (0.077 vs 0.159 measured), and its result holds the scales but not the sampler's auxiliary variables."""
    rng = np.random.default_rng(5)
    shape, lags, n = (8, 8), 2, 1500
    truth = np.zeros((lags, 64))
    truth[:, rng.choice(64, 6, replace=False)] = np.outer([1.0, 0.5], rng.choice([-0.3, 0.3], 6))
    frames = rng.choice([-1.0, 1.0], size=(n, 64))
    drive = frames @ truth[0] + np.r_[0.0, frames[:-1] @ truth[1]]
    data = bayesrf.from_counts(frames.reshape(n, *shape), rng.poisson(3.0 * np.exp(drive)), 0.2)
    truth = truth.reshape(lags, *shape)
    with pytest.warns(bayesrf.BayesRFWarning, match="sampling diagnostics"):  # short chains
        fits = {name: bayesrf.sample(data, name, lags=lags, draws=200, tune=200, chains=2, seed=1)
                for name in ("horseshoe", "ridge-hier")}
    error = {name: float(np.linalg.norm(fit["posterior"]["rf"].mean(("chain", "draw")).values - truth))
             for name, fit in fits.items()}
    print(error)
    assert error["horseshoe"] < 0.7 * error["ridge-hier"], error
    posterior = fits["horseshoe"]["posterior"]
    assert {"rf_global", "rf_slab", "rf_local"} <= set(posterior.data_vars)
    assert not {"rf_local_n", "rf_local_ig", "rf_global_n", "rf_global_ig"} & set(posterior.data_vars)
    assert {"rf_global", "rf_slab", "rf_local", "rf_z"} <= set(fits["horseshoe"]["log_prior"].data_vars)
