"""Calibration checks: interval coverage of a known truth, and simulation-based calibration (SBC) of NUTS."""

import numpy as np
import pytest
import xarray as xr
from scipy.stats import chisquare, poisson

from bayesrf import DataError
from bayesrf.data import from_counts
from bayesrf.design import make_design
from bayesrf.validate import SBC_QUANTITIES, _quantities, coverage, rank_pvalue, sbc

DIMS = ("chain", "draw", "lag", "y", "x")


def _posterior(rng, sd: float, shape=(2, 500, 4, 10, 25)) -> xr.DataTree:
    draws = xr.Dataset({"rf": (DIMS, rng.normal(0, sd, size=shape))})
    return xr.DataTree.from_dict({"posterior": draws})


def test_coverage_matches_the_interval_probability_for_a_calibrated_posterior(rng):
    """Truth and draws from the same N(0, 1): shares within 4 binomial SEs (1,000 independent weights)."""
    tree = _posterior(rng, 1.0)
    shares = coverage(tree, rng.normal(size=(4, 10, 25)))
    for prob, share in shares.items():
        assert abs(share - prob) < 4 * np.sqrt(prob * (1 - prob) / 1000), shares


def test_coverage_flags_an_overconfident_posterior(rng):
    """Draws with half the truth's SD: the 95 % interval holds P(|z| < 0.98) = 67 % of the truths."""
    shares = coverage(_posterior(rng, 0.5), rng.normal(size=(4, 10, 25)), probs=(0.95,))
    assert abs(shares[0.95] - 0.673) < 0.06


def test_coverage_equals_numpy_quantile_intervals_and_aligns_dims(rng):
    tree = _posterior(rng, 1.0, shape=(3, 200, 2, 3, 4))
    truth = xr.DataArray(rng.normal(size=(2, 3, 4)), dims=("lag", "y", "x"))
    draws = tree["posterior"]["rf"].values.reshape(-1, 2, 3, 4)
    lo, hi = np.quantile(draws, [0.1, 0.9], axis=0)
    expected = float(np.mean((lo <= truth.values) & (truth.values <= hi)))
    assert coverage(tree, truth.transpose("x", "lag", "y"), probs=(0.8,))[0.8] == pytest.approx(expected, abs=1e-12)


def test_coverage_where_counts_only_the_selected_weights(rng):
    """Half the weights drawn with the draws' SD, half with twice it: each half's share is its own,
    at every level (numpy quantile intervals as the reference)."""
    tree = _posterior(rng, 1.0, shape=(2, 500, 2, 10, 25))
    wide = np.zeros((2, 10, 25), dtype=bool)
    wide[1] = True
    truth = rng.normal(size=(2, 10, 25)) * np.where(wide, 2.0, 1.0)
    draws = tree["posterior"]["rf"].values.reshape(-1, 2, 10, 25)
    probs = (0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99)
    for mask in (wide, ~wide):
        shares = coverage(tree, truth, probs=probs, where=mask)
        for prob in probs:
            lo, hi = np.quantile(draws, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
            assert shares[prob] == pytest.approx(np.mean(((lo <= truth) & (truth <= hi))[mask]), abs=1e-12)
    assert coverage(tree, truth, probs=(0.5,), where=wide)[0.5] < coverage(tree, truth, probs=(0.5,), where=~wide)[0.5]


@pytest.mark.parametrize(("truth", "kwargs", "match"), [
    (np.zeros((2, 3, 4)), {"where": np.zeros((2, 3, 4), dtype=bool)}, "at least one"),
    (np.zeros((2, 3, 4)), {"where": np.ones((2, 3), dtype=bool)}, "shaped like the truth"),
    (np.zeros((2, 3)), {}, "shape"),
    (np.full((2, 3, 4), np.nan), {}, "NaN"),
    (np.zeros((2, 3, 4)), {"probs": (0.5, 1.0)}, r"\(0, 1\)"),
    (np.zeros((2, 3, 4)), {"var": "weights"}, "no variable 'weights'"),
    (xr.DataArray(np.zeros((2, 12)), dims=("lag", "pixel")), {}, "dims"),
])
def test_coverage_rejects_mismatched_input(rng, truth, kwargs, match):
    with pytest.raises(DataError, match=match):
        coverage(_posterior(rng, 1.0, shape=(1, 10, 2, 3, 4)), truth, **kwargs)


def _ranks(rng, truth_sd, draw_sd, n=2000, n_draws=99):
    truth = rng.normal(0, truth_sd, size=n)
    draws = rng.normal(0, draw_sd, size=(n, n_draws))
    return (draws < truth[:, None]).sum(axis=1)


def test_uniformity_test_flags_overconfident_and_accepts_calibrated_ranks(rng):
    assert rank_pvalue(_ranks(rng, 1.0, 1.0), 99) > 1e-3
    assert rank_pvalue(_ranks(rng, 1.0, 0.6), 99) < 1e-6  # posterior too narrow: U-shaped ranks
    assert rank_pvalue(_ranks(rng, 0.6, 1.0), 99) < 1e-6  # posterior too wide: hump-shaped ranks


def test_rank_fractions_are_uniform_when_the_number_of_draws_varies(rng):
    n_draws = rng.integers(3, 12, size=4000)  # few kept draws, different per rank: integer ranks alone bin unevenly
    truth = rng.normal(size=n_draws.size)
    ranks = np.array([(rng.normal(size=n) < t).sum() for n, t in zip(n_draws, truth)])
    assert rank_pvalue(ranks, n_draws) > 1e-3
    assert chisquare(np.bincount((ranks * 10) // (n_draws + 1), minlength=10)).pvalue < 1e-6


def test_sbc_test_quantities_match_an_independent_computation(rng):
    frames = rng.choice([-1.0, 1.0], size=(30, 2, 3))
    rec = from_counts(frames, rng.poisson(2.0, size=30), 0.1)
    b, w = np.array([1.2, 0.7]), rng.normal(0, 0.3, size=(2, 2, 2, 3))
    got = _quantities(b, w, make_design(rec, 2), pick=4)
    for i in range(2):  # by hand: lag 0 = the frame of the count, lag 1 = the frame before; the first count dropped
        drive = frames[1:].reshape(29, -1) @ w[i, 0].ravel() + frames[:-1].reshape(29, -1) @ w[i, 1].ravel()
        expected = poisson.logpmf(rec["counts"].values[1:], np.exp(b[i] + drive) * 0.1).sum()
        assert got["loglik"][i] == pytest.approx(expected, rel=1e-12)
        assert got["norm"][i] == pytest.approx(np.sqrt((w[i] ** 2).sum()))
        assert got["weight"][i] == w[i, 0, 1, 1]  # flat index 4 of (lag, y, x) = (0, 1, 1)


@pytest.mark.slow
def test_reduced_sbc_of_the_ridge_posterior():
    result = sbc(n_sims=40, draws=400, tune=400, chains=2, bins=5, seed=0)
    print(f"SBC, 40 simulations: p-values {result.pvalues}")
    ranks = result.ranks
    assert ranks.rf.shape == (40, 2, 6, 6)
    assert (ranks["n_draws"] == 2 * np.ceil(400 / ranks["thin"])).all() and (ranks["thin"] >= 1).all()
    for name in SBC_QUANTITIES:
        print(name, result.histogram(name).tolist())
        assert result.pvalues[name] > 1e-3
        assert (ranks[name] <= ranks["n_draws"]).all() and ((ranks[f"{name}_u"] > 0) & (ranks[f"{name}_u"] < 1)).all()
