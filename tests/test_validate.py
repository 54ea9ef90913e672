"""Simulation-based calibration: NUTS under the ridge prior is calibrated; the test detects miscalibration."""

import pytest

from bayesrf.validate import rank_pvalue, sbc


def _ranks(rng, truth_sd, draw_sd, n=2000, n_draws=99):
    truth = rng.normal(0, truth_sd, size=n)
    draws = rng.normal(0, draw_sd, size=(n, n_draws))
    return (draws < truth[:, None]).sum(axis=1)


def test_uniformity_test_flags_overconfident_and_accepts_calibrated_ranks(rng):
    assert rank_pvalue(_ranks(rng, 1.0, 1.0), 99) > 1e-3
    assert rank_pvalue(_ranks(rng, 1.0, 0.6), 99) < 1e-6  # posterior too narrow: U-shaped ranks
    assert rank_pvalue(_ranks(rng, 0.6, 1.0), 99) < 1e-6  # posterior too wide: hump-shaped ranks


@pytest.mark.slow
def test_reduced_sbc_of_the_ridge_posterior():
    result = sbc(n_sims=40, draws=400, tune=400, chains=2, thin=8, seed=0)
    print(f"SBC, 40 simulations x {result.n_draws} draws: p-values {result.pvalues}")
    print("rf rank histogram:", result.histogram("rf").tolist())
    assert result.ranks.rf.shape == (40, 2, 6, 6)
    assert result.pvalues["intercept"] > 1e-3
    assert result.pvalues["rf"] > 1e-3
