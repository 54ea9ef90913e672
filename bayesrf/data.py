"""Build and validate recordings (files are read and written by :mod:`bayesrf.recording_io`).

A *recording* is an :class:`xarray.Dataset` with

``stim``      (time, y, x) float64
    The stimulus frame shown during each frame interval; binary frames are
    centred to -1/+1.
``counts``    (time,) int64
    Number of spikes in each frame interval.
``duration``  (time,) float64, seconds
    How long each frame was on screen (differences of the trigger times).

The ``time`` coordinate is the onset of each frame in seconds; ``y`` and
``x`` are pixel indices.  Attributes record the source file, its sha256, and
everything that was dropped on the way (spikes outside the trigger range,
stored frames that were never fully shown).

Frame ``k`` is on screen from trigger ``k`` to trigger ``k + 1``; the spikes
in that interval are ``counts[k]``.  The lag convention built on this is in
:mod:`bayesrf.design`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from .errors import BayesRFWarning, DataError

__all__ = [
    "bin_spikes", "check_counts", "check_layout", "check_spike_times", "frame_intervals", "from_counts",
    "recording_from_arrays", "validate_recording"
]

CONTRAST_TOLERANCE = 0.1
"""Real-valued frames count as contrast when |mean| <= 0.1 SD and |SD - 1| <= 0.1."""


def _as_1d_finite(name: str, values: Any) -> np.ndarray:
    """Return ``values`` as a 1-D float array, refusing NaN/inf and 2-D input."""
    arr = np.asarray(values)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)  # MATLAB column/row vectors: no data is lost
    if arr.ndim != 1:
        raise DataError(f"{name} must be a 1-D array of times in seconds; got shape {arr.shape}.")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise DataError(f"{name} must be real numbers; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(
            f"{name} contains {bad.sum()} NaN/inf value(s) (first at index {np.flatnonzero(bad)[0]}); "
            "remove or repair them before building a recording."
        )
    return arr


def _check_strictly_increasing(name: str, times: np.ndarray, allow_ties: bool) -> None:
    steps = np.diff(times)
    bad = steps < 0 if allow_ties else steps <= 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "unsorted" if steps[i] < 0 else "duplicate"
        raise DataError(
            f"{name} must be sorted in increasing order{'' if allow_ties else ' without duplicates'}; "
            f"found {what} values at index {i}, {i + 1} ({times[i]!r}, {times[i + 1]!r}). "
            "Sort them (np.sort) or remove duplicated triggers."
        )


def _center_frames(frames: np.ndarray) -> tuple[np.ndarray, str]:
    """Frames in units of contrast, which the priors' scales are per unit of.

    Binary 0/1 frames are mapped to -1/+1. Frames already in contrast units are kept:
    values in [-1, 1] with a largest magnitude of 1 (binary ±1, ternary sparse noise), or
    zero-mean, unit-SD frames (Gaussian white noise). Anything else (0-255 images, noise of
    another mean or SD) is standardised to zero mean and unit SD over all frames and pixels,
    with a :class:`~bayesrf.BayesRFWarning` that gives the mean and SD used.

    Frames that are binary except for a few pixels (< 1 %) are refused: that is
    what a corrupted binary stimulus looks like, and treating it as real-valued
    would silently change every frame's scale.
    """
    binary = np.isin(frames, (0, 1))
    if binary.all():
        centred = frames.astype(np.float64)  # in place from here: one stimulus-sized allocation, not three
        centred *= 2.0
        centred -= 1.0
        return centred, "binary 0/1 mapped to -1/+1 (2*s - 1)"
    n_odd = int((~binary).sum())
    if n_odd < 0.01 * frames.size:
        first = np.unravel_index(int(np.flatnonzero(~binary)[0]), frames.shape)
        raise DataError(
            f"the frames are binary 0/1 except for {n_odd} pixel value(s) (first: {frames[first]!r} at frame "
            f"{first[0]}, y {first[1]}, x {first[2]}); the stimulus file looks corrupted."
        )
    values = frames.astype(np.float64)
    mean, sd = float(values.mean()), float(values.std())
    peak = float(np.abs(values).max())
    if peak == 1.0 or (abs(mean) <= CONTRAST_TOLERANCE * sd and abs(sd - 1.0) <= CONTRAST_TOLERANCE):
        return values, "contrast as given"
    if sd == 0.0:
        raise DataError(f"every pixel of every frame is {mean!r}: a constant stimulus cannot drive an RF.")
    values -= mean
    values /= sd
    warnings.warn(f"the frames are neither binary (0/1, ±1) nor zero-mean unit-SD contrast (mean {mean:.4g}, "
                  f"SD {sd:.4g}); they were standardised to (s - {mean:.4g}) / {sd:.4g}, so RF weights are per SD "
                  "of the stimulus. Pass frames in contrast units to keep your own scale.", BayesRFWarning, stacklevel=4)
    return values, f"standardised: (s - {mean!r}) / {sd!r}"


def _check_frames(frames: Any, frame_axis: int) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.ndim != 3:
        raise DataError(
            f"frames must be a 3-D array (frames, y, x) or (y, x, frames) with frame_axis set; "
            f"got {arr.ndim}-D with shape {arr.shape}."
        )
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise DataError(f"frames must be real numbers; got dtype {arr.dtype}.")
    if not -arr.ndim <= frame_axis < arr.ndim:
        raise DataError(f"frame_axis={frame_axis} is out of range for frames of shape {arr.shape}.")
    arr = np.moveaxis(arr, frame_axis, 0)
    if not np.isfinite(arr).all():
        raise DataError("frames contain NaN or inf values; every pixel of every frame must be finite.")
    return arr


def bin_spikes(spikes: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Spike counts (n_intervals,) of the half-open frame intervals ``[edges[i], edges[i + 1])``.

    A spike exactly at the last trigger belongs to no complete interval (``np.histogram`` would
    put it in the last one); spikes outside ``[edges[0], edges[-1])`` are not counted.

    Examples
    --------
    >>> bin_spikes(np.array([0.0, 0.1, 0.15, 0.3]), np.array([0.0, 0.1, 0.2, 0.3])).tolist()
    [1, 2, 0]
    """
    index = np.searchsorted(edges, spikes, side="right") - 1
    inside = (index >= 0) & (index < edges.size - 1)
    return np.bincount(index[inside], minlength=edges.size - 1)


def check_spike_times(values: Any, name: str = "spike_times") -> np.ndarray:
    """``values`` as a sorted 1-D float array of spike times (s); ties are allowed."""
    spikes = _as_1d_finite(name, values)
    _check_strictly_increasing(name, spikes, allow_ties=True)
    return spikes


def frame_intervals(trigger_times: Any, frames: Any, frame_axis: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Frame intervals from trigger times and the frames shown in them.

    Returns
    -------
    edges : ndarray, shape (n_intervals + 1,)
        The trigger times (s), checked to increase strictly.
    stim : ndarray, shape (n_intervals, ny, nx)
        The frame of each interval, binary 0/1 centred to -1/+1.
    info : dict
        ``stim_encoding`` and ``n_frames_unshown`` (stored frames beyond the last interval).
    """
    triggers = _as_1d_finite("trigger_times", trigger_times)
    _check_strictly_increasing("trigger_times", triggers, allow_ties=False)
    if triggers.size < 2:
        raise DataError(f"need at least 2 trigger times to form one frame interval; got {triggers.size}.")
    stack = _check_frames(frames, frame_axis)
    n_intervals = triggers.size - 1
    if stack.shape[0] < n_intervals:
        raise DataError(
            f"fewer frames ({stack.shape[0]}) than trigger intervals ({n_intervals}): every interval "
            "between consecutive triggers needs the frame shown during it. Check frame_axis "
            f"(currently {frame_axis}) and that the frames belong to these triggers."
        )
    stim, encoding = _center_frames(stack[:n_intervals])
    if stack.shape[0] > n_intervals:
        warnings.warn(f"dropped {stack.shape[0] - n_intervals} stored frame(s) after the last complete frame interval "
                      f"({triggers.size} triggers make {n_intervals} intervals; the count is attrs['n_frames_unshown']).",
                      BayesRFWarning, stacklevel=3)
    return triggers, stim, {"stim_encoding": encoding, "n_frames_unshown": int(stack.shape[0] - n_intervals)}


def recording_from_arrays(
    spike_times: Any,
    trigger_times: Any,
    frames: Any,
    *,
    frame_axis: int = 0,
    source: str = "arrays",
) -> xr.Dataset:
    """Bin one neuron's spikes by frame triggers and build a recording.

    :func:`bayesrf.from_arrays` calls this for one array of spike times (and builds a
    population for several).

    Parameters
    ----------
    spike_times : array_like, shape (n_spikes,)
        Spike times in seconds, sorted (ties allowed).
    trigger_times : array_like, shape (n_triggers,)
        Times in seconds at which a new stimulus frame appeared, strictly
        increasing. ``n_triggers - 1`` complete frame intervals are used.
    frames : array_like, shape (n_frames, ny, nx)
        Stimulus frames in presentation order (see ``frame_axis``). Needs
        ``n_frames >= n_triggers - 1``; frames beyond that were never shown
        completely and are dropped (counted in ``attrs["n_frames_unshown"]``).
        Binary 0/1 frames are centred to -1/+1.
    frame_axis : int, default 0
        Axis of ``frames`` that indexes frames (the MAT file uses 2).
    source : str, default "arrays"
        Recorded in ``attrs["source"]``.

    Returns
    -------
    xarray.Dataset
        The recording layout described in :mod:`bayesrf.data`.

    Raises
    ------
    DataError
        Unsorted or duplicate triggers, unsorted spikes, NaN/inf, too few
        frames, wrong shapes.

    Examples
    --------
    >>> import numpy as np
    >>> rec = recording_from_arrays([0.05, 0.12, 0.21], [0.0, 0.1, 0.2, 0.3], np.ones((3, 2, 2)))
    >>> rec.counts.values.tolist(), rec.sizes["time"]
    ([1, 1, 1], 3)
    """
    triggers, stim, info = frame_intervals(trigger_times, frames, frame_axis)
    spikes = check_spike_times(spike_times)
    counts = bin_spikes(spikes, triggers)
    ds = _assemble(stim, counts, np.diff(triggers), onsets=triggers[:-1])
    ds.attrs.update(
        source=source,
        **info,
        n_spikes_total=int(spikes.size),
        n_spikes_before_first_trigger=int((spikes < triggers[0]).sum()),
        n_spikes_after_last_trigger=int((spikes >= triggers[-1]).sum()),
    )
    before, after = ds.attrs["n_spikes_before_first_trigger"], ds.attrs["n_spikes_after_last_trigger"]
    if before or after:
        warnings.warn(f"dropped {before} spike(s) before the first trigger and {after} after the last one: only "
                      "complete frame intervals are fitted (the counts are in the recording's attrs).",
                      BayesRFWarning, stacklevel=2)
    return validate_recording(ds)


def _assemble(stim: np.ndarray, counts: np.ndarray, duration: np.ndarray, onsets: np.ndarray) -> xr.Dataset:
    ny, nx = stim.shape[1:]
    coords = {
        "time": ("time", onsets, {"units": "s", "long_name": "frame onset"}),
        "y": ("y", np.arange(ny), {"units": "pixel"}),
        "x": ("x", np.arange(nx), {"units": "pixel"}),
    }
    return xr.Dataset(
        {
            "stim": (("time", "y", "x"), stim, {"long_name": "stimulus frame"}),
            "counts": ("time", counts.astype(np.int64), {"long_name": "spike count per frame", "units": "spikes"}),
            "duration": ("time", duration.astype(np.float64), {"long_name": "frame duration", "units": "s"}),
        },
        coords=coords,
    )


def from_counts(
    stim: Any,
    counts: Any,
    duration: Any,
    *,
    source: str = "binned arrays",
) -> xr.Dataset:
    """Build a recording from already-binned data.

    Parameters
    ----------
    stim : array_like, shape (n_time, ny, nx)
        Stimulus frame of each time bin, real-valued (binary 0/1 is centred).
    counts : array_like of int, shape (n_time,)
        Non-negative spike counts per bin.
    duration : float or array_like, shape (n_time,)
        Bin durations in seconds, all > 0.
    source : str
        Recorded in ``attrs["source"]``.

    Returns
    -------
    xarray.Dataset
        A validated recording.
    """
    stim_arr = _check_frames(stim, 0)
    counts_arr = np.asarray(counts)
    if counts_arr.ndim != 1 or counts_arr.shape[0] != stim_arr.shape[0]:
        raise DataError(
            f"counts must have shape ({stim_arr.shape[0]},) to match the {stim_arr.shape[0]} frames; "
            f"got {counts_arr.shape}."
        )
    dur = np.broadcast_to(np.asarray(duration, dtype=np.float64), counts_arr.shape)
    check_counts(counts_arr)
    stim_c, encoding = _center_frames(stim_arr)
    onsets = np.concatenate([[0.0], np.cumsum(dur)[:-1]])
    ds = _assemble(stim_c, counts_arr.astype(np.int64), dur.copy(), onsets)
    ds.attrs.update(source=source, stim_encoding=encoding)
    return validate_recording(ds)


def check_counts(counts: np.ndarray) -> None:
    if not np.issubdtype(counts.dtype, np.number) or np.issubdtype(counts.dtype, np.complexfloating):
        raise DataError(f"counts must be numeric; got dtype {counts.dtype}.")
    if not np.isfinite(counts).all():
        raise DataError("counts contain NaN or inf; every bin needs a finite spike count.")
    if (counts < 0).any():
        i = int(np.flatnonzero(counts < 0)[0])
        raise DataError(f"counts must be >= 0; found {counts[i]!r} at time index {i}.")
    if not np.equal(np.round(counts), counts).all():
        i = int(np.flatnonzero(np.round(counts) != counts)[0])
        raise DataError(
            f"counts must be whole numbers of spikes; found {counts[i]!r} at time index {i}. "
            "Pass spike counts, not rates."
        )


def check_layout(ds: xr.Dataset, counts_dims: tuple[str, ...], what: str) -> None:
    """Check ``stim`` (time, y, x), ``counts`` ``counts_dims`` and ``duration`` (time,) and their values.

    Raises
    ------
    DataError
        Naming every missing variable or wrong dims at once, then NaN/inf frames, negative or
        non-integer counts, or non-positive durations.
    """
    if not isinstance(ds, xr.Dataset):
        raise DataError(f"a {what} must be an xarray.Dataset; got {type(ds).__name__}.")
    expected = {"stim": ("time", "y", "x"), "counts": counts_dims, "duration": ("time",)}
    problems = [f"missing variable {name!r}" for name in expected if name not in ds]
    problems += [
        f"{name} has dims {ds[name].dims}, expected {dims}"
        for name, dims in expected.items()
        if name in ds and ds[name].dims != dims
    ]
    if problems:
        raise DataError(f"not a bayesrf {what}: " + "; ".join(problems) + ".")
    if ds.sizes["time"] < 1:
        raise DataError(f"the {what} has no time bins.")
    if not np.isfinite(ds["stim"].values).all():
        raise DataError("stim contains NaN or inf values.")
    check_counts(ds["counts"].values)
    duration = ds["duration"].values
    if not np.isfinite(duration).all() or (duration <= 0).any():
        i = int(np.flatnonzero(~(duration > 0) | ~np.isfinite(duration))[0])
        raise DataError(
            f"frame durations must be finite and > 0 s; found {duration[i]!r} at time index {i} "
            "(repeated or unsorted trigger times produce zero or negative durations)."
        )


def validate_recording(ds: xr.Dataset) -> xr.Dataset:
    """Check that ``ds`` follows the recording layout and return it.

    A population (:mod:`bayesrf.population`) of one unit is returned as that unit's
    recording; a population of several units is refused: fit one with ``pop.sel(unit=id)``.

    Raises
    ------
    DataError
        Naming every missing variable, wrong dims, NaN/inf, negative or
        non-integer counts, or non-positive durations.
    """
    if isinstance(ds, xr.Dataset) and "counts" in ds and ds["counts"].dims == ("unit", "time"):
        if ds.sizes["unit"] != 1:
            ids = ds["unit"].values
            raise DataError(
                f"this is a population of {ids.size} units; a fit takes one: pass pop.sel(unit=id) "
                f"(ids {ids[:5].tolist()}{' ...' if ids.size > 5 else ''}), or fit them all with a population fit."
            )
        ds = ds.isel(unit=0)
    check_layout(ds, ("time",), "recording")
    return ds
