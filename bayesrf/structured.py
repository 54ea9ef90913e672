"""The RF under a structured (``family = "gp"``) prior, as PyMC variables.

Structured (``family = "gp"``) priors, after automatic smoothness / locality
determination (Sahani & Linden 2003; Park & Pillow 2011) and bilinear RFs::

    rf = rf_amplitude * envelope(y, x) * (L_lag (x) L_y (x) L_x) rf_z          (rank 0)
    rf = sum_k rf_time[k, lag] * rf_space[k, y, x]                             (rank k)
    rf_space[k] = rf_amplitude[k] * envelope(y, x) * (L_y (x) L_x) rf_z[k]
    rf_time[k]  = L_lag rf_time_z[k] / ||L_lag rf_time_z[k]||                   (unit norm; the lag
                  kernel's length is fixed at length_median, and ||rf_time_z[k]|| is held near 1 by a
                  soft constraint that leaves the prior of rf unchanged)

``L_a`` (``a`` in ``structure.smooth``) is a square-root factor (:func:`se_factor`, in a fixed cosine
basis) of ``K_a``, the unit-variance squared-exponential kernel ``~ exp(-(i - j)^2 / (2 rf_length[a]^2))``
over axis ``a`` (identity when ``smooth = false``); the product is a contraction of the three small factors
with ``rf_z`` over one axis at a time — the 1,500 x 1,500 covariance is never
formed. So the prior covariance of a rank-0 RF is ``rf_amplitude^2 E (K_lag (x) K_y (x) K_x) E``
with ``E = diag(envelope)``, ``envelope = (1 + r^2 / nu)^(-nu / 2)``, ``r^2 = (y - c_y)^2 / w_y^2 + (x - c_x)^2 / w_x^2``
(``rf_center``, ``rf_width``, ``nu = envelope_nu``; Gaussian ``exp(-r^2 / 2)`` for ``nu = inf``; 1 without ``local``;
with ``envelope_floor``, ``rf_floor + (1 - rf_floor) *`` that). Hyperpriors: ``rf_amplitude ~
HalfNormal(hyper_scale)``, ``rf_length ~ LogNormal(log length_median, length_log_sd)``,
``rf_center ~ Normal(grid centre, grid size / 2)``, ``rf_width ~ LogNormal(log width_median, 0.75)``,
``rf_floor ~ Beta(1, 9)``.
A rank-k RF's components are identified up to a joint sign flip of ``(rf_time[k],
rf_space[k])``, which leaves ``rf`` unchanged; :func:`bayesrf.sample` reports them
signed like :func:`bayesrf.posterior_svd` (agreeing with the posterior mean).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from .svd import align_signs

if TYPE_CHECKING:
    from .priors import PriorSpec

__all__ = ["AXES", "align_components", "kron_contract", "model_axes", "se_factor", "smooth_axes", "structured_rf"]

AXES = ("lag", "y", "x")
"""The RF's axes, in order."""
WIDTH_LOG_SD = 0.75
FLOOR_BETA = 9.0
"""``rf_floor ~ Beta(1, FLOOR_BETA)``: prior mean 0.1 of the envelope floor."""
NORM_SD = 0.1
"""SD of the soft constraint ``||rf_time_z[k]|| ~ 1`` of low-rank priors (does not change the prior of ``rf``)."""


def smooth_axes(smooth: bool | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``true`` -> all axes, ``false`` -> none, a list -> those axes (in (lag, y, x) order)."""
    if isinstance(smooth, bool):
        return AXES if smooth else ()
    return tuple(axis for axis in AXES if axis in smooth)


def se_factor(n: int, length: pt.TensorVariable) -> pt.TensorVariable:
    """Factor ``F`` (n, n) of a unit-variance squared-exponential kernel, ``F F^T ~ exp(-(i - j)^2 / (2 length^2))``.

    ``F = D U diag(sqrt(s))``: ``U`` is the orthonormal cosine (DCT-II) basis, fixed; ``s_k =
    exp(-(pi k length / n)^2 / 2)`` is the kernel's spectrum at the basis frequencies (the kernel of a
    reflected axis); ``D`` rescales each row to prior variance 1. Because the basis does not depend on
    ``length``, a longer length scale only switches off high-frequency coefficients (as in fastASD, Aoi &
    Pillow 2017). A Cholesky factor's columns rotate with the length scale instead; with it, NUTS mixed
    badly when a length scale was weakly identified (real neuron, ``local``, 4 x 1000 draws: min ESS 37,
    R-hat 1.085, 143 s; with this factor 353, 1.012, 75 s). ``sqrt(s)`` is computed as ``exp(-(pi k length / n)^2 / 4)`` so
    that it has a finite gradient where ``s`` underflows.
    """
    i, k = np.arange(n)[:, None], np.arange(n)
    basis = np.sqrt(2.0 / n) * np.cos(np.pi * (i + 0.5) * k / n)
    basis[:, 0] = np.sqrt(1.0 / n)
    root = pt.exp(-0.25 * (np.pi * k * length / n) ** 2)
    variance = pt.dot(basis**2, root**2)  # >= 1/n (the constant term)
    return basis * root[None, :] / pt.sqrt(variance)[:, None]


def kron_contract(factors: list, z: pt.TensorVariable) -> pt.TensorVariable:
    """``(F_1 (x) ... (x) F_m) vec(z)`` as ``z`` (..., n_1, ..., n_m) contracted with each factor on its axis.

    ``factors[i]`` (n_i, n_i) or None (identity). Costs ``sum_i n_i`` times the size of ``z``.
    """
    m = len(factors)
    for i, factor in enumerate(factors):
        if factor is not None:
            axis = z.ndim - m + i
            z = pt.moveaxis(pt.tensordot(factor, z, axes=[[1], [axis]]), 0, axis)
    return z


def model_axes(spec: PriorSpec) -> list[str]:
    """Axes whose kernel length scale ``rf_length`` is learned (coords of dim ``axis``)."""
    return [axis for axis in spec.smooth if not (spec.rank and axis == "lag")]


def _envelope(spec: PriorSpec, ny: int, nx: int) -> pt.TensorVariable | float:
    """Spatial envelope (y, x) of the prior SD, peak 1 (``local = true``), else 1.

    ``(1 + r^2 / nu)^(-nu / 2)`` of the scaled distance ``r`` from the centre (``nu = envelope_nu``), the
    Gaussian ``exp(-r^2 / 2)`` when ``nu`` is infinite; with ``envelope_floor``, ``floor + (1 - floor) *``
    that, ``rf_floor ~ Beta(1, 9)``. A Gaussian envelope alone shrinks the weights a few widths out to zero
    with tiny intervals: on simulated centre-surround RFs it fitted the centre and its 95 % intervals covered
    28-75 % of the true weights (the surround outside them). A heavy tail (``nu = 4``) fixed that but, on
    Gabor RFs (a Gaussian envelope), biased the profile: coverage 81 % at n/D = 4. The learned floor keeps the
    Gaussian profile and lets the data keep a surround (n/D = 4, 4 x 1000 draws: coverage 96 % Gabor, 98 %
    centre-surround; error 0.003 / 0.005; the Gabor's error with ``nu = 4`` was 0.008).
    """
    if not spec.local:
        return 1.0
    grid = np.array([ny, nx], dtype=float)
    center = pm.Normal("rf_center", mu=(grid - 1) / 2, sigma=grid / 2, dims="space_axis")
    width = pm.LogNormal("rf_width", mu=np.log(spec.width_median), sigma=WIDTH_LOG_SD, dims="space_axis")
    dy = (np.arange(ny) - center[0]) / width[0]
    dx = (np.arange(nx) - center[1]) / width[1]
    r2 = dy[:, None] ** 2 + dx[None, :] ** 2
    nu = spec.envelope_nu
    envelope = pt.exp(-0.5 * r2) if np.isinf(nu) else (1 + r2 / nu) ** (-nu / 2)
    if not spec.envelope_floor:
        return envelope
    floor = pm.Beta("rf_floor", alpha=1.0, beta=FLOOR_BETA)
    return floor + (1 - floor) * envelope


def structured_rf(spec: PriorSpec, shape: tuple[int, int, int]) -> pt.TensorVariable:
    """The RF under a ``gp`` prior (see the module docstring)."""
    _, ny, nx = shape
    # a rank-k time course is normalised: its kernel's length is fixed at the hyperprior median, because a
    # learned one couples to the free norm of L_lag z (simulated Gabor, 2 x 300 draws: its ESS was 12)
    axes = model_axes(spec)
    if axes:
        length = pm.LogNormal("rf_length", mu=np.log(spec.length_median), sigma=spec.length_log_sd, dims="axis")
    lengths = {axis: length[axes.index(axis)] for axis in axes}
    if spec.rank and "lag" in spec.smooth:
        lengths["lag"] = spec.length_median
    factors = [se_factor(n, lengths[axis]) if axis in lengths else None for axis, n in zip(AXES, shape, strict=True)]
    envelope = _envelope(spec, ny, nx)
    if not spec.rank:
        amplitude = pm.HalfNormal("rf_amplitude", sigma=spec.hyper_scale)
        z = pm.Normal("rf_z", 0.0, 1.0, dims=("lag", "y", "x"))
        return pm.Deterministic("rf", amplitude * envelope * kron_contract(factors, z), dims=("lag", "y", "x"))
    amplitude = pm.HalfNormal("rf_amplitude", sigma=spec.hyper_scale, dims="component")
    z = pm.Normal("rf_z", 0.0, 1.0, dims=("component", "y", "x"))
    space = pm.Deterministic("rf_space", amplitude[:, None, None] * envelope * kron_contract(factors[1:], z),
                             dims=("component", "y", "x"))
    time_z = pm.Normal("rf_time_z", 0.0, 1.0, dims=("component", "lag"))
    # Only the direction of time_z matters (rf_time is normalised) and it is uniform whatever the norm's
    # distribution; a tight soft constraint on the norm removes the funnel between them
    # (simulated Gabor, 2 x 300 draws: min ESS of rf_time_z 38 -> 105; the steps per draw, ~125, are set by
    # the amplitude and length scales)
    pm.Potential("rf_time_norm", -0.5 * ((pt.sqrt(pt.sum(time_z**2, axis=1)) - 1.0) / NORM_SD) ** 2)
    raw = kron_contract(factors[:1], time_z)
    time = pm.Deterministic("rf_time", raw / pt.sqrt(pt.sum(raw**2, axis=1, keepdims=True)), dims=("component", "lag"))
    return pm.Deterministic("rf", pt.tensordot(time, space, axes=[[0], [0]]), dims=("lag", "y", "x"))


def align_components(time: np.ndarray, space: np.ndarray) -> dict[str, np.ndarray]:
    """Sign the components of a low-rank RF like :func:`bayesrf.posterior_svd` does.

    ``(time[k], space[k])`` and ``(-time[k], -space[k])`` give the same RF. Each
    draw's component is flipped when it disagrees (``u . u_ref + v . v_ref < 0``)
    with the component of the mean over draws, itself signed so its largest spatial
    pixel is positive (the mean is taken after aligning to the first draw); the rule is
    :func:`bayesrf.svd.align_signs`'s.

    Parameters
    ----------
    time : ndarray (chain, draw, component, lag)
    space : ndarray (chain, draw, component, y, x)

    Returns
    -------
    dict with the aligned ``rf_time`` and ``rf_space``.
    """
    comps = xr.Dataset({"spatial": (("chain", "draw", "component", "y", "x"), space),
                        "temporal": (("chain", "draw", "component", "lag"), time)})
    to_first = align_signs(comps, reference=comps.isel(chain=0, draw=0))
    aligned = align_signs(comps, reference=align_signs(to_first.mean(("chain", "draw"))))
    return {"rf_time": aligned["temporal"].values, "rf_space": aligned["spatial"].values}
