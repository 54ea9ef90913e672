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

__all__ = ["SPATIAL_SHAPES", "TEMPORAL_SHAPES", "separable_rf", "simulate", "spatial_map", "temporal_profile"]


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
    seed : int or None
        Seeds a single ``numpy.random.Generator``; the same seed gives the same recording.

    Returns
    -------
    xarray.Dataset
        The recording layout plus ``rf_true`` (lag, y, x); attrs hold every setting
        and ``intercept_true = log(rate)``.

    Examples
    --------
    >>> rec = simulate(seed=0)
    >>> dict(rec.sizes), rec.rf_true.dims
    ({'time': 1000, 'y': 15, 'x': 15, 'lag': 1}, ('lag', 'y', 'x'))
    """
    _check_simulation_args(n_frames, lags, stimulus, rate, dt, jitter)
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
    counts = rng.poisson(rate * np.exp(drive) * duration)
    ds = from_counts(frames, counts, duration, source="bayesrf.simulate")
    ds["rf_true"] = xr.DataArray(w, dims=("lag", "y", "x"), attrs={"long_name": "true receptive field"})
    ds["baseline_true"] = xr.DataArray(baseline, dims="time", attrs={"long_name": "true log-rate drift"})
    ds = ds.assign_coords(lag=np.arange(lags))
    ds.attrs.update(
        spatial=spatial if rf is None else "custom", temporal=temporal if rf is None else "custom",
        stimulus=stimulus, rate=rate, dt=dt, jitter=jitter, drift=drift, rf_norm=float(np.linalg.norm(w)),
        intercept_true=float(np.log(rate)), seed=-1 if seed is None else int(seed), stim_encoding=stimulus,
    )
    return ds


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
