"""Prior spec + recording -> PyMC model of the LNP neuron.

The log expected count of interval ``t`` is::

    eta_t = intercept + sum_l rf[l] . s_{t-l} + log(duration_t)

computed as one matrix product of the (n_time, n_pixels) frames with the
(n_pixels, n_lags) weights followed by a sum of ``n_lags`` shifted columns —
the T x (lags * pixels) design matrix is never formed.

With ``[baseline] kind = "spline"`` a slow drift ``Z_t . baseline_coef`` is
added (see :meth:`bayesrf.design.Design.spline_basis`); it is not part of the RF.

Variables (dims): ``intercept`` (), ``rf`` (lag, y, x); for a spline baseline
``baseline_level`` (knot), the random walk over the spline coefficients (relative
to the first), and its steps ``baseline_coef`` (knot), which multiply the
cumulative basis of :meth:`bayesrf.design.Design.spline_basis`; hierarchical priors add
``rf_scale`` (lag) and the standardised weights ``rf_z`` (lag, y, x) with
``rf = rf_z * rf_scale`` (non-centred). The likelihood is ``counts`` (time).
For NUTS, Laplace priors are written as a difference of exponentials (see
:func:`build_model`'s ``laplace``).

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

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from .design import Design, make_design
from .errors import SpecError
from .priors import AXES, PriorSpec, load_prior

__all__ = [
    "HYPERPARAMETERS", "LAPLACE_FORMS", "RF_PRIOR_TERMS", "VAR_DIMS", "build_model", "intercept_mu",
    "kron_contract", "model_axes", "se_factor"
]

LAPLACE_FORMS = ("direct", "exponential-difference")
WIDTH_LOG_SD = 0.75
FLOOR_BETA = 9.0
"""``rf_floor ~ Beta(1, FLOOR_BETA)``: prior mean 0.1 of the envelope floor."""
NORM_SD = 0.1
"""SD of the soft constraint ``||rf_time_z[k]|| ~ 1`` of low-rank priors (does not change the prior of ``rf``)."""
VAR_DIMS: dict[str, tuple[str, ...]] = {
    "intercept": (), "rf": ("lag", "y", "x"), "rf_z": ("lag", "y", "x"), "rf_scale": ("lag",),
    "baseline_coef": ("knot",), "baseline_level": ("knot",),
    "rf_amplitude": (), "rf_length": ("axis",), "rf_center": ("space_axis",), "rf_width": ("space_axis",), "rf_floor": (),
    "rf_time": ("component", "lag"), "rf_space": ("component", "y", "x"), "rf_time_z": ("component", "lag"),
}
"""Dims of every model variable a result may hold (rank-k priors: ``rf_amplitude`` and ``rf_z`` get a
leading ``component`` dim)."""
HYPERPARAMETERS = ("rf_scale", "rf_amplitude", "rf_length", "rf_center", "rf_width", "rf_floor")
"""Learned prior parameters (present depending on the spec)."""
RF_PRIOR_TERMS = ("rf", "rf_z", "rf_time_z", *HYPERPARAMETERS)
"""Free variables whose log-prior terms make up the RF's prior."""


def intercept_mu(spec: PriorSpec, design: Design) -> float:
    """Prior mean of the intercept: ``log(total spikes / total seconds)`` when "auto"."""
    if spec.intercept_mu != "auto":
        return float(spec.intercept_mu)
    total = max(int(design.counts.sum()), 1)
    return float(np.log(total / np.exp(design.offset).sum()))


def _standard_laplace(dims: tuple[str, ...]) -> pt.TensorVariable:
    """Laplace(0, 1) variates as ``e+ - e-`` with ``e+, e- ~ Exponential(1)`` (sampled as ``log e``)."""
    return pm.Exponential("rf_pos", 1.0, dims=dims) - pm.Exponential("rf_neg", 1.0, dims=dims)


def _weights(spec: PriorSpec, dims: tuple[str, ...], laplace: str) -> pt.TensorVariable:
    if spec.family == "flat":
        return pm.Flat("rf", dims=dims)
    if spec.structured:
        model = pm.modelcontext(None)
        return _structured(spec, tuple(len(model.coords[d]) for d in dims))
    smooth = spec.family == "laplace" and laplace == "exponential-difference"
    dist = pm.Normal if spec.family == "normal" else pm.Laplace
    if not spec.hierarchical:
        if smooth:
            return pm.Deterministic("rf", spec.scale * _standard_laplace(dims), dims=dims)
        return dist("rf", 0.0, spec.scale, dims=dims)
    scale = pm.HalfNormal("rf_scale", sigma=spec.hyper_scale, dims="lag")
    z = _standard_laplace(dims) if smooth else dist("rf_z", 0.0, 1.0, dims=dims)
    return pm.Deterministic("rf", z * scale[:, None, None], dims=dims)


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


def _structured(spec: PriorSpec, shape: tuple[int, int, int]) -> pt.TensorVariable:
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


def _intercept(spec: PriorSpec, design: Design) -> pt.TensorVariable:
    if spec.intercept_family == "flat":
        return pm.Flat("intercept")
    return pm.Normal("intercept", intercept_mu(spec, design), spec.intercept_sigma)


def _baseline(spec: PriorSpec, design: Design) -> pt.TensorVariable | float:
    if spec.baseline_kind == "constant":
        return 0.0
    basis = pm.Data("baseline_basis", design.spline_basis(spec.baseline_n_basis), dims=("time", "knot"))
    # The random walk over the spline coefficients is sampled in its levels (a local, better-conditioned
    # basis: half the leapfrog steps per draw of sampling its steps on a small simulation); the steps are
    # what the design's cumulative basis multiplies.
    # (a random walk from 0 with steps N(0, scale^2) has covariance scale^2 min(i, j); written as an
    # MvNormal because PyMC's GaussianRandomWalk trips a PyTensor rewrite in nutpie's compiled graph)
    k = np.arange(1, spec.baseline_n_basis)
    level = pm.MvNormal("baseline_level", mu=np.zeros(k.size), cov=spec.baseline_scale**2 * np.minimum.outer(k, k),
                        dims="knot")
    coef = pm.Deterministic("baseline_coef", pt.concatenate([level[:1], pt.diff(level)]), dims="knot")
    return pt.dot(basis, coef)


def log_rate(design: Design, intercept: pt.TensorVariable, rf: pt.TensorVariable) -> pt.TensorVariable:
    """Symbolic ``eta`` (n_obs,) from the frames, without a lagged design matrix.

    Frames and log durations enter as ``pm.Data`` (shared, not constants baked into
    the compiled code).
    """
    L, n = design.n_lags, design.frames.shape[0] - design.n_lags + 1
    frames = pm.Data("frames", design.frames, dims=("frame", "pixel"))
    offset = pm.Data("log_duration", design.offset, dims="time")
    per_lag = pt.dot(frames, rf.reshape((L, design.n_pixels)).T)  # (n_frame, L)
    drive = pt.sum(pt.stack([per_lag[L - 1 - lag : L - 1 - lag + n, lag] for lag in range(L)]), axis=0)
    if design.rows.size != n:  # some intervals held out of the likelihood
        drive = drive[pt.constant(design.rows)]
    return intercept + drive + offset


def build_model(
    data: xr.Dataset | Design,
    prior: str | PriorSpec = "ridge",
    lags: int = 5,
    laplace: str = "direct",
) -> pm.Model:
    """Build the PyMC model of a recording under a prior spec.

    Parameters
    ----------
    data : xarray.Dataset or Design
        A recording (see :mod:`bayesrf.data`) or a prepared design.
    prior : str or PriorSpec
        Name in ``models/``, path to a TOML file, or a loaded spec.
    lags : int, default 5
        Number of lags (ignored when ``data`` is a Design).
    laplace : {"direct", "exponential-difference"}
        How a Laplace prior is written. ``direct``: ``pm.Laplace`` (its log-density is
        what ``log_prior`` and the MAP use). ``exponential-difference``: the same
        prior as ``w = b (e+ - e-)`` with ``e+, e- ~ Exponential(1)``, sampled as
        ``log e`` — smooth, with no kink at 0 for NUTS to trip over. On the real
        neuron (lasso, b = 0.01) this cut the leapfrog steps per draw from 249 to 41
        and raised ESS/s 2.5-fold (:func:`bayesrf.sample` uses it). The posterior then also holds
        ``rf_pos`` and ``rf_neg``.

    Returns
    -------
    pymc.Model
        Coords ``lag``, ``y``, ``x``, ``time``. A pure function of its inputs.

    Examples
    --------
    >>> from bayesrf import simulate
    >>> m = build_model(simulate(n_frames=200, shape=(4, 4), lags=2), "ridge", lags=2)
    >>> sorted(v.name for v in m.free_RVs)  # the shipped ridge has a spline baseline
    ['baseline_level', 'intercept', 'rf']
    """
    if laplace not in LAPLACE_FORMS:
        raise SpecError(f"laplace must be one of {LAPLACE_FORMS}; got {laplace!r}.")
    design = data if isinstance(data, Design) else make_design(data, lags)
    spec = prior if isinstance(prior, PriorSpec) else load_prior(prior)
    coords = {
        "lag": np.arange(design.n_lags),
        "y": np.arange(design.ny),
        "x": np.arange(design.nx),
        "time": design.time,
        "frame": np.arange(design.frames.shape[0]),
        "pixel": np.arange(design.n_pixels),
        "knot": np.arange(1, spec.baseline_n_basis),
    }
    if spec.structured:
        coords |= {"axis": model_axes(spec), "space_axis": ["y", "x"], "component": np.arange(spec.rank)}
    with pm.Model(coords=coords) as model:
        intercept = _intercept(spec, design)
        rf = _weights(spec, ("lag", "y", "x"), laplace)
        eta = log_rate(design, intercept, rf) + _baseline(spec, design)
        pm.Poisson("counts", mu=pt.exp(eta), observed=design.counts, dims="time")
    return model
