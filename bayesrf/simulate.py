"""Draw recordings from a known linear-nonlinear-Poisson neuron.

The model (one count per frame interval t, duration d_t in seconds)::

    c_t ~ Poisson( R * exp( sum_l w_l . s_{t-l} ) * d_t )

``R`` is the baseline rate in spikes/s (the intercept is ``log R``), ``w``
the receptive field (lag, y, x) and ``s`` zero-mean white-noise frames
(binary -1/+1 or standard Gaussian). Frames before the first one count as
zero (a grey screen); :func:`bayesrf.make_design` drops those intervals
anyway.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .data import from_counts
from .design import shift_sum
from .errors import DataError
from .nonlinearity import NONLINEARITIES, SOFTPLUS_AT_UNIT, log_rate
from .observation import LIKELIHOODS, CountModel

__all__ = [
    "RF_TYPES", "SPATIAL_SHAPES", "TEMPORAL_SHAPES", "separable_rf", "simulate", "simulate_population",
    "spatial_map", "temporal_profile", "time_course"
]


def _grid(shape: tuple[int, int], center: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    ny, nx = shape
    cy, cx = ((ny - 1) / 2, (nx - 1) / 2) if center is None else center
    yy, xx = np.meshgrid(np.arange(ny) - cy, np.arange(nx) - cx, indexing="ij")
    return yy, xx


def gaussian(shape: tuple[int, int], center: tuple[float, float] | None = None, sigma: float = 2.0) -> np.ndarray:
    """Isotropic 2-D Gaussian bump, shape ``(ny, nx)``; ``sigma`` in pixels."""
    yy, xx = _grid(shape, center)
    return np.exp(-(yy**2 + xx**2) / (2 * sigma**2))


def gabor(
    shape: tuple[int, int],
    center: tuple[float, float] | None = None,
    sigma: float = 2.5,
    wavelength: float = 6.0,
    orientation: float = 0.0,
    phase: float = 0.0,
) -> np.ndarray:
    """Gabor patch: Gaussian envelope times a cosine grating.

    ``wavelength`` in pixels, ``orientation`` in radians (0 = grating varies along x),
    ``phase`` in radians (0 = even/ON-centre).
    """
    yy, xx = _grid(shape, center)
    along = xx * np.cos(orientation) + yy * np.sin(orientation)
    return gaussian(shape, center, sigma) * np.cos(2 * np.pi * along / wavelength + phase)


def difference_of_gaussians(
    shape: tuple[int, int],
    center: tuple[float, float] | None = None,
    sigma_center: float = 1.5,
    sigma_surround: float = 3.0,
    surround_weight: float = 0.8,
) -> np.ndarray:
    """Centre-surround map: normalised centre Gaussian minus a weaker, wider surround."""
    c = gaussian(shape, center, sigma_center)
    s = gaussian(shape, center, sigma_surround)
    return c / c.sum() - surround_weight * s / s.sum()


SPATIAL_SHAPES = {"gaussian": gaussian, "gabor": gabor, "dog": difference_of_gaussians}


def spatial_map(kind: str, shape: tuple[int, int], **params: Any) -> np.ndarray:
    """A spatial RF map by name (``gaussian``, ``gabor``, ``dog``), scaled to unit L2 norm."""
    if kind not in SPATIAL_SHAPES:
        raise DataError(f"unknown spatial shape {kind!r}; choose one of {sorted(SPATIAL_SHAPES)}.")
    m = SPATIAL_SHAPES[kind](shape, **params)
    return m / np.linalg.norm(m)


def temporal_profile(kind: str, lags: int) -> np.ndarray:
    """A time course over lags ``0 .. lags-1``, unit L2 norm.

    ``"biphasic"``: zero at lag 0, positive peak at lag 1, negative lobe at
    lags 2-3 (a typical fast OFF/ON rebound, frames ~0.1-0.2 s).
    ``"monophasic"``: peak at lag 1, decaying. ``"delta"``: lag 0 only.
    """
    tau = np.arange(lags, dtype=float)
    if kind == "delta":
        v = (tau == 0).astype(float)
    elif kind == "monophasic":
        v = tau * np.exp(1 - tau)
    elif kind == "biphasic":
        v = tau * np.exp(1 - tau) - 0.2 * tau**2 * np.exp(-(tau - 2.0) / 1.5) / 2.0
    else:
        raise DataError(f"unknown temporal profile {kind!r}; choose one of {sorted(TEMPORAL_SHAPES)}.")
    if lags == 1 and kind != "delta":
        v = np.ones(1)
    return v / np.linalg.norm(v)


TEMPORAL_SHAPES = ("biphasic", "monophasic", "delta")


def separable_rf(spatial: np.ndarray, temporal: np.ndarray, norm: float = 1.0) -> np.ndarray:
    """Space-time RF ``temporal[l] * spatial[y, x]``, shape (lags, ny, nx), with L2 norm ``norm``."""
    rf = temporal[:, None, None] * spatial[None, :, :]
    return norm * rf / np.linalg.norm(rf)


def simulate(
    n_frames: int = 1000,
    shape: tuple[int, int] = (15, 15),
    lags: int = 1,
    spatial: str = "gaussian",
    temporal: str = "biphasic",
    spatial_params: dict[str, Any] | None = None,
    rf: np.ndarray | None = None,
    rf_norm: float = 1.0,
    stimulus: str = "binary",
    rate: float = 50.0,
    dt: float = 0.1,
    jitter: float = 0.0,
    drift: float = 0.0,
    likelihood: str = "poisson",
    dispersion: float | None = None,
    history: np.ndarray | None = None,
    nonlinearity: str = "exp",
    seed: int | None = 0,
) -> xr.Dataset:
    """Simulate a recording from an LNP neuron with a known RF.

    The defaults reproduce the course lab's Task 1: a 15 x 15 Gaussian RF
    with unit norm, binary checkerboard frames, dt = 0.1 s, R = 50 spikes/s,
    1000 bins, no lag.

    Parameters
    ----------
    n_frames : int
        Number of frame intervals.
    shape : (ny, nx)
        Frame grid in pixels.
    lags : int
        Number of lags of the true RF.
    spatial : {"gaussian", "gabor", "dog"}
        Spatial map (see :func:`spatial_map`); ``spatial_params`` go to it.
    temporal : {"biphasic", "monophasic", "delta"}
        Time course over lags (ignored when ``lags == 1``).
    rf : ndarray, shape (lags, ny, nx), optional
        Use this RF instead (``spatial``, ``temporal`` and ``rf_norm`` are ignored).
    rf_norm : float
        L2 norm of the RF (log-rate per unit contrast).
    stimulus : {"binary", "gaussian"}
        -1/+1 checkerboard or standard Gaussian white noise.
    rate : float
        Baseline rate R in spikes/s (> 0).
    dt : float
        Frame duration in seconds (> 0).
    jitter : float
        Relative jitter of frame durations: ``d_t = dt * (1 + jitter * U(-1, 1))``, 0 <= jitter < 1.
    drift : float
        Slow baseline drift: the log-rate changes linearly by ``drift`` from the
        first to the last frame around ``log(rate)`` (0 = constant; -0.7 halves the
        rate over the session, as in the real neuron). Stored as ``baseline_true`` (time).
    likelihood : {"poisson", "negative-binomial", "com-poisson"}
        Count distribution at location ``rate exp(drive) d_t`` (:mod:`bayesrf.observation`).
    dispersion : float, optional
        Its dispersion, required unless Poisson: the negative binomial's ``phi`` (``Var = mu + phi mu^2``)
        or the COM-Poisson's ``nu`` (> 1 underdispersed). Stored as attr ``dispersion_true``.
    history : array of float, shape (k,), optional
        Spike-history filter: the log-rate of interval ``t`` adds ``sum_j history[j] c_{t-1-j}`` (log-rate per
        spike; negative values make the neuron refractory). Counts are then drawn one interval at a time.
        Stored as ``history_true`` (history_lag).
    nonlinearity : {"exp", "softplus"}
        The rate: ``rate exp(drive)`` or ``rate softplus(log(e - 1) + drive)`` (:mod:`bayesrf.nonlinearity`: the
        softplus with rate unit ``rate``, equal to ``rate`` at zero drive, rectifying strong negative drive), the
        drive being the RF's plus the drift. ``intercept_true`` is then ``log(e - 1)``. Not with ``history``.
    seed : int or None
        Seeds a single ``numpy.random.Generator``; the same seed gives the same recording.

    Returns
    -------
    xarray.Dataset
        The recording layout plus ``rf_true`` (lag, y, x); attrs hold every setting
        and ``intercept_true = log(rate)`` (exp).

    Examples
    --------
    >>> rec = simulate(seed=0)
    >>> dict(rec.sizes), rec.rf_true.dims
    ({'time': 1000, 'y': 15, 'x': 15, 'lag': 1}, ('lag', 'y', 'x'))
    """
    _check_simulation_args(n_frames, lags, stimulus, rate, dt, jitter)
    if nonlinearity not in NONLINEARITIES or (nonlinearity != "exp" and history is not None):
        raise DataError(f"nonlinearity must be one of {NONLINEARITIES}, and 'exp' with a spike history (the "
                        f"simulator draws history through the exp only); got {nonlinearity!r}.")
    counts_model = _counts_model(likelihood, dispersion)
    rng = np.random.default_rng(seed)
    if rf is None:
        smap = spatial_map(spatial, shape, **(spatial_params or {}))
        w = separable_rf(smap, temporal_profile(temporal, lags), rf_norm)
    else:
        w = np.asarray(rf, dtype=float)
        if w.shape != (lags, *shape):
            raise DataError(f"rf must have shape (lags, ny, nx) = {(lags, *shape)}; got {w.shape}.")
    frames = (
        rng.choice(np.array([-1.0, 1.0]), size=(n_frames, *shape))
        if stimulus == "binary"
        else rng.standard_normal((n_frames, *shape))
    )
    duration = dt * (1.0 + jitter * rng.uniform(-1.0, 1.0, n_frames))
    per_lag = frames.reshape(n_frames, -1) @ w.reshape(lags, -1).T  # (time, lag)
    padded = np.vstack([np.zeros((lags - 1, lags)), per_lag])  # grey frames before the first one
    baseline = drift * (np.linspace(0.0, 1.0, n_frames) - 0.5)
    drive = baseline + shift_sum(padded, lags)
    rates = rate * np.exp(drive) if nonlinearity == "exp" else np.exp(log_rate(SOFTPLUS_AT_UNIT + drive, nonlinearity, rate))
    counts = _draw(counts_model, rates * duration, history, rng)
    ds = from_counts(frames, counts, duration, source="bayesrf.simulate")
    ds["rf_true"] = xr.DataArray(w, dims=("lag", "y", "x"), attrs={"long_name": "true receptive field"})
    ds["baseline_true"] = xr.DataArray(baseline, dims="time", attrs={"long_name": "true log-rate drift"})
    if history is not None:
        ds["history_true"] = xr.DataArray(np.asarray(history, dtype=float), dims="history_lag",
                                          coords={"history_lag": np.arange(1, len(history) + 1)},
                                          attrs={"long_name": "true spike-history filter", "units": "log-rate per spike"})
    ds = ds.assign_coords(lag=np.arange(lags))
    ds.attrs.update(
        spatial=spatial if rf is None else "custom", temporal=temporal if rf is None else "custom",
        stimulus=stimulus, rate=rate, dt=dt, jitter=jitter, drift=drift, rf_norm=float(np.linalg.norm(w)),
        intercept_true=float(np.log(rate)) if nonlinearity == "exp" else SOFTPLUS_AT_UNIT, nonlinearity=nonlinearity,
        seed=-1 if seed is None else int(seed), stim_encoding=stimulus,
        likelihood=likelihood, dispersion_true=np.nan if dispersion is None else float(dispersion),
    )
    return ds


def _draw(counts_model: CountModel, loc: np.ndarray, history: np.ndarray | None,
          rng: np.random.Generator) -> np.ndarray:
    """Counts at locations ``loc`` (time,), one interval at a time when the rate depends on past counts."""
    if history is None:
        return counts_model.draw(loc[None], rng)[0]
    h = np.asarray(history, dtype=float)
    counts = np.zeros(loc.size, dtype=np.int64)
    for t in range(loc.size):
        past = counts[max(0, t - h.size) : t][::-1]  # c_{t-1}, c_{t-2}, ...
        counts[t] = counts_model.draw(np.array([[loc[t] * np.exp(h[: past.size] @ past)]]), rng)[0, 0]
    return counts


def _counts_model(likelihood: str, dispersion: float | None) -> CountModel:
    if likelihood not in LIKELIHOODS:
        raise DataError(f"likelihood must be one of {LIKELIHOODS}; got {likelihood!r}.")
    if likelihood == "poisson":
        if dispersion is not None:
            raise DataError("Poisson counts have no dispersion: leave dispersion=None or pick another likelihood.")
        return CountModel("poisson")
    if dispersion is None or not dispersion > 0:
        raise DataError(f"likelihood {likelihood!r} needs a dispersion > 0 (phi for the negative binomial, nu for "
                        f"the COM-Poisson); got {dispersion!r}.")
    return CountModel(likelihood, np.array([[float(dispersion)]]))


def _check_simulation_args(n_frames: int, lags: int, stimulus: str, rate: float, dt: float, jitter: float) -> None:
    problems = []
    if n_frames < 1:
        problems.append(f"n_frames must be >= 1 (got {n_frames})")
    if lags < 1:
        problems.append(f"lags must be >= 1 (got {lags})")
    if stimulus not in ("binary", "gaussian"):
        problems.append(f"stimulus must be 'binary' or 'gaussian' (got {stimulus!r})")
    if not rate > 0:
        problems.append(f"rate must be > 0 spikes/s (got {rate})")
    if not dt > 0:
        problems.append(f"dt must be > 0 s (got {dt})")
    if not 0 <= jitter < 1:
        problems.append(f"jitter must be in [0, 1) (got {jitter})")
    if problems:
        raise DataError("invalid simulation settings: " + "; ".join(problems) + ".")


RF_TYPES = ("on-center", "off-center", "gabor", "inseparable")
"""Kinds of RF :func:`simulate_population` draws (plus ``"none"`` for units without one)."""


def time_course(lags: int, latency: int, biphasic: float) -> np.ndarray:
    """A time course over lags, unit L2 norm: a peak at lag ``latency + 1`` followed by a
    negative lobe of relative size ``biphasic`` (0 = monophasic); zero before ``latency``."""
    tau = np.arange(lags, dtype=float) - latency
    up = np.where(tau >= 0, tau * np.exp(1 - tau), 0.0)
    down = np.where(tau >= 0, (tau / 2.5) ** 2 * np.exp(2 - 4 * tau / 5), 0.0)
    v = up - biphasic * down
    return v / np.linalg.norm(v) if np.any(v) else np.eye(lags)[min(latency, lags - 1)]


def _unit_rf(kind: str, shape: tuple[int, int], lags: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """One unit's true RF (lags, ny, nx), unit norm, and its parameters."""
    ny, nx = shape
    center = (rng.uniform(0.2, 0.8) * (ny - 1), rng.uniform(0.2, 0.8) * (nx - 1))
    size = rng.uniform(1.0, 2.2)
    latency, biphasic = int(rng.integers(0, max(1, lags - 3))), rng.uniform(0.0, 0.8)
    params = {"center_y": center[0], "center_x": center[1], "size": size, "latency": latency, "biphasic": biphasic,
              "orientation": np.nan}
    course = time_course(lags, latency, biphasic)
    if kind in ("on-center", "off-center"):
        sign = 1.0 if kind == "on-center" else -1.0
        rf = separable_rf(sign * spatial_map("dog", shape, center=center, sigma_center=size, sigma_surround=2 * size), course)
    else:
        params["orientation"] = float(rng.choice([0.0, 45.0, 90.0, 135.0]))
        phase0, wavelength = rng.uniform(0, 2 * np.pi), 4.0 * size
        drift = np.pi / 3 if kind == "inseparable" else 0.0  # the grating's phase moves by 60 degrees per lag
        rf = np.stack([c * gabor(shape, center, size, wavelength, np.radians(params["orientation"]), phase0 + drift * lag)
                       for lag, c in enumerate(course)])
        rf /= np.linalg.norm(rf)
    return rf, params


def simulate_population(
    n_units: int = 20,
    n_frames: int = 3000,
    shape: tuple[int, int] = (15, 20),
    lags: int = 5,
    no_rf: float = 0.2,
    rate: tuple[float, float] = (1.0, 30.0),
    rf_norm: tuple[float, float] = (0.8, 1.4),
    dt: float = 0.05,
    stimulus: str = "binary",
    seed: int | None = 0,
    likelihood: str = "poisson",
    dispersion: float | None = None,
) -> xr.Dataset:
    """Simulate a population of LNP units shown one white-noise stimulus, with known truth per unit.

    Units differ in RF type (ON/OFF centre-surround, Gabor at 0/45/90/135 degrees, and
    direction-selective Gabors whose phase drifts over lags, so space-time inseparable),
    position, size, latency, biphasic shape and firing rate; a share ``no_rf`` has no RF.

    Parameters
    ----------
    n_units : int
        Number of units.
    n_frames : int
        Number of frame intervals.
    shape : (ny, nx)
        Frame grid in pixels.
    lags : int
        Lags of the true RFs.
    no_rf : float
        Expected share of units without an RF, in [0, 1].
    rate : (low, high)
        Baseline rates are log-uniform in this range (spikes/s).
    rf_norm : (low, high)
        RF L2 norms (log-rate per unit contrast) are uniform in this range.
    dt : float
        Frame duration (s).
    stimulus : {"binary", "gaussian"}
        White-noise frames.
    seed : int or None
        Seed of one ``numpy.random.Generator``.
    likelihood, dispersion
        Count distribution of every unit, as for :func:`simulate` (default Poisson).

    Returns
    -------
    xarray.Dataset
        The population layout (:mod:`bayesrf.population`) plus ``rf_true`` (unit, lag, y, x);
        the per-unit truth (``rf_type``, ``has_rf``, ``rate_hz``, ``center_y``, ``center_x``,
        ``size``, ``latency``, ``biphasic``, ``orientation``) as coordinates on ``unit``.

    Examples
    --------
    >>> pop = simulate_population(n_units=4, n_frames=200, shape=(6, 8), lags=3, seed=1)
    >>> dict(pop.counts.sizes), pop.rf_true.dims
    ({'unit': 4, 'time': 200}, ('unit', 'lag', 'y', 'x'))
    """
    from .population import assemble_population

    _check_simulation_args(n_frames, lags, stimulus, rate[0], dt, 0.0)
    counts_model = _counts_model(likelihood, dispersion)
    if not 0 <= no_rf <= 1 or n_units < 1:
        raise DataError(f"need n_units >= 1 and 0 <= no_rf <= 1; got n_units={n_units}, no_rf={no_rf}.")
    rng = np.random.default_rng(seed)
    frames = (rng.choice(np.array([-1.0, 1.0]), size=(n_frames, *shape)) if stimulus == "binary"
              else rng.standard_normal((n_frames, *shape)))
    kinds = np.where(rng.uniform(size=n_units) < no_rf, "none", rng.choice(RF_TYPES, size=n_units))
    truth: dict[str, list[Any]] = {"rf_type": list(kinds), "has_rf": list(kinds != "none")}
    rfs, spikes = np.zeros((n_units, lags, *shape)), {}
    edges = np.arange(n_frames + 1) * dt
    for i, kind in enumerate(kinds):
        params = {"center_y": np.nan, "center_x": np.nan, "size": np.nan, "latency": -1, "biphasic": np.nan,
                  "orientation": np.nan}
        if kind != "none":
            rf, params = _unit_rf(str(kind), shape, lags, rng)
            rfs[i] = rng.uniform(*rf_norm) * rf
        params["rate_hz"] = unit_rate = float(np.exp(rng.uniform(np.log(rate[0]), np.log(rate[1]))))
        for key, value in params.items():
            truth.setdefault(key, []).append(value)
        per_lag = frames.reshape(n_frames, -1) @ rfs[i].reshape(lags, -1).T
        drive = shift_sum(np.vstack([np.zeros((lags - 1, lags)), per_lag]), lags)
        counts = _draw(counts_model, unit_rate * np.exp(drive) * dt, None, rng)
        interval = np.repeat(np.arange(n_frames), counts)  # spikes are spread uniformly inside each interval
        spikes[i] = np.sort(edges[interval] + rng.uniform(0.0, dt, interval.size))
    columns = {key: np.asarray(values) for key, values in truth.items()} | {"rf_true": rfs}
    attrs = {"source": "bayesrf.simulate_population", "stim_encoding": stimulus, "n_frames_unshown": 0,
             "seed": -1 if seed is None else int(seed), "dt": dt, "stimulus": stimulus, "likelihood": likelihood}
    if dispersion is not None:
        attrs["dispersion"] = float(dispersion)
    return assemble_population(spikes, edges, frames, columns, attrs)
