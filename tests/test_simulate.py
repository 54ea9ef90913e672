"""The simulator draws from the documented LNP model."""

import numpy as np
import pytest
import xarray as xr

import bayesrf
from bayesrf.simulate import spatial_map, temporal_profile


def test_lab_task1_setting():
    rec = bayesrf.simulate(seed=0)  # defaults = the lab's Task 1
    assert dict(rec.sizes) == {"time": 1000, "y": 15, "x": 15, "lag": 1}
    np.testing.assert_allclose(rec.duration.values, 0.1)
    assert np.linalg.norm(rec.rf_true.values) == pytest.approx(1.0)
    assert rec.attrs["intercept_true"] == pytest.approx(np.log(50.0))
    peak = np.unravel_index(np.argmax(rec.rf_true.values[0]), (15, 15))
    assert peak == (7, 7)


def test_same_seed_same_data_different_seed_different():
    a, b, c = (bayesrf.simulate(n_frames=200, seed=s) for s in (4, 4, 5))
    xr.testing.assert_identical(a, b)
    assert not np.array_equal(a.counts.values, c.counts.values)


def test_counts_follow_the_lnp_rate():
    """Mean count equals the average of R exp(w.s) d, computed independently (5 SE)."""
    rec = bayesrf.simulate(n_frames=40000, shape=(4, 4), lags=2, spatial="gabor", rf_norm=0.8,
                           rate=10.0, dt=0.05, jitter=0.5, stimulus="gaussian", seed=1)
    w = rec.rf_true.values
    s = rec.stim.values
    drive = np.einsum("tyx,yx->t", s[1:], w[0]) + np.einsum("tyx,yx->t", s[:-1], w[1])
    lam = 10.0 * np.exp(drive) * rec.duration.values[1:]
    c = rec.counts.values[1:]
    assert abs(c.mean() - lam.mean()) < 5 * np.sqrt(lam.mean() / lam.size)
    # counts are Poisson given the rate: variance of the residual equals the rate
    assert np.mean((c - lam) ** 2) == pytest.approx(lam.mean(), rel=0.05)
    assert rec.duration.min() >= 0.05 * 0.5 and rec.duration.max() <= 0.05 * 1.5


@pytest.mark.parametrize("kind", ["gaussian", "gabor", "dog"])
def test_spatial_maps_have_unit_norm_and_any_grid(kind):
    m = spatial_map(kind, (20, 15))
    assert m.shape == (20, 15)
    assert np.linalg.norm(m) == pytest.approx(1.0)


def test_dog_is_centre_surround():
    m = spatial_map("dog", (21, 21))
    assert m[10, 10] > 0 and m[10, 16] < 0


def test_biphasic_time_course():
    v = temporal_profile("biphasic", 5)
    assert v[0] == 0 and v[1] > 0 and v[3] < 0


def test_separable_truth():
    rec = bayesrf.simulate(n_frames=10, shape=(5, 4), lags=4, spatial="dog", temporal="monophasic", seed=0)
    W = rec.rf_true.values.reshape(4, -1)
    assert np.linalg.matrix_rank(W) == 1


def test_binary_and_gaussian_frames():
    b = bayesrf.simulate(n_frames=50, seed=0)
    g = bayesrf.simulate(n_frames=50, stimulus="gaussian", seed=0)
    assert set(np.unique(b.stim.values)) == {-1.0, 1.0}
    assert np.unique(g.stim.values).size > 100


def test_bad_settings_listed_together():
    with pytest.raises(bayesrf.DataError, match="rate must be > 0.*jitter must be in"):
        bayesrf.simulate(rate=-1, jitter=2)
    with pytest.raises(bayesrf.DataError, match="unknown spatial shape 'gabbor'"):
        bayesrf.simulate(spatial="gabbor")
    with pytest.raises(bayesrf.DataError, match="rf must have shape"):
        bayesrf.simulate(rf=np.zeros((2, 3, 3)))
