"""Population recordings: many units shown one stimulus.

A *population* is an :class:`xarray.Dataset` with

``stim``      (time, y, x) float64
    The frames, as in a single recording (:mod:`bayesrf.data`), stored once for all units.
``counts``    (unit, time) int8, int16 or int32
    Spikes of each unit in each frame interval; the smallest signed integer type that
    holds the largest count.
``duration``  (time,) float64, seconds
    How long each frame was on screen.

Coordinates on ``unit``: the unit ``id`` (the index) and every per-unit column of the
source (quality label, depth, location, firing rate ...), plus ``n_spikes_outside_epoch``.
Attributes: provenance (``source``, ``sha256``, ``session_id``) and everything dropped,
with counts. ``pop.sel(unit=id)`` is a single-unit recording that every fitting function
accepts.

Sources: NWB files (:mod:`bayesrf.nwb`), arrays (:func:`from_arrays`), ``.npz`` files
with the same arrays (:func:`load_population`), the single-neuron ``.mat`` layout, and the
NetCDF files :func:`save_population` writes.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .data import bin_spikes, check_layout, check_spike_times, frame_intervals, recording_from_arrays
from .recording_io import HDF5_MAGIC, load_recording, read_mat
from .errors import BayesRFWarning, DataError
from .nwb import read_nwb, write_nwb

__all__ = [
    "FORMATS", "as_population", "assemble_population", "convert", "flag_dropped", "from_arrays",
    "load_population", "save_population", "select_units", "validate_population"
]

FORMATS = ("nwb", "netcdf")
NPZ_KEYS = ("spike_times", "spike_units", "frames", "frame_onsets")
"""Arrays an ``.npz`` population holds; optional: ``unit_ids`` (every unit, silent ones too),
``stop`` (end of the last frame, s) and ``unit_<column>`` (one value per unit id)."""
_INT_TYPES = (np.int8, np.int16, np.int32)
_ZIP_MAGIC = b"PK\x03\x04"


def _is_population(spike_times: Any) -> bool:
    """Per-unit spike times (a dict, or a list of 1-D numpy arrays) rather than one neuron's spike times.

    Nested plain lists are not a population: ``[[0.1], [0.2]]`` may be a column vector, and is
    refused as one neuron's times rather than read as two units of one spike each.
    """
    if isinstance(spike_times, Mapping):
        return True
    return (isinstance(spike_times, (list, tuple)) and len(spike_times) > 0
            and all(isinstance(s, np.ndarray) and s.ndim == 1 for s in spike_times))


def _smallest_int(largest: int) -> type:
    """The smallest signed integer type that holds ``largest``."""
    return next(t for t in _INT_TYPES if largest <= np.iinfo(t).max)


def _bin_units(spike_times: Mapping[Any, Any], edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts (unit, interval) in the smallest integer type, and spikes outside ``edges[0] .. edges[-1]`` per unit.

    Two passes over the units (the first finds the largest count), so that no int64
    (unit, time) matrix is ever allocated: at 500 units x 50,000 frames it would be 200 MB.
    """
    spikes = [check_spike_times(times, f"spike_times of unit {unit!r}") for unit, times in spike_times.items()]
    largest = max((int(bin_spikes(s, edges).max(initial=0)) for s in spikes), default=0)
    counts = np.empty((len(spikes), edges.size - 1), dtype=_smallest_int(largest))
    outside = np.empty(len(spikes), dtype=np.int64)
    for i, s in enumerate(spikes):
        per_interval = bin_spikes(s, edges)
        counts[i] = per_interval
        outside[i] = s.size - per_interval.sum()
    return counts, outside


def flag_dropped(pop: xr.Dataset) -> xr.Dataset:
    """Warn (``BayesRFWarning``) about units with no spike in the epoch and spikes outside it; return ``pop``."""
    silent = pop["unit"].values[pop["counts"].sum("time").values == 0]
    if silent.size:
        warnings.warn(f"{silent.size} unit(s) have no spike in the stimulus epoch (ids {silent[:10].tolist()}"
                      f"{' ...' if silent.size > 10 else ''}); they are kept, and their fits will find no RF.",
                      BayesRFWarning, stacklevel=3)
    outside = pop["n_spikes_outside_epoch"].values
    if outside.sum():
        warnings.warn(f"{int(outside.sum())} spike(s) of {int((outside > 0).sum())} unit(s) fall outside the stimulus "
                      "epoch and are not counted; the number per unit is the coordinate n_spikes_outside_epoch.",
                      BayesRFWarning, stacklevel=3)
    return pop


def assemble_population(
    spike_times: Mapping[Any, Any],
    edges: np.ndarray,
    stim: np.ndarray,
    columns: Mapping[str, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Bin each unit's spikes in the frame intervals ``edges`` and build a population.

    Parameters
    ----------
    spike_times : {unit id: array (s)}
    edges : ndarray, shape (n_time + 1,)
        Frame onsets and the end of the last frame (s), strictly increasing.
    stim : ndarray, shape (n_time, y, x)
        Centred frames.
    columns : {name: array (n_units,)}, optional
        Per-unit values, stored as coordinates on ``unit``.
    attrs : mapping, optional
        Provenance, stored as attributes.
    """
    ids = np.asarray(list(spike_times))
    if np.unique(ids).size != ids.size:
        raise DataError("unit ids must be unique.")
    counts, outside = _bin_units(spike_times, edges)
    unit_coords = {"unit": ("unit", ids), "n_spikes_outside_epoch": ("unit", outside)}
    for name, values in (columns or {}).items():
        values = np.asarray(values)
        if values.shape[:1] != ids.shape:
            raise DataError(f"unit column {name!r} has {values.shape[:1]} values for {ids.size} units.")
        unit_coords[name] = ("unit", values) if values.ndim == 1 else (("unit", *_array_dims(name, values)), values)
    ny, nx = stim.shape[1:]
    ds = xr.Dataset(
        {"stim": (("time", "y", "x"), stim, {"long_name": "stimulus frame"}),
         "counts": (("unit", "time"), counts, {"long_name": "spike count per frame", "units": "spikes"}),
         "duration": ("time", np.diff(edges), {"long_name": "frame duration", "units": "s"})},
        coords={"time": ("time", edges[:-1], {"units": "s", "long_name": "frame onset"}),
                "y": ("y", np.arange(ny), {"units": "pixel"}), "x": ("x", np.arange(nx), {"units": "pixel"}),
                **unit_coords},
    )
    ds.attrs.update(attrs or {})
    ds.attrs.update(n_units=int(ids.size), n_spikes_outside_epoch=int(outside.sum()),
                    n_units_silent=int((counts.sum(axis=1) == 0).sum()))
    return validate_population(_move_arrays(ds))


def _array_dims(name: str, values: np.ndarray) -> tuple[str, ...]:
    """Dims of a per-unit array column: (lag, y, x) for a simulation's RF, else numbered."""
    if name == "rf_true" and values.ndim == 4:
        return ("lag", "y", "x")
    return tuple(f"{name}_dim_{k}" for k in range(values.ndim - 1))


def _move_arrays(ds: xr.Dataset) -> xr.Dataset:
    """Per-unit array columns are data variables (coords on ``unit`` are scalars per unit)."""
    arrays = [name for name, c in ds.coords.items() if c.dims[:1] == ("unit",) and c.ndim > 1]
    return ds.reset_coords(arrays)


def from_arrays(
    spike_times: Any,
    trigger_times: Any,
    frames: Any,
    *,
    frame_axis: int = 0,
    stop: float | None = None,
    columns: Mapping[str, Any] | None = None,
    source: str = "arrays",
) -> xr.Dataset:
    """Bin spikes by frame onsets: one neuron's recording, or a population.

    Parameters
    ----------
    spike_times : array_like, or {unit id: array_like}, or list of array_like
        Spike times in seconds, sorted (ties allowed). One array gives a single-neuron
        recording (:func:`bayesrf.data.recording_from_arrays`, ``columns`` unused); a dict
        (ids as keys) or a list of 1-D numpy arrays (ids 0, 1, ...) gives a population.
    trigger_times : array_like, shape (n_triggers,)
        Frame onset times in seconds, strictly increasing: frame ``k`` lasts until onset
        ``k + 1``, so the last frame needs ``stop`` for its end, or it is not used.
    frames : array_like, shape (n_frames, ny, nx)
        The frames, in presentation order (see ``frame_axis``); binary 0/1 is centred to -1/+1.
    frame_axis : int
        Axis of ``frames`` that indexes frames.
    stop : float, optional
        End of the last frame (s), appended to ``trigger_times``.
    columns : {name: array_like (n_units,)}, optional
        Per-unit values (quality, depth ...), stored as coordinates on ``unit``.
    source : str
        Recorded in ``attrs["source"]``.

    Returns
    -------
    xarray.Dataset
        A recording (:mod:`bayesrf.data`) or a population (this module's layout).

    Examples
    --------
    >>> import numpy as np
    >>> pop = from_arrays({3: [0.05, 0.12], 7: [0.25]}, [0.0, 0.1, 0.2], np.ones((3, 2, 2)), stop=0.3)
    >>> pop.counts.values.tolist(), pop.unit.values.tolist()
    ([[1, 1, 0], [0, 0, 1]], [3, 7])
    """
    triggers = _with_stop(trigger_times, stop)
    if not _is_population(spike_times):
        return recording_from_arrays(spike_times, triggers, frames, frame_axis=frame_axis, source=source)
    per_unit = dict(spike_times) if isinstance(spike_times, Mapping) else dict(enumerate(spike_times))
    edges, stim, info = frame_intervals(triggers, frames, frame_axis)
    return flag_dropped(assemble_population(per_unit, edges, stim, columns, {"source": source, **info}))


def _with_stop(onsets: Any, stop: float | None) -> Any:
    """Frame onsets followed by the end of the last frame, when it is given."""
    return onsets if stop is None else np.r_[np.ravel(np.asarray(onsets, dtype=float)), stop]


def validate_population(ds: xr.Dataset) -> xr.Dataset:
    """Check the population layout; return ``ds`` unchanged.

    Raises
    ------
    DataError
        Missing variables, wrong dims, a missing or repeated ``unit`` id, bad counts or durations.
    """
    check_layout(ds, ("unit", "time"), "population")
    if "unit" not in ds.coords or np.unique(ds["unit"].values).size != ds.sizes["unit"]:
        raise DataError("a population needs a unique id per unit in the 'unit' coordinate.")
    return ds


def as_population(recording: xr.Dataset) -> xr.Dataset:
    """A single-neuron recording as a one-unit population (unit id 0); a population unchanged."""
    if "unit" in recording["counts"].dims:
        return validate_population(recording)
    counts = recording["counts"].values
    pop = recording.assign(counts=(("unit", "time"), counts.astype(_smallest_int(int(counts.max(initial=0))))[None]))
    return validate_population(pop.assign_coords(n_spikes_outside_epoch=("unit", [_outside(recording)])))


def _outside(recording: xr.Dataset) -> int:
    return int(recording.attrs.get("n_spikes_before_first_trigger", 0) + recording.attrs.get("n_spikes_after_last_trigger", 0))


def _load_npz(path: Path) -> xr.Dataset:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except ValueError as exc:  # object arrays need pickle, which bayesrf never uses
        raise DataError(f"{path} holds object arrays, which need pickle to load; bayesrf reads files as data only. "
                        f"Save numeric arrays instead: {', '.join(NPZ_KEYS)} (spike_units: one unit id per spike).") from exc
    missing = [key for key in NPZ_KEYS if key not in arrays]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)}; a population .npz holds {', '.join(NPZ_KEYS)} "
                        "(and optionally unit_ids, stop, unit_<column>).")
    spikes, owner = np.asarray(arrays["spike_times"], float), np.asarray(arrays["spike_units"])
    if spikes.shape != owner.shape:
        raise DataError(f"spike_times {spikes.shape} and spike_units {owner.shape} must have one entry per spike.")
    ids = arrays.get("unit_ids", np.unique(owner))
    per_unit = {u.item(): spikes[owner == u] for u in ids}
    columns = {key[len("unit_"):]: arrays[key] for key in arrays if key.startswith("unit_") and key != "unit_ids"}
    stop = float(arrays["stop"]) if "stop" in arrays else None
    edges, stim, info = frame_intervals(_with_stop(arrays["frame_onsets"], stop), arrays["frames"])
    pop = assemble_population(per_unit, edges, stim, columns, {"source": str(path), **info})
    pop.attrs["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return pop


def load_population(
    path: str | Path,
    *,
    stimulus: str | None = None,
    units: Sequence[Any] | None = None,
    where: Mapping[str, Any] | None = None,
    epoch: str | tuple[float, float] | None = None,
) -> xr.Dataset:
    """Load a population from an NWB file, an ``.npz``, a bayesrf NetCDF file or a single-neuron ``.mat``.

    Parameters
    ----------
    path : str or Path
        The file; its type is read from its first bytes.
    stimulus : str, optional
        NWB: the stimulus series to use, when the file has several.
    units : sequence of ids, optional
        Keep only these unit ids (every format).
    where : mapping, optional
        Keep units whose column equals the value, e.g. ``{"quality": "good"}`` (every format).
    epoch : str or (start, stop), optional
        NWB: a ``TimeIntervals`` table name or a time range in seconds.

    Returns
    -------
    xarray.Dataset
        The population layout of this module.

    Raises
    ------
    DataError
        A missing Units table or stimulus, ambiguous stimulus series, unsorted timestamps, a
        frame count that disagrees with the timestamps, unknown unit ids, a pickled ``.npz``.
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"no population file at {file}.")
    head = file.read_bytes()[:8]
    if head.startswith(HDF5_MAGIC) and _is_nwb(file):
        content = read_nwb(file, stimulus=stimulus, epoch=epoch)
        edges, stim, info = frame_intervals(content["edges"], content["frames"], 0)
        columns = content["columns"] | content["arrays"]
        pop = assemble_population(content["spike_times"], edges, stim, columns, info | content["attrs"])
    elif stimulus is not None or epoch is not None:
        raise DataError(f"stimulus= and epoch= apply to NWB files; {file} is not one.")
    elif head.startswith(_ZIP_MAGIC):
        pop = _load_npz(file)
    elif head.startswith(HDF5_MAGIC):
        with xr.open_dataset(file, engine="h5netcdf") as f:
            pop = validate_population(f.load())
    else:
        pop = as_population(load_recording(file))
    return flag_dropped(select_units(pop, units, where))


def _is_nwb(path: Path) -> bool:
    import h5py

    with h5py.File(path, "r") as f:
        return "nwb_version" in f.attrs


def select_units(pop: xr.Dataset, units: Sequence[Any] | None = None, where: Mapping[str, Any] | None = None) -> xr.Dataset:
    """Units by id and by column value, with a clear error for ids that do not exist."""
    if units is not None:
        missing = [u for u in units if u not in set(pop["unit"].values.tolist())]
        if missing:
            raise DataError(f"unit id(s) {missing} are not in this population; it has {pop.sizes['unit']} units "
                            f"(ids {pop['unit'].values[:10].tolist()}{' ...' if pop.sizes['unit'] > 10 else ''}).")
        pop = pop.sel(unit=list(units))
    for column, value in (where or {}).items():
        if column not in pop.coords or pop[column].dims != ("unit",):
            raise DataError(f"the population has no per-unit column {column!r}.")
        pop = pop.isel(unit=np.flatnonzero(pop[column].values == value))
    return pop


def save_population(pop: xr.Dataset, path: str | Path, format: str = "nwb") -> Path:
    """Write a population (or a single recording) to NWB or NetCDF-4; :func:`load_population` reads both.

    NWB needs spike times, which a binned population no longer has: each interval's ``k``
    spikes are written evenly spaced inside it (``onset + (j + 0.5) / k * duration``), so
    that reading the file back gives exactly the same counts. Per-unit columns and array
    variables over ``unit`` (a simulation's ``rf_true``) become ``Units`` columns.

    Parameters
    ----------
    pop : xarray.Dataset
        A population, or a single-neuron recording (written as unit 0).
    path : str or Path
        Output file.
    format : {"nwb", "netcdf"}
    """
    if format not in FORMATS:
        raise DataError(f"format must be one of {FORMATS}; got {format!r}.")
    pop = as_population(pop)
    out = Path(path)
    if format == "netcdf":
        out.parent.mkdir(parents=True, exist_ok=True)
        pop.to_netcdf(out, engine="h5netcdf")
        return out
    edges = np.r_[pop["time"].values, pop["time"].values[-1] + pop["duration"].values[-1]]
    spikes = {u.item(): _spread(pop["counts"].sel(unit=u).values, edges) for u in pop["unit"]}
    columns = {name: c.values for name, c in pop.coords.items()
               if c.dims == ("unit",) and name not in ("unit", "n_spikes_outside_epoch")}
    columns |= {name: v.values for name, v in pop.data_vars.items() if v.dims[:1] == ("unit",) and name != "counts"}
    frames = pop["stim"].values
    return write_nwb(out, spikes, frames, edges, columns=columns, session_id=str(pop.attrs.get("session_id", "bayesrf")))


def _spread(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``counts[t]`` spike times evenly spaced inside interval ``t``."""
    interval = np.repeat(np.arange(counts.size), counts)
    rank = np.arange(interval.size) - np.repeat(np.cumsum(counts) - counts, counts)
    width = np.diff(edges)[interval]
    return edges[interval] + (rank + 0.5) / counts[interval] * width


def convert(source: str | Path, target: str | Path) -> Path:
    """Convert a recording file to NWB (``.nwb``) or NetCDF (any other suffix).

    A single-neuron ``.mat`` file keeps its real spike times and its frames as stored
    (0/1; bayesrf centres them on reading), one ``ImageSeries`` timestamp per shown frame
    and the last trigger as the end of the stimulus epoch, so reading the NWB file gives the
    same counts, frames and durations as reading the ``.mat``. Other files go through
    :func:`load_population` and :func:`save_population`.
    """
    source, target = Path(source), Path(target)
    fmt = "nwb" if target.suffix.lower() == ".nwb" else "netcdf"
    if fmt == "nwb" and source.suffix.lower() == ".mat":
        mat = read_mat(source)
        edges, _, _ = frame_intervals(mat["DN_triggertimes"], mat["DN_stim"], 2)
        frames = np.moveaxis(np.asarray(mat["DN_stim"]), 2, 0)[: edges.size - 1]
        spikes = {0: check_spike_times(mat["DN_spiketimes"])}
        return write_nwb(target, spikes, frames, edges, session_id=source.stem, frame_unit="binary (0 dark, 1 bright)")
    return save_population(load_population(source), target, format=fmt)
