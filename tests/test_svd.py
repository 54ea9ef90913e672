"""Point SVD into space and time: identities, centring, sign convention."""

import numpy as np
import pytest
import xarray as xr

import bayesrf
from bayesrf.simulate import separable_rf, spatial_map, temporal_profile


@pytest.fixture
def rf(rng):
    return xr.DataArray(rng.normal(size=(5, 4, 3)), dims=("lag", "y", "x"))


def _reconstruct(out):
    return xr.dot(out.singular_value * out.temporal, out.spatial, dim="component")


@pytest.mark.parametrize("center", ["space", "time", "none"])
def test_all_components_reconstruct_the_centred_rf(rf, center):
    out = bayesrf.rf_svd(rf, n_components=5, center=center)
    expected = {"space": rf - rf.mean(("y", "x")), "time": rf - rf.mean("lag"), "none": rf}[center]
    xr.testing.assert_allclose(_reconstruct(out).transpose("lag", "y", "x"), expected, atol=1e-12)
    assert float(out.explained_variance.sum()) == pytest.approx(1.0)


def test_separable_rf_is_recovered_exactly():
    u, v = spatial_map("dog", (8, 7)), temporal_profile("biphasic", 5)
    rf = xr.DataArray(separable_rf(-u, v, norm=2.0), dims=("lag", "y", "x"))
    out = bayesrf.rf_svd(rf, n_components=2, center="none")
    assert float(out.explained_variance[0]) == pytest.approx(1.0)
    assert float(out.singular_value[0]) == pytest.approx(2.0)
    # sign convention: the largest spatial pixel is positive, so the OFF RF's sign goes to time
    np.testing.assert_allclose(out.spatial[0].values, u, atol=1e-12)
    np.testing.assert_allclose(out.temporal[0].values, -v, atol=1e-12)


def test_batched_draws_match_one_by_one(rng):
    draws = xr.DataArray(rng.normal(size=(2, 3, 4, 3, 3)), dims=("chain", "draw", "lag", "y", "x"))
    out = bayesrf.rf_svd(draws, n_components=2)
    single = bayesrf.rf_svd(draws.isel(chain=1, draw=2), n_components=2)
    xr.testing.assert_allclose(out.isel(chain=1, draw=2), single)


def test_reference_alignment_undoes_a_sign_flip(rf):
    ref = bayesrf.rf_svd(rf, n_components=2)
    flipped = ref.copy()
    flipped["spatial"] = -ref.spatial
    flipped["temporal"] = -ref.temporal
    aligned = bayesrf.rf_svd(rf, n_components=2, reference=flipped)
    xr.testing.assert_allclose(aligned.spatial, -ref.spatial)
    xr.testing.assert_allclose(aligned.temporal, -ref.temporal)


def test_bad_arguments(rf):
    with pytest.raises(bayesrf.DataError, match="n_components"):
        bayesrf.rf_svd(rf, n_components=9)
    with pytest.raises(bayesrf.DataError, match="center"):
        bayesrf.rf_svd(rf, center="global")
    with pytest.raises(bayesrf.DataError, match="missing"):
        bayesrf.rf_svd(rf.rename(lag="time"))
