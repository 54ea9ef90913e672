"""Recording files: the bundled neuron, MATLAB ``.mat`` files and bayesrf's NetCDF-4.

:func:`load_recording` reads a ``.mat`` file (``DN_spiketimes``, ``DN_triggertimes``, ``DN_stim``) or a
NetCDF-4 file written by :func:`save_recording` into the recording layout of :mod:`bayesrf.data`, with
the file's sha256 in ``attrs["sha256"]``; the bundled file is checked against its published checksum.
"""

from __future__ import annotations

import hashlib
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import scipy.io
import xarray as xr

from .data import recording_from_arrays, validate_recording
from .errors import BayesRFWarning, DataError

__all__ = ["BUNDLED_RECORDING", "BUNDLED_SHA256", "HDF5_MAGIC", "MAT_VARIABLES", "load_recording", "read_mat",
           "save_recording"]

BUNDLED_RECORDING = Path(resources.files("bayesrf.bundled")) / "nda_ex_6_data.mat"
"""Path of the real neuron shipped with the package: the repository's ``data/`` folder, installed as
package data ``bayesrf.bundled`` (see ``data/README.md``)."""

BUNDLED_SHA256 = "b10c3f9191d0d29f51f1f907ae673fda140c57d3ebb2e7ace0f6279accb285a9"
"""Checksum of the bundled file, as published in ``data/README.md``."""

MAT_VARIABLES = ("DN_spiketimes", "DN_triggertimes", "DN_stim")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_mat(path: str | Path) -> dict[str, Any]:
    """The course layout's arrays from a MATLAB file, as stored.

    Returns
    -------
    dict
        ``DN_spiketimes`` (spike times, s), ``DN_triggertimes`` (frame triggers, s) and
        ``DN_stim`` (y, x, frames); a variable beyond these is ignored with a ``BayesRFWarning``.
    """
    path = Path(path)
    try:
        mat = scipy.io.loadmat(path, variable_names=MAT_VARIABLES)
    except NotImplementedError as exc:  # MATLAB v7.3 files are HDF5
        raise DataError(f"{path} is a MATLAB v7.3 file; save it with -v7 or convert it to NetCDF.") from exc
    except Exception as exc:  # scipy raises many types for corrupt files
        raise DataError(
            f"{path} could not be read as a MATLAB file ({type(exc).__name__}: {exc}); "
            "it may be truncated or not a .mat file."
        ) from exc
    extra = sorted(name for name, _, _ in _whosmat(path) if name not in MAT_VARIABLES)
    missing = [name for name in MAT_VARIABLES if name not in mat]
    if missing:
        raise DataError(
            f"{path} lacks the variable(s) {', '.join(missing)}; a recording needs "
            f"{', '.join(MAT_VARIABLES)} (spike times, trigger times, frames y x n)."
        )
    if extra:
        warnings.warn(f"{path}: ignoring variable(s) {', '.join(extra)} (bayesrf reads {', '.join(MAT_VARIABLES)}).",
                      BayesRFWarning, stacklevel=3)
    return {name: mat[name] for name in MAT_VARIABLES} | ({"ignored_variables": ", ".join(extra)} if extra else {})


def _load_mat(path: Path) -> xr.Dataset:
    mat = read_mat(path)
    ds = recording_from_arrays(
        mat["DN_spiketimes"], mat["DN_triggertimes"], mat["DN_stim"], frame_axis=2, source=str(path)
    )
    ds.attrs["sha256"] = _sha256(path)
    if "ignored_variables" in mat:
        ds.attrs["ignored_variables"] = mat["ignored_variables"]
    return ds


def _whosmat(path: Path) -> list[tuple[str, tuple[int, ...], str]]:
    try:
        return scipy.io.whosmat(path)
    except Exception as exc:  # as for loadmat: many exception types for corrupt files
        raise DataError(f"{path} could not be read as a MATLAB file ({type(exc).__name__}: {exc}).") from exc


def _load_netcdf(path: Path) -> xr.Dataset:
    try:
        with xr.open_dataset(path, engine="h5netcdf") as f:
            ds = f.load()
    except Exception as exc:  # h5py/h5netcdf raise OSError, ValueError, KeyError...
        raise DataError(f"{path} could not be read as NetCDF ({type(exc).__name__}: {exc}).") from exc
    ds = validate_recording(ds)
    if "sha256" in ds.attrs:  # keep the checksum of the file the recording came from
        ds.attrs.setdefault("origin_sha256", ds.attrs["sha256"])
    ds.attrs.setdefault("source", str(path))
    ds.attrs["sha256"] = _sha256(path)
    return ds


def load_recording(path: str | Path | None = None) -> xr.Dataset:
    """Load a recording from a MATLAB file or a NetCDF file written by bayesrf.

    Parameters
    ----------
    path : str or Path, optional
        ``None`` loads the bundled real neuron (``data/nda_ex_6_data.mat``).
        A ``.mat`` file must hold ``DN_spiketimes``, ``DN_triggertimes`` and
        ``DN_stim`` (y, x, frames); a NetCDF file must hold the recording
        layout (see :func:`save_recording`).

    Returns
    -------
    xarray.Dataset
        ``stim`` (time, y, x), ``counts`` (time), ``duration`` (time, s);
        ``attrs["sha256"]`` is the file's checksum.

    Examples
    --------
    >>> rec = load_recording()
    >>> dict(rec.sizes), int(rec.counts.sum())
    ({'time': 1488, 'y': 20, 'x': 15}, 5493)
    """
    file = BUNDLED_RECORDING if path is None else Path(path)
    if not file.is_file():
        raise DataError(f"no recording file at {file}.")
    if file.resolve() == BUNDLED_RECORDING and _sha256(file) != BUNDLED_SHA256:
        raise DataError(f"the bundled recording {file} does not match its published sha256 {BUNDLED_SHA256} "
                        "(see data/README.md): the copy is corrupted; restore it from git.")
    with open(file, "rb") as fh:
        head = fh.read(128)
    if head.startswith(HDF5_MAGIC):
        return _load_netcdf(file)
    if head.startswith(b"MATLAB 5.0") or file.suffix.lower() == ".mat":
        return _load_mat(file)
    if head.startswith(b"CDF"):
        raise DataError(f"{file} is a NetCDF-3 file; bayesrf reads NetCDF-4 (HDF5) written by save_recording.")
    raise DataError(f"{file} is neither a MATLAB .mat file nor a NetCDF-4 file written by bayesrf.")


def save_recording(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a recording (real or simulated) to NetCDF-4 so that :func:`load_recording` reads it.

    Returns
    -------
    Path
        The written file.
    """
    validate_recording(ds)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(out, engine="h5netcdf")
    return out
