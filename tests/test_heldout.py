"""Held-out log-likelihood: the drifting baseline is better supported on the real neuron."""

import numpy as np
import pytest
from scipy.special import gammaln

import bayesrf
from bayesrf.heldout import block_split, heldout_log_likelihood


def test_block_split_interleaves_blocks():
    mask = block_split(1000, block=50, every=5, offset=2)
    assert mask.sum() == 200 and mask[100:150].all() and not mask[:100].any()
    with pytest.raises(bayesrf.DataError):
        block_split(100, every=1)


def test_null_reference_is_the_poisson_likelihood_of_the_training_rate(small_sim):
    test = block_split(small_sim.sizes["time"])
    out = heldout_log_likelihood(small_sim, "ridge", lags=3, test=test)
    train = ~test
    train[:2] = False
    rate = small_sim.counts.values[train].sum() / small_sim.duration.values[train].sum()
    held = test.copy()
    held[:2] = False
    mu = rate * small_sim.duration.values[held]
    c = small_sim.counts.values[held]
    expected = np.mean(c * np.log(mu) - mu - gammaln(c + 1))
    assert out["per_interval_null"] == pytest.approx(expected, rel=1e-10)
    assert out["per_interval"] > out["per_interval_null"]  # the RF predicts held-out counts


def test_drifting_baseline_beats_constant_on_real_neuron(real):
    scores = {}
    for kind in ("constant", "spline"):
        spec = bayesrf.load_prior("ridge", {"baseline": {"kind": kind}})
        scores[kind] = sum(heldout_log_likelihood(real, spec, 5, block_split(real.sizes["time"], offset=k))["loglik"]
                           for k in (0, 2, 4))
    print(f"held-out log-likelihood, 3 folds: constant {scores['constant']:.1f}, spline {scores['spline']:.1f}")
    assert scores["spline"] > scores["constant"] + 50
