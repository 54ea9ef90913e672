"""Prior spec + recording -> PyMC model of the LNP neuron.

The log expected count of interval ``t`` is::

    eta_t = intercept + sum_l rf[l] . s_{t-l} + log(duration_t)

computed as one matrix product of the (n_time, n_pixels) frames with the
(n_pixels, n_lags) weights followed by a sum of ``n_lags`` shifted columns —
the T x (lags * pixels) design matrix is never formed. That is the exp nonlinearity (the default); with
``[likelihood] nonlinearity = "softplus"`` the log expected count is
``log(u softplus(intercept + drive + baseline + history)) + log(duration_t)``, ``u`` the rate unit
(``pm.Data`` ``log_rate_unit``; :mod:`bayesrf.nonlinearity`).

With ``[baseline] kind = "spline"`` a slow drift ``Z_t . baseline_coef`` is
added (see :meth:`bayesrf.design.Design.spline_basis`); it is not part of the RF. With ``kind = "steps"`` the
drift is piecewise constant over ``n_basis`` equal segments of the session (:func:`bayesrf.design.step_basis`),
and its jumps ``baseline_coef`` are Student-t (:data:`bayesrf.priors.BASELINE_STEP_NU` degrees of freedom,
scale ``[baseline] scale``): an abrupt change of the rate is followed, not smoothed over.

Variables (dims): ``intercept`` (), ``rf`` (lag, y, x); for a spline or steps baseline
``baseline_level`` (knot), the random walk over the spline coefficients or segment levels (relative
to the first), and its steps ``baseline_coef`` (knot), which multiply the
cumulative basis of :meth:`bayesrf.design.Design.baseline_basis`; hierarchical priors add
``rf_scale`` (lag) and the standardised weights ``rf_z`` (lag, y, x) with
``rf = rf_z * rf_scale`` (non-centred). The likelihood is ``counts`` (time): Poisson, negative binomial with its
overdispersion ``count_overdispersion``, or COM-Poisson with its ``count_nu`` (the spec's ``[likelihood]``,
:mod:`bayesrf.observation`).
For NUTS, Laplace priors are written as a difference of exponentials (see
:func:`build_model`'s ``laplace``).

The counts (``observed_counts``) and the intercept's prior mean (``intercept_mu``) are ``pm.Data``, shared like the
frames, so one compiled model serves every unit shown the same stimulus (:func:`bayesrf.nuts.compile_nutpie`).

With ``[history] lags = k`` the log-rate adds a spike-history filter ``sum_j history[j] c_{t-j}`` over the
counts of the ``k`` intervals before (``count_history`` (time, history_lag), 0 before the recording starts;
``history`` (history_lag) ~ Normal(0, ``[history] scale``), log-rate per spike; Pillow et al. 2008). With
``[history] n_basis = m`` the filter is ``history = B @ history_coef`` (a Deterministic), ``B`` the (k, m)
raised cosines in log time of :func:`bayesrf.design.raised_cosine_basis` and ``history_coef`` (history_basis)
~ Normal(0, ``[history] scale``, default :data:`bayesrf.priors.HISTORY_BASIS_SCALE`): a long filter (many fine
intervals) with few weights.

Structured (``family = "gp"``) priors are described in :mod:`bayesrf.structured`.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import xarray as xr

from .bitpacked import BITPACKED_MAX_COLUMNS, FramesProduct, levels, pack
from .design import Design, make_design, raised_cosine_basis, shift_sum
from .errors import SpecError
from .families import family_of
from .nonlinearity import SOFTPLUS_AT_UNIT, from_exp_link, log_rate_symbolic
from .observation import DISPERSIONS, pymc_counts
from .priors import BASELINE_STEP_NU, PriorSpec, load_prior
from .structured import STRUCTURED_HYPERPARAMETERS, flat_whitened

if TYPE_CHECKING:
    from .structured import Coordinates

__all__ = ["HYPERPARAMETERS", "LAPLACE_FORMS", "RF_PRIOR_TERMS", "SINGLE_PRECISION_BYTES", "SINGLE_PRECISION_WEIGHTS",
           "VAR_DIMS", "bitpacked_levels", "build_model", "frames_form", "intercept_mu", "large_model",
           "linear_predictor", "link_start", "mean_rate", "model_frames", "rate_unit", "set_baseline_start"]

LAPLACE_FORMS = ("direct", "exponential-difference", "scale-mixture")

# One seed, one set of draws: with numba's fastmath (PyTensor's default), a model's code compiled afresh and the same
# code read back from PyTensor's on-disk cache round differently, so a machine whose cache was cold (a new install, a
# fresh cluster worker) gave other draws than one whose cache was warm. bayesrf compiles without it; this changes
# PyTensor's setting for the whole process (``docs/fastmath.json``, ``benchmarks/bench_fastmath.py``).
pytensor.config.numba__fastmath = False

SINGLE_PRECISION_WEIGHTS = 2_000
"""From this many RF weights on, frames that float32 holds exactly enter the model in float32
(:meth:`bayesrf.design.Design.single_precision`): the frame products, most of a gradient's cost, move half the
memory; the drive is cast back to float64 before the likelihood (relative error ~1e-6 in the drive)."""

SINGLE_PRECISION_BYTES = 2**26
"""From this many bytes of frames in float64 on (64 MiB: 84,000 frames of 10 x 10 px), frames that float32 holds
exactly enter the model in float32 at any number of weights, as from :data:`SINGLE_PRECISION_WEIGHTS` on: long
recordings of small stimuli. At 100,000 frames x 100 px (80 MB) one log-density and gradient was 1.86x (rank1)
and 2.44x (smooth) faster in float32 (``docs/frames_memory.json``), and each chain holds half the memory."""

VAR_DIMS: dict[str, tuple[str, ...]] = {
    "intercept": (), "rf": ("lag", "y", "x"), "rf_z": ("lag", "y", "x"), "rf_scale": ("lag",),
    "rf_global": (), "rf_slab": (), "rf_local": ("lag", "y", "x"),
    "baseline_coef": ("knot",), "baseline_level": ("knot",),
    "rf_amplitude": (), "rf_length": ("axis",), "rf_center": ("space_axis",), "rf_width": ("space_axis",), "rf_floor": (),
    "history": ("history_lag",), "history_coef": ("history_basis",),
    "rf_time": ("component", "lag"), "rf_space": ("component", "y", "x"), "rf_time_z": ("component", "lag"),
    **{name: () for name in DISPERSIONS.values()},
}
"""Dims of every model variable a result may hold (rank-k priors: ``rf_amplitude`` and ``rf_z`` get a
leading ``component`` dim)."""
HYPERPARAMETERS = ("rf_scale", "rf_global", "rf_slab", *STRUCTURED_HYPERPARAMETERS)
"""Learned prior parameters of few values (present depending on the spec; not a horseshoe's ``rf_local``, one per
weight)."""
RF_PRIOR_TERMS = ("rf", "rf_z", "rf_time_z", "rf_local", *HYPERPARAMETERS)
"""Free variables whose log-prior terms make up the RF's prior."""


def mean_rate(design: Design) -> float:
    """The fitted intervals' mean rate, total spikes (at least 1) / total seconds (spikes/s)."""
    return max(int(design.counts.sum()), 1) / float(np.exp(design.offset).sum())


def intercept_mu(spec: PriorSpec, design: Design) -> float:
    """Prior mean of the intercept: when "auto", ``log`` of the :func:`mean_rate` (exp nonlinearity) or
    :data:`bayesrf.nonlinearity.SOFTPLUS_AT_UNIT` (softplus: the rate unit is the mean rate)."""
    if spec.intercept_mu != "auto":
        return float(spec.intercept_mu)
    return SOFTPLUS_AT_UNIT if spec.nonlinearity == "softplus" else float(np.log(mean_rate(design)))


def rate_unit(spec: PriorSpec, design: Design) -> float:
    """The softplus' rate unit (spikes/s): the spec's ``[likelihood] rate_unit``, or the :func:`mean_rate`."""
    return mean_rate(design) if spec.rate_unit == "auto" else float(spec.rate_unit)


def link_start(spec: PriorSpec, design: Design, intercept: float,
               slopes: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """A start for the spec's nonlinearity from an exp-link fit's intercept and log-rate slopes (RF weights,
    baseline): unchanged for exp, :func:`bayesrf.nonlinearity.from_exp_link` for the softplus."""
    if spec.nonlinearity == "exp":
        return intercept, slopes
    return from_exp_link(intercept, rate_unit(spec, design), slopes)


def set_baseline_start(start: dict[str, np.ndarray], levels: np.ndarray | None) -> dict[str, np.ndarray]:
    """Set the baseline's value variable of a model's ``start`` from the random walk's ``levels`` (knot): the
    levels themselves (spline) or their jumps ``baseline_coef`` (steps); unchanged for a constant baseline."""
    if "baseline_level" in start:
        start["baseline_level"] = np.asarray(levels, dtype=float)
    elif "baseline_coef" in start:
        start["baseline_coef"] = np.diff(levels, prepend=0.0)
    return start


def _intercept(spec: PriorSpec, design: Design) -> pt.TensorVariable:
    if spec.intercept_family == "flat":
        return pm.Flat("intercept")
    return pm.Normal("intercept", pm.Data("intercept_mu", intercept_mu(spec, design)), spec.intercept_sigma)


def _baseline(spec: PriorSpec, design: Design, whitening: tuple[np.ndarray, np.ndarray] | None = None
              ) -> pt.TensorVariable | float:
    """The baseline's log-rate (time,); a spline's levels sampled whitened with ``whitening``
    (:class:`bayesrf.structured.Coordinates`' ``baseline``), the same prior."""
    if spec.baseline_kind == "constant":
        return 0.0
    basis = pm.Data("baseline_basis", design.baseline_basis(spec.baseline_kind, spec.baseline_n_basis),
                    dims=("time", "knot"))
    if spec.baseline_kind == "steps":
        coef = pm.StudentT("baseline_coef", nu=BASELINE_STEP_NU, mu=0.0, sigma=spec.baseline_scale, dims="knot")
        pm.Deterministic("baseline_level", pt.cumsum(coef), dims="knot")
        return pt.dot(basis, coef)
    # The random walk over the spline coefficients is sampled in its levels (a local, better-conditioned
    # basis: half the leapfrog steps per draw of sampling its steps on a small simulation); the steps are
    # what the design's cumulative basis multiplies.
    # (a random walk from 0 with steps N(0, scale^2) has covariance scale^2 min(i, j); written as an
    # MvNormal because PyMC's GaussianRandomWalk trips a PyTensor rewrite in nutpie's compiled graph)
    k = np.arange(1, spec.baseline_n_basis)
    walk = {"mu": np.zeros(k.size), "cov": spec.baseline_scale**2 * np.minimum.outer(k, k)}
    if whitening is None:
        level = pm.MvNormal("baseline_level", **walk, dims="knot")
    else:  # a shift and a fixed linear map of baseline_white, with the levels' prior as a potential
        mean, factor = (pm.Data(f"baseline_{name}", value) for name, value in zip(("mean", "factor"), whitening,
                                                                                   strict=True))
        level = pm.Deterministic("baseline_level", flat_whitened(
            "baseline_white", mean, factor, lambda x: pm.logp(pm.MvNormal.dist(**walk), x), "baseline_prior",
            dims="knot"), dims="knot")
    coef = pm.Deterministic("baseline_coef", pt.concatenate([level[:1], pt.diff(level)]), dims="knot")
    return pt.dot(basis, coef)


def _history(spec: PriorSpec, design: Design) -> pt.TensorVariable | float:
    """Spike history: ``sum_j history[j] c_{t-1-j}`` over the spec's ``[history] lags`` (0: none); with
    ``[history] n_basis`` the filter is ``raised_cosine_basis @ history_coef``."""
    if not spec.history_lags:
        return 0.0
    if spec.history_lags >= design.n_obs:
        raise SpecError(f"history.lags = {spec.history_lags} reaches the {design.n_obs} fitted intervals: a filter "
                        "that long cannot be learned from this recording; use fewer lags (with history.n_basis "
                        "raised cosines for a long filter).")
    past = pm.Data("count_history", design.count_history(spec.history_lags), dims=("time", "history_lag"))
    if spec.history_basis:
        coef = pm.Normal("history_coef", 0.0, spec.history_sd, dims="history_basis")
        basis = raised_cosine_basis(spec.history_lags, spec.history_basis)
        history = pm.Deterministic("history", pt.dot(basis, coef), dims="history_lag")
    else:
        history = pm.Normal("history", 0.0, spec.history_sd, dims="history_lag")
    return pt.dot(past, history)


def large_model(n_weights: int, n_frame_values: int) -> bool:
    """Whether a model of ``n_weights`` RF weights on ``n_frame_values`` frame values (n_time x n_pixels) is large
    enough to take its frames in float32 (:func:`model_frames`): :data:`SINGLE_PRECISION_WEIGHTS` weights or
    :data:`SINGLE_PRECISION_BYTES` bytes of float64 frames on."""
    return n_weights >= SINGLE_PRECISION_WEIGHTS or n_frame_values * 8 >= SINGLE_PRECISION_BYTES


def model_frames(design: Design) -> np.ndarray:
    """The frames (n_time, n_pixels) a model of ``design`` computes with: in float32 when float32 holds them exactly
    and the model is large (:func:`large_model`), else as they are (float64)."""
    return design.single_precision().frames if large_model(design.n_weights, design.frames.size) else design.frames


def bitpacked_levels(design: Design, spec: PriorSpec) -> tuple[float, float] | None:
    """The two values of ``design``'s frames when a model under ``spec`` takes them bit-packed
    (:mod:`bayesrf.bitpacked`): its product with the frames has at most :data:`bayesrf.bitpacked.BITPACKED_MAX_COLUMNS`
    columns (a rank-1 RF's spatial map), the model is large (:func:`large_model`) and the frames take two values.
    Else None."""
    if not (0 < spec.rank <= BITPACKED_MAX_COLUMNS and large_model(design.n_weights, design.frames.size)):
        return None
    return levels(design.frames)


def frames_form(design: Design, spec: PriorSpec) -> str:
    """How a model of ``design`` under ``spec`` takes its frames: ``"bits <low> <high>"`` (:func:`bitpacked_levels`)
    or the dtype of :func:`model_frames`. Part of a compiled model's key (:func:`bayesrf.nuts.model_key`): the two
    values are compiled into the bit-packed product."""
    two = bitpacked_levels(design, spec)
    return str(model_frames(design).dtype) if two is None else f"bits {two[0]!r} {two[1]!r}"


def _frames_data(values: np.ndarray, dims: tuple[str, str] | None) -> pt.TensorVariable:
    """``values`` as the model's data variable ``frames`` (what ``pm.Data`` makes, without its cast of float32 and
    uint8 to float64)."""
    frames = pytensor.shared(values, "frames")
    pm.modelcontext(None).register_data_var(frames, dims=dims)
    return frames


def linear_predictor(design: Design, intercept: pt.TensorVariable, rf: pt.TensorVariable,
                     factors: tuple[pt.TensorVariable, pt.TensorVariable] | None = None,
                     bitpacked: tuple[float, float] | None = None) -> pt.TensorVariable:
    """Symbolic intercept plus drive (n_obs,) from the frames, without a lagged design matrix (the baseline,
    history, nonlinearity and log duration are added by :func:`build_model`).

    Frames enter as model data (shared, not constants baked into
    the compiled code), in float32 for a large model (:func:`model_frames`).
    With ``factors = (time, space)`` of a rank-k RF (``rf[l] = sum_k time[k, l] space[k]``; shapes
    (k, n_lags) and (k, ny, nx)) the frames are contracted with the spatial maps first
    (``frames @ space.T``, n_frames x pixels x k) and then with the time courses, instead of with
    every lag's weights (n_frames x pixels x n_lags): the same drive, ``n_lags / k`` times fewer products.
    With ``bitpacked = (low, high)`` (:func:`bitpacked_levels`, so far for a rank-1 RF) the product with the frames
    is :class:`bayesrf.bitpacked.FramesProduct` of their bits (data variable ``frames``: uint8, (ceil(n_pixels / 8),
    n_frames)), in float64.
    """
    L, n = design.n_lags, design.frames.shape[0] - design.n_lags + 1
    if bitpacked is None:
        frames = _frames_data(model_frames(design), ("frame", "pixel"))

        def by_frames(matrix: pt.TensorVariable) -> pt.TensorVariable:
            return pt.dot(frames, matrix.astype(frames.dtype)).astype("float64")
    else:
        bits = _frames_data(pack(design.frames, bitpacked[1]), None)
        by_frames = partial(FramesProduct(design.n_pixels, *bitpacked), bits)
    if factors is None:
        per_lag = by_frames(rf.reshape((L, design.n_pixels)).T)
    else:
        time, space = factors
        per_lag = pt.dot(by_frames(space.reshape((space.shape[0], design.n_pixels)).T), time)
    drive = shift_sum(per_lag, L)  # the numpy forward model's sum
    if design.rows.size != n:  # some intervals held out of the likelihood
        drive = drive[pt.constant(design.rows)]
    return intercept + drive


def build_model(
    data: xr.Dataset | Design,
    prior: str | PriorSpec = "ridge",
    lags: int = 5,
    laplace: str = "direct",
    with_rf: bool = True,
    coordinates: Coordinates | None = None,
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
    laplace : {"direct", "exponential-difference", "scale-mixture"}
        How a Laplace (or horseshoe) prior is written. ``direct``: ``pm.Laplace`` (its log-density is
        what ``log_prior`` and the MAP use). ``exponential-difference``: the same
        prior as ``w = b (e+ - e-)`` with ``e+, e- ~ Exponential(1)``, sampled as
        ``log e`` — smooth, with no kink at 0 for NUTS to trip over. On the real
        neuron (lasso, b = 0.01) this cut the leapfrog steps per draw from 249 to 41
        and raised ESS/s 2.5-fold (:func:`bayesrf.sample` uses it). The posterior then also holds
        ``rf_pos`` and ``rf_neg``. ``scale-mixture``: a horseshoe's half-Cauchy scales as HalfNormal x
        sqrt(InverseGamma) products, for NUTS (:class:`bayesrf.families.Horseshoe`); other priors as ``direct``.
    with_rf : bool, default True
        False: the baseline-only model, the spec's intercept, baseline, spike history and count
        distribution without an RF (the null model of a unit's evidence of an RF).
    coordinates : Coordinates, optional
        The sampler's coordinates of the weights (:meth:`bayesrf.families.Family.recentre`; ``gp`` priors:
        :class:`bayesrf.structured.Coordinates`, partially centred and sheared, a spline baseline whitened). The
        prior is the same.

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
        "history_lag": np.arange(1, spec.history_lags + 1),
        "history_basis": np.arange(spec.history_basis),
    }
    family = family_of(spec)
    coords |= family.coords(spec)
    whitening = None if coordinates is None else coordinates.baseline
    with pm.Model(coords=coords) as model:
        intercept = _intercept(spec, design)
        eta = intercept
        if with_rf:
            rf = family.weights(spec, ("lag", "y", "x"), laplace, coordinates)
            eta = linear_predictor(design, intercept, rf, family.factors(spec), bitpacked_levels(design, spec))
        log_duration = pm.Data("log_duration", design.offset, dims="time")
        if spec.nonlinearity == "exp":  # the sums in the order of earlier releases (same floating-point results)
            log_loc = eta + log_duration + _baseline(spec, design, whitening) + _history(spec, design)
        else:
            log_unit = pm.Data("log_rate_unit", np.log(rate_unit(spec, design)))
            eta = eta + _baseline(spec, design, whitening) + _history(spec, design)
            log_loc = log_rate_symbolic(eta, spec.nonlinearity, log_unit) + log_duration
        pymc_counts(spec.likelihood, spec.dispersion_scale, log_loc,
                    pm.Data("observed_counts", design.counts, dims="time"), limit=float(design.counts.max(initial=0)))
    return model
