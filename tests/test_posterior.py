"""Posterior SVD, credible maps and summaries (on synthetic posteriors with known structure)."""

import json

import numpy as np
import pytest
import xarray as xr

import bayesrf
import bayesrf.priors
from bayesrf.posterior import format_summary
from bayesrf.svd import align_signs


@pytest.fixture
def fake_posterior(rng):
    """A posterior of a separable RF plus noise: 4 chains x 50 draws, 3 lags, 4 x 5 pixels."""
    u = rng.normal(size=(4, 5))
    v = np.array([0.2, 1.0, -0.6])
    rf = v[:, None, None] * u + 0.3 * rng.normal(size=(4, 50, 3, 4, 5))
    post = xr.Dataset({"rf": (("chain", "draw", "lag", "y", "x"), rf),
                       "intercept": (("chain", "draw"), rng.normal(3, 0.1, size=(4, 50)))},
                      coords={"chain": np.arange(4), "draw": np.arange(50), "lag": np.arange(3)})
    tree = xr.DataTree.from_dict({"posterior": post})
    tree.attrs.update(bayesrf_spec=json.dumps({"name": "test"}), method="test", sampler="none", n_obs=100)
    return tree


def test_aligned_components_reconstruct_each_draws_rank_k_approximation(fake_posterior):
    svd = bayesrf.posterior_svd(fake_posterior, n_components=2)
    assert svd.spatial.dims == ("chain", "draw", "component", "y", "x")
    assert svd.temporal.dims == ("chain", "draw", "component", "lag")
    rf = fake_posterior.posterior.rf.values
    for c, d in [(0, 0), (3, 49), (1, 17)]:
        W = rf[c, d].reshape(3, -1)
        W = W - W.mean(axis=1, keepdims=True)  # center="space"
        U, S, Vt = np.linalg.svd(W, full_matrices=False)
        expected = (U[:, :2] * S[:2]) @ Vt[:2]
        got = np.einsum("k,kl,kp->lp", svd.singular_value.values[c, d], svd.temporal.values[c, d],
                        svd.spatial.values[c, d].reshape(2, -1))
        np.testing.assert_allclose(got, expected, atol=1e-12)


def test_alignment_recovers_a_randomly_flipped_copy(fake_posterior, rng):
    svd = bayesrf.posterior_svd(fake_posterior, n_components=2)
    flips = xr.DataArray(rng.choice([-1.0, 1.0], size=(4, 50, 2)), dims=("chain", "draw", "component"))
    scrambled = svd.copy()
    scrambled["spatial"] = svd.spatial * flips
    scrambled["temporal"] = svd.temporal * flips
    reference = bayesrf.rf_svd(fake_posterior.posterior.rf.mean(("chain", "draw")), n_components=2)
    recovered = align_signs(scrambled, reference)
    xr.testing.assert_allclose(recovered.spatial, svd.spatial)
    xr.testing.assert_allclose(recovered.temporal, svd.temporal)
    assert float((flips == -1).mean()) > 0.3


def test_first_component_is_the_true_time_course(fake_posterior):
    svd = bayesrf.posterior_svd(fake_posterior, n_components=1)
    v = np.array([0.2, 1.0, -0.6]) / np.linalg.norm([0.2, 1.0, -0.6])
    mean_v = svd.temporal.mean(("chain", "draw")).sel(component=0).values
    assert abs(np.dot(mean_v, v)) > 0.98


def test_rf_summary_matches_direct_computation(fake_posterior):
    s = bayesrf.rf_summary(fake_posterior, prob=0.9)
    draws = fake_posterior.posterior.rf.stack(sample=("chain", "draw"))
    np.testing.assert_allclose(s["mean"].values, draws.mean("sample").values)
    pos = (draws > 0).mean("sample")
    np.testing.assert_allclose(s["p_direction"].values, np.maximum(pos, 1 - pos).values)
    assert bool(((s.hdi_lower > 0) | (s.hdi_upper < 0) == s.credible).all())
    # independent reference: the narrowest window of floor(0.9 n) + 1 sorted draws (ArviZ's count), by brute force
    values = np.sort(draws.transpose("lag", "y", "x", "sample").values, axis=-1)
    n = values.shape[-1]
    k = int(np.floor(0.9 * n)) + 1
    widths = values[..., k - 1 :] - values[..., : n - k + 1]
    start = widths.argmin(axis=-1)
    lower = np.take_along_axis(values, start[..., None], axis=-1)[..., 0]
    upper = np.take_along_axis(values, (start + k - 1)[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(s.hdi_lower.values, lower, rtol=0, atol=1e-12)
    np.testing.assert_allclose(s.hdi_upper.values, upper, rtol=0, atol=1e-12)


def test_summary_is_json_serialisable(fake_posterior):
    report = bayesrf.summary(fake_posterior)
    text = json.dumps(report)
    assert "intercept" in report["parameters"] and len(report["svd"]) == 2
    assert json.loads(text)["rf"]["n_credible_per_lag"][1] > 0


def _quarter_sums(values, n_quarters=4):
    return np.array([chunk.sum() for chunk in np.array_split(np.asarray(values, dtype=float), n_quarters)])


def test_predict_follows_the_spline_baseline_on_the_real_neuron(real):
    """The ridge MAP (spline baseline) predicts each quarter's spike count to within 3 %; the rate
    halves over the session, so predictions without the baseline miss a quarter by far more."""
    fit = bayesrf.fit_map(real, "ridge", lags=5)
    rate = bayesrf.predict(fit, real.stim).isel(chain=0, draw=0)
    expected = rate.values * real.duration.sel(time=rate.time).values
    observed = real.counts.sel(time=rate.time).values
    np.testing.assert_allclose(_quarter_sums(expected), _quarter_sums(observed), rtol=0.03)
    flat = bayesrf.predict(fit, real.stim, baseline="mean").isel(chain=0, draw=0).values
    flat_error = np.abs(_quarter_sums(flat * real.duration.sel(time=rate.time).values) / _quarter_sums(observed) - 1)
    assert flat_error.max() > 0.15


def test_predict_refuses_frames_outside_the_fitted_session(real):
    fit = bayesrf.fit_map(real, "ridge", lags=5)
    late = real.stim.assign_coords(time=real.time.values + 1e4)
    with pytest.raises(bayesrf.DataError, match="inside the fitted session.*baseline='mean'"):
        bayesrf.predict(fit, late)
    assert bayesrf.predict(fit, late, baseline="mean").sizes["time"] == real.sizes["time"] - 4


def test_lag_labels_use_lag_values_of_a_subset(real):
    from bayesrf.plots import plot_rf_rows

    rf = bayesrf.fit_ml(real, lags=5, penalty="l2", alpha=3.0).rf.isel(lag=[0, 2])
    fig = plot_rf_rows([("ridge", rf)])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["lag 0 (0 ms)", f"lag 2 ({2000 * np.median(real.duration.values):.0f} ms)"]


def test_interval_probability_defaults_to_arviz_rcparams(fake_posterior):
    import arviz_base

    tree = fake_posterior
    assert bayesrf.rf_summary(tree).attrs["hdi_prob"] == arviz_base.rcParams["stats.ci_prob"]
    with arviz_base.rc_context({"stats.ci_prob": 0.5}):
        narrow = bayesrf.rf_summary(tree)
    wide = bayesrf.rf_summary(tree, prob=0.99)
    assert narrow.attrs["hdi_prob"] == 0.5
    assert bool(((narrow["hdi_upper"] - narrow["hdi_lower"]) < (wide["hdi_upper"] - wide["hdi_lower"])).all())
    with pytest.raises(bayesrf.DataError, match="between 0 and 1"):
        bayesrf.rf_summary(tree, prob=94)


def test_summary_cautions_against_a_prior_that_under_covered_simulated_truths(fake_posterior):
    shortfall = bayesrf.priors.SUPPORT_SHORTFALL
    prior = next(iter(shortfall))
    fake_posterior.attrs["bayesrf_spec"] = json.dumps({"name": prior})
    report = bayesrf.summary(fake_posterior)
    assert all(truth in report["fit"]["caution"] for truth in shortfall[prior])
    assert f"caution: {report['fit']['caution']}" in format_summary(report).splitlines()
    fake_posterior.attrs["bayesrf_spec"] = json.dumps({"name": "local-variant"})
    assert "caution" not in bayesrf.summary(fake_posterior)["fit"]
