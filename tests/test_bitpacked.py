"""Bit-packed products with two-valued frames equal numpy's, in PyTensor's Python, C and numba backends, and their
gradients are each other (checked by finite differences)."""

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad
from scipy.stats import poisson

from bayesrf.bitpacked import FramesAdjoint, FramesProduct, adjoint, levels, pack, product


@pytest.mark.parametrize("values", [(-1.0, 1.0), (0.0, 1.0), (0.0, 255.0), (2.0, 2.0)])
@pytest.mark.parametrize("k", [1, 3])
def test_products_equal_numpy(values, k):
    rng = np.random.default_rng(k)
    frames = rng.choice(np.array(values), (37, 21))  # 21 pixels: the last byte is part empty
    low, high = levels(frames)
    bits_t = pack(frames, high)
    assert bits_t.shape == (3, 37) and bits_t.dtype == np.uint8 and (low, high) == (min(values), max(values))
    m, r = rng.standard_normal((21, k)), rng.standard_normal((37, k))
    np.testing.assert_allclose(product(bits_t, m, low, high), frames @ m, rtol=0, atol=1e-11)
    np.testing.assert_allclose(adjoint(bits_t, r, 21, low, high), frames.T @ r, rtol=0, atol=1e-11)


def test_frames_with_three_values_or_none_have_no_two_levels():
    assert levels(np.array([[0.0, 1.0], [2.0, 1.0]])) is None
    assert levels(np.zeros((0, 4))) is None


@pytest.mark.parametrize("mode", ["FAST_RUN", "NUMBA"])
def test_ops_and_their_gradients_in_each_backend(mode):
    """The Ops give numpy's products compiled by PyTensor's default (C) and numba (nutpie's) backends; the gradient of
    ``sum(w * (F @ m))`` is ``F.T @ w``, and of ``sum(v * (F.T @ r))`` is ``F @ v``."""
    rng = np.random.default_rng(0)
    frames = rng.choice(np.array([-1.0, 1.0]), (29, 13))
    bits = pytensor.shared(pack(frames, 1.0))
    forward, back = FramesProduct(13, -1.0, 1.0), FramesAdjoint(13, -1.0, 1.0)
    m, r = pt.matrix("m"), pt.matrix("r")
    w, v = rng.standard_normal((29, 2)), rng.standard_normal((13, 2))
    y, z = forward(bits, m), back(bits, r)
    fn = pytensor.function([m, r], [y, z, pt.grad(pt.sum(w * y), m), pt.grad(pt.sum(v * z), r)], mode=mode)
    m0, r0 = rng.standard_normal((13, 2)), rng.standard_normal((29, 2))
    got = fn(m0, r0)
    for value, expected in zip(got, (frames @ m0, frames.T @ r0, frames.T @ w, frames @ v), strict=True):
        np.testing.assert_allclose(value, expected, rtol=0, atol=1e-11)


def test_gradient_by_finite_differences():
    rng = np.random.default_rng(1)
    bits = pytensor.shared(pack(rng.choice(np.array([0.0, 1.0]), (11, 10)), 1.0))
    verify_grad(lambda m: FramesProduct(10, 0.0, 1.0)(bits, m) ** 2, [rng.standard_normal((10, 2))], rng=rng)


@pytest.mark.parametrize("large", [False, True])
def test_rank1_model_takes_its_frames_bitpacked_when_large(small_sim, monkeypatch, large):
    """A large rank-1 model multiplies its binary frames by its spatial map bit-packed (``frames`` uint8): its
    Poisson log-likelihood at a point equals scipy's logpmf of the rate from numpy's lagged design and the model's own
    RF there; its gradient (C and numba backends, nutpie's) equals the float64 dense model's; the compiled-model key
    says which form the frames take."""
    import bayesrf
    from bayesrf.ml import with_intercept
    from bayesrf.model import build_model, frames_form
    from bayesrf.nuts import model_key

    design = bayesrf.make_design(small_sim, n_lags=3)
    spec = bayesrf.load_prior("rank1", {"baseline": {"kind": "constant"}})
    monkeypatch.setattr("bayesrf.model.SINGLE_PRECISION_BYTES", 10**18)
    monkeypatch.setattr("bayesrf.model.SINGLE_PRECISION_WEIGHTS", 10**9)
    dense = build_model(design, spec)  # float64 frames, pytensor's dot
    dense_key = model_key(design, spec, "direct")
    if large:
        monkeypatch.setattr("bayesrf.model.SINGLE_PRECISION_WEIGHTS", 0)
    model = build_model(design, spec)
    assert frames_form(design, spec) == ("bits -1.0 1.0" if large else "float64")
    assert model["frames"].dtype == ("uint8" if large else "float64")
    assert (model_key(design, spec, "direct") != dense_key) == large
    rng = np.random.default_rng(2)
    point = {name: value + rng.normal(0.0, 0.3, np.shape(value)) for name, value in model.initial_point().items()}
    rf = model.compile_fn(model.replace_rvs_by_values([model["rf"]])[0], inputs=model.value_vars,
                          on_unused_input="ignore")(point)
    rate = np.exp(with_intercept(design.matrix()) @ np.r_[point["intercept"], rf.ravel()] + design.offset)

    def loglik_and_grad(m: pm.Model, mode: str) -> list[np.ndarray]:
        loglik = m.logp(vars=[m["counts"]])
        return pytensor.function(m.value_vars, [loglik, *pt.grad(loglik, m.value_vars)], mode=mode)(**point)

    got = loglik_and_grad(model, "FAST_RUN")
    assert got[0] == pytest.approx(poisson.logpmf(design.counts, rate).sum(), rel=1e-12)
    for mode in ("FAST_RUN", "NUMBA"):
        for value, want in zip(loglik_and_grad(model, mode), loglik_and_grad(dense, "FAST_RUN"), strict=True):
            np.testing.assert_allclose(value, want, rtol=1e-10, atol=1e-10 * np.max(np.abs(want)))
