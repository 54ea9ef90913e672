"""Read and write population recordings in NWB (Neurodata Without Borders) files with pynwb.

What is read
------------
- **Spikes**: the ``Units`` table (``nwbfile.units``): ``spike_times`` per unit, its ``id``,
  and every other column with one scalar per unit (quality label, depth, location, firing
  rate ...), which become coordinates on ``unit``.
- **Stimulus**: one series in ``nwbfile.stimulus``:

  - an ``ImageSeries`` (or its subclass ``OpticalSeries``) with its frames in ``data``,
    shaped (frame, x, y) as NWB defines it (bayesrf transposes to (time, y, x)), timed by
    ``timestamps`` or by ``starting_time`` + ``rate``;
  - or an ``IndexSeries`` whose ``data`` indexes the ordered images of an ``Images``
    container (``indexed_images``, each image (x, y)), timed the same way.

  Frames stored in external files (``external_file``) are refused: bayesrf needs the pixels.
- **Epoch**: frame onsets are the trigger times; each frame lasts until the next onset. The
  last frame ends at ``starting_time + n / rate`` for a series with a rate; with timestamps,
  at the stop of the epoch when one is known, and otherwise it is dropped (counted in
  ``attrs["n_frames_unshown"]``). The epoch is ``epoch=`` (the name of a ``TimeIntervals``
  table with one row, or ``(start, stop)`` in seconds); by default the one ``TimeIntervals``
  table with a single row that covers the whole series, if the file has one, else the
  series' own time range.

What is written
---------------
:func:`write_nwb` writes exactly what :func:`read_nwb` reads: an ``ImageSeries`` named
``"stimulus"`` with one timestamp per frame (exact, where ``rate`` would round), a
``TimeIntervals`` table ``"stimulus_epoch"`` with one row, and a ``Units`` table with the
spike times and the per-unit columns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BayesRFWarning, DataError

__all__ = ["EPOCH_TABLE", "STIMULUS_SERIES", "NWBContent", "read_nwb", "write_nwb"]

STIMULUS_SERIES = "stimulus"
"""Name of the ``ImageSeries`` that :func:`write_nwb` writes."""
EPOCH_TABLE = "stimulus_epoch"
"""Name of the one-row ``TimeIntervals`` table that :func:`write_nwb` writes."""
_SKIP_COLUMNS = {"spike_times", "obs_intervals", "electrodes", "electrode_group", "waveform_mean", "waveform_sd",
                 "waveforms"}


class NWBContent(dict):
    """What :func:`read_nwb` takes from a file (a plain dict with these keys).

    ``spike_times`` {unit id: ndarray (s)}, ``frames`` ndarray (n, y, x), ``edges`` ndarray
    (n_intervals + 1,) of frame onsets plus the end of the last used frame (s),
    ``columns`` {name: ndarray (n_units,)}, ``arrays`` {name: ndarray (n_units, ...)},
    ``attrs`` {provenance}.
    """


def _io(path: Path, mode: str) -> Any:
    from pynwb import NWBHDF5IO

    return NWBHDF5IO(str(path), mode=mode)


def _read(io: Any) -> tuple[Any, list[str]]:
    """The file's NWBFile and the warnings pynwb gave while building it (recorded: bayesrf's own
    checks below name the problem, and a clean read re-issues them as BayesRFWarnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nwb = io.read()
    return nwb, [str(w.message) for w in caught]


def _stimulus_series(nwb: Any, name: str | None) -> Any:
    from pynwb.image import ImageSeries, IndexSeries

    series = {key: ts for key, ts in nwb.stimulus.items() if isinstance(ts, (ImageSeries, IndexSeries))}
    if name is not None:
        if name not in nwb.stimulus:
            raise DataError(f"the file has no stimulus series {name!r}; its stimulus series are "
                            f"{sorted(nwb.stimulus) or 'none'}. Pass one of them as stimulus=.")
        if name not in series:
            raise DataError(f"stimulus series {name!r} is a {type(nwb.stimulus[name]).__name__}; bayesrf reads an "
                            "ImageSeries, OpticalSeries or IndexSeries (frames of pixels).")
        return series[name]
    if not series:
        raise DataError("the file has no ImageSeries, OpticalSeries or IndexSeries in nwbfile.stimulus; "
                        f"it has {sorted(nwb.stimulus) or 'no stimulus at all'}. Add the frames shown as one of those.")
    if len(series) > 1:
        raise DataError(f"the file has several stimulus series ({', '.join(sorted(series))}); "
                        "name the white-noise one with stimulus=.")
    return next(iter(series.values()))


def _image_stack(images: Any) -> np.ndarray:
    """The ordered images of an ``Images`` container, (n, y, x)."""
    order = images.order_of_images
    refs = list(order.data[:]) if order is not None else list(images.images.values())
    stack = [np.asarray(img.data[:] if hasattr(img, "data") else img) for img in refs]
    if any(im.ndim != 2 for im in stack):
        raise DataError("the indexed images must be greyscale (x, y) images; found colour or 3-D images.")
    return np.stack(stack).transpose(0, 2, 1)


def _frames(series: Any) -> np.ndarray:
    """The series' frames as (n, y, x)."""
    from pynwb.image import IndexSeries

    if isinstance(series, IndexSeries):
        source = series.indexed_images
        stack = _image_stack(source) if source is not None else _frames(series.indexed_timeseries)
        index = np.asarray(series.data[:])
        if index.size and (index.min() < 0 or index.max() >= stack.shape[0]):
            raise DataError(f"IndexSeries {series.name!r} indexes image {int(index.max())} of {stack.shape[0]}.")
        return stack[index]
    if series.external_file is not None and np.asarray(series.data).size == 0:
        raise DataError(f"ImageSeries {series.name!r} keeps its frames in external files "
                        f"({list(series.external_file[:])}); bayesrf needs the frames inside the NWB file.")
    data = np.asarray(series.data[:])
    if data.ndim != 3:
        raise DataError(f"ImageSeries {series.name!r} has data of shape {data.shape}; bayesrf reads greyscale "
                        "frames (frame, x, y).")
    return data.transpose(0, 2, 1)


def _onsets(series: Any, n_frames: int) -> tuple[np.ndarray, float | None]:
    """Frame onsets (s) and, for a series with a rate, the end of its last frame."""
    if series.timestamps is not None:
        onsets = np.asarray(series.timestamps[:], dtype=float)
        if onsets.size != n_frames:
            raise DataError(f"stimulus series {series.name!r} has {n_frames} frames but {onsets.size} timestamps; "
                            "every frame needs exactly one onset time.")
        steps = np.diff(onsets)
        if (steps <= 0).any():
            i = int(np.flatnonzero(steps <= 0)[0])
            raise DataError(f"the timestamps of {series.name!r} must increase strictly; timestamp {i + 1} "
                            f"({onsets[i + 1]!r} s) does not follow {i} ({onsets[i]!r} s).")
        return onsets, None
    if not series.rate or series.rate <= 0:
        raise DataError(f"stimulus series {series.name!r} has neither timestamps nor a positive rate.")
    start = float(series.starting_time or 0.0)
    return start + np.arange(n_frames) / series.rate, start + n_frames / series.rate


def _epoch(nwb: Any, epoch: str | tuple[float, float] | None, onsets: np.ndarray) -> tuple[float, float, str] | None:
    """(start, stop, where it came from), or None for the series' own time range."""
    if epoch is not None and not isinstance(epoch, str):
        start, stop = (float(v) for v in epoch)
        return start, stop, f"epoch=({start}, {stop})"
    tables = dict(nwb.intervals or {})
    if epoch is not None:
        if epoch not in tables:
            raise DataError(f"the file has no TimeIntervals table {epoch!r}; it has {sorted(tables) or 'none'}.")
        table = tables[epoch]
        if len(table) != 1:
            raise DataError(f"TimeIntervals table {epoch!r} has {len(table)} rows; bayesrf fits one contiguous "
                            "epoch: pass epoch=(start, stop) in seconds.")
        return float(table["start_time"][0]), float(table["stop_time"][0]), f"TimeIntervals {epoch!r}"
    covering = [name for name, t in tables.items()
                if len(t) == 1 and t["start_time"][0] <= onsets[0] and t["stop_time"][0] > onsets[-1]]
    if len(covering) == 1:
        table = tables[covering[0]]
        return float(table["start_time"][0]), float(table["stop_time"][0]), f"TimeIntervals {covering[0]!r}"
    return None


def _edges(nwb: Any, series: Any, epoch: str | tuple[float, float] | None, n_frames: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Interval edges and which frames they use; provenance of the epoch."""
    onsets, rate_end = _onsets(series, n_frames)
    span = _epoch(nwb, epoch, onsets)
    start, stop, source = span if span is not None else (onsets[0], rate_end, "the stimulus series' time range")
    use = np.flatnonzero((onsets >= start) & ((onsets < stop) if stop is not None else True))
    if use.size == 0:
        raise DataError(f"no frame of {series.name!r} starts inside the epoch {start}-{stop} s.")
    ends = np.r_[onsets[use[1:]], onsets[use[-1] + 1] if use[-1] + 1 < n_frames else np.inf]
    if stop is not None:
        ends = np.minimum(ends, stop)
    shown = np.isfinite(ends)
    use, ends = use[shown], ends[shown]
    if use.size == 0:
        raise DataError(f"the epoch of {series.name!r} holds one frame whose end is unknown; pass epoch=(start, stop).")
    attrs = {"epoch_source": source, "epoch_start_s": float(onsets[use[0]]), "epoch_stop_s": float(ends[-1]),
             "n_frames_unshown": int(n_frames - use.size)}
    return np.r_[onsets[use], ends[-1]], use, attrs


def _columns(table: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-unit scalar columns, and fixed-shape array columns (such as a simulation's ``rf_true``)."""
    scalars, arrays = {}, {}
    for name in table.colnames:
        if name in _SKIP_COLUMNS:
            continue
        try:
            values = np.asarray(table[name][:])
        except (TypeError, ValueError):  # ragged or object columns are not per-unit values
            continue
        if values.dtype == object and all(isinstance(v, (str, bytes)) for v in values):
            values = np.asarray([v.decode() if isinstance(v, bytes) else v for v in values], dtype=str)
        if values.dtype == object or values.shape[:1] != (len(table),):
            continue
        (scalars if values.ndim == 1 else arrays)[name] = values
    return scalars, arrays


def read_nwb(
    path: str | Path,
    *,
    stimulus: str | None = None,
    epoch: str | tuple[float, float] | None = None,
) -> NWBContent:
    """Take spike times, frames and frame timing from an NWB file (see the module docstring).

    Parameters
    ----------
    path : str or Path
        An NWB 2.x file (HDF5).
    stimulus : str, optional
        Name of the stimulus series; needed when ``nwbfile.stimulus`` holds several.
    epoch : str or (start, stop), optional
        A ``TimeIntervals`` table name or a time range in seconds.

    Returns
    -------
    NWBContent
    """
    file = Path(path)
    with _io(file, "r") as io:
        nwb, notes = _read(io)
        if nwb.units is None or len(nwb.units) == 0:
            raise DataError(f"{file} has no Units table (nwbfile.units): bayesrf needs sorted spike times per unit. "
                            "Add them with nwbfile.add_unit(spike_times=...).")
        series = _stimulus_series(nwb, stimulus)
        frames = _frames(series)
        edges, used, timing = _edges(nwb, series, epoch, frames.shape[0])
        ids = np.asarray(nwb.units.id[:])
        spike_times = {u.item(): np.asarray(nwb.units.get_unit_spike_times(r), dtype=float) for r, u in enumerate(ids)}
        scalars, arrays = _columns(nwb.units)
        attrs = {"source": str(file), "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
                 "session_id": str(nwb.session_id or nwb.identifier), "stimulus_series": series.name,
                 "stimulus_type": type(series).__name__, **timing}
    for note in notes:
        warnings.warn(f"pynwb, reading {file}: {note}", BayesRFWarning, stacklevel=3)
    if notes:
        attrs["nwb_read_warnings"] = " | ".join(notes)
    return NWBContent(spike_times=spike_times, frames=frames[used], edges=edges, columns=scalars, arrays=arrays,
                      attrs=attrs)


def write_nwb(
    path: str | Path,
    spike_times: Mapping[Any, np.ndarray],
    frames: np.ndarray,
    edges: np.ndarray,
    *,
    columns: Mapping[str, np.ndarray] | None = None,
    session_id: str = "bayesrf",
    description: str = "white-noise receptive-field mapping",
    frame_unit: str = "contrast",
) -> Path:
    """Write spikes and a white-noise stimulus as an NWB file that :func:`read_nwb` reads back.

    Parameters
    ----------
    path : str or Path
        Output file (overwritten).
    spike_times : {unit id (int): ndarray (s)}
        Spike times per unit.
    frames : ndarray, shape (n, y, x)
        The frames shown (written as NWB's (frame, x, y)).
    edges : ndarray, shape (n + 1,)
        Frame onsets and the end of the last frame (s).
    columns : {name: ndarray (n_units, ...)}, optional
        Per-unit columns of the ``Units`` table (scalars or fixed-shape arrays).
    session_id, description, frame_unit : str
        NWB metadata; ``identifier`` is derived from the content, and the session start
        time is the Unix epoch (no real date is known), so the same input writes the same file content.
    """
    from pynwb import NWBFile
    from pynwb.image import ImageSeries

    edges = np.asarray(edges, dtype=float)
    if frames.ndim != 3 or edges.shape != (frames.shape[0] + 1,):
        raise DataError(f"need frames (n, y, x) and n + 1 edges; got frames {frames.shape}, edges {edges.shape}.")
    ids = [int(u) for u in spike_times]
    digest = hashlib.sha256(np.ascontiguousarray(edges).tobytes() + repr(ids).encode()).hexdigest()[:16]
    nwb = NWBFile(session_description=description, identifier=f"bayesrf-{digest}", session_id=session_id,
                  session_start_time=dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc))
    nwb.add_stimulus(ImageSeries(name=STIMULUS_SERIES, data=np.ascontiguousarray(frames.transpose(0, 2, 1)),
                                 unit=frame_unit, description="white-noise frames, data (frame, x, y)",
                                 timestamps=edges[:-1]))
    nwb.add_time_intervals(_epoch_table(edges))
    for name, values in (columns or {}).items():
        nwb.add_unit_column(name=name, description=f"{name} (bayesrf)")
    for i, unit in enumerate(ids):
        extra = {name: np.asarray(values)[i] for name, values in (columns or {}).items()}
        nwb.add_unit(id=unit, spike_times=np.asarray(spike_times[unit], dtype=float), **extra)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _io(out, "w") as io:
        io.write(nwb)
    return out


def _epoch_table(edges: np.ndarray) -> Any:
    from pynwb.epoch import TimeIntervals

    table = TimeIntervals(name=EPOCH_TABLE, description="the white-noise stimulus epoch")
    table.add_interval(start_time=float(edges[0]), stop_time=float(edges[-1]))
    return table
