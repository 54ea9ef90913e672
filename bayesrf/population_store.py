"""The store of a population fit: one lean NetCDF file per unit, an index, and the summary.

``out/units/<id>.nc`` holds one unit's lean result (:func:`lean`, written by :func:`write_atomic`),
``out/units/<id>.error.json`` a unit whose fit failed, ``out/index.json`` one row per unit, and
``out/summary.csv`` the table of :func:`population_summary`. See :mod:`bayesrf.population_fit`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .errors import DataError
from .nuts import STANDARDISED
from .results import read_tree

__all__ = [
    "COLUMNS", "DROPPED_GROUPS", "INDEX", "SUMMARY_CSV", "flat_row", "format_population", "is_done", "lean",
    "load_population_result", "population_summary", "read_index", "recorded_row", "remove_orphans", "write_atomic",
    "write_index", "write_summary_csv",
]

INDEX = "index.json"
SUMMARY_CSV = "summary.csv"
DROPPED_GROUPS = ("log_prior", "log_likelihood")
"""Groups a lean unit result leaves out: the pointwise log-prior, and the pointwise log-likelihood,
whose PSIS-LOO result (``loo`` group: ``elpd_i``, ``pareto_k``) is what comparisons need."""


def lean(tree: xr.DataTree, keep_latent: bool = False) -> xr.DataTree:
    """The stored form of a unit's result: float32 draws, no duplicate latents, LOO instead of the
    pointwise log-likelihood, no log-prior, no copy of the stimulus (the population file has it).

    ``keep_latent=True`` keeps the sampled latents that duplicate stored variables: the
    non-centred ``rf_z``/``rf_time_z`` and ``baseline_level`` (``baseline_coef`` is its differences).
    """
    groups = {}
    for path, node in tree.subtree_with_keys:
        if path in (".", *DROPPED_GROUPS):
            continue
        ds = node.to_dataset()
        if path == "posterior" and not keep_latent:
            ds = ds.drop_vars([name for name in (*STANDARDISED, "baseline_level") if name in ds])
        if path == "constant_data":
            ds = ds.drop_vars("stim", errors="ignore")
        groups[path] = ds.map(lambda v: v.astype(np.float32) if v.dtype == np.float64 else v)
    out = xr.DataTree.from_dict(groups)
    out.attrs.update(tree.attrs)
    return out


def remove_orphans(out: Path) -> int:
    """Delete temporary unit files left by a worker killed while writing (their units were refitted or
    will be); returns how many. Call it only when no task of the store is running."""
    orphans = list((out / "units").glob(".*.tmp"))
    for path in orphans:
        path.unlink()
    return len(orphans)


def write_atomic(tree: xr.DataTree, path: Path) -> None:
    """Write a unit's result zlib-compressed to a temporary name, then rename it to ``path`` (atomic on POSIX)."""
    encoding = {f"/{name}": {var: {"zlib": True, "complevel": 4, "shuffle": True} for var in node.data_vars}
                for name, node in tree.children.items()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tree.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
    os.replace(tmp, path)


def flat_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row of ``index.json``: JSON- and NetCDF-attribute-safe values (no numpy scalars, no None, no nested groups)."""
    out = {}
    for key, value in row.items():
        if key == "groups" or value is None:
            continue
        out[key] = value.item() if isinstance(value, np.generic) else (int(value) if isinstance(value, bool) else value)
    return out


def read_index(out: Path) -> dict[str, dict[str, Any]]:
    """The rows of ``out/index.json`` by unit id (empty for a new store)."""
    path = out / INDEX
    return json.loads(path.read_text()) if path.is_file() else {}


def write_index(out: Path, index: dict[str, dict[str, Any]]) -> None:
    """Replace ``out/index.json`` atomically."""
    tmp = out / f".{INDEX}.tmp"
    tmp.write_text(json.dumps(index, indent=1, sort_keys=True))
    os.replace(tmp, out / INDEX)


def is_done(out: Path, unit: Any, key: str) -> bool:
    """Whether ``unit``'s stored file exists and was fitted with ``key``."""
    path = out / "units" / f"{unit}.nc"
    if not path.is_file():
        return False
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        return tree.attrs.get("fit_key") == key


def recorded_row(out: Path, unit: Any, key: str) -> dict[str, Any] | None:
    """``unit``'s row of ``index.json`` when it is done with ``key`` and its file holds that fit, else None.

    A task that dask reruns because its worker died after the result was recorded returns this row
    instead of fitting and writing the unit again.
    """
    row = read_index(out).get(str(unit))
    if row is None or row.get("status") != "done" or row.get("key") != key:
        return None
    return row if is_done(out, unit, key) else None


def population_summary(store: str | Path) -> xr.Dataset:
    """One row per unit (a Dataset over ``unit``): status, evidence, features, diagnostics, wall time.

    Reads only; :func:`write_summary_csv` writes the same table as ``summary.csv``.
    """
    index = read_index(Path(store))
    if not index:
        raise DataError(f"{store} holds no population fit (no {INDEX}).")
    rows = [index[k] for k in sorted(index, key=_unit_order)]
    columns = sorted({key for row in rows for key in row} - {"traceback", "key"})
    data = {col: ("unit", np.array([row.get(col, _missing(rows, col)) for row in rows])) for col in columns if col != "unit"}
    return xr.Dataset(data, coords={"unit": [row["unit"] for row in rows]})


def write_summary_csv(store: str | Path) -> Path:
    """Write :func:`population_summary` as ``summary.csv`` in the store; returns its path."""
    path = Path(store) / SUMMARY_CSV
    population_summary(store).to_dataframe().to_csv(path)
    return path


COLUMNS = ("status", "has_rf", "elpd_diff", "elpd_diff_se", "center_y", "center_x", "size", "latency",
           "biphasic_index", "polarity", "max_rhat", "min_ess_bulk", "wall_s")


def format_population(table: xr.Dataset) -> str:
    """The population summary as a text table (one row per unit; failed units with their error)."""
    frame = table.to_dataframe()
    shown = frame[[c for c in COLUMNS if c in frame]]
    text = shown.to_string(float_format=lambda v: f"{v:.3g}")
    failed = frame[frame["status"] == "failed"]
    errors = "".join(f"\nunit {unit} failed: {row['error']}" for unit, row in failed.iterrows())
    done = int((frame["status"] == "done").sum())
    flagged = f", {int(frame['has_rf'].fillna(0).sum())} with an RF" if "has_rf" in frame else ""
    return f"{done} of {len(frame)} units fitted{flagged}\n{text}{errors}"


def _unit_order(key: str) -> tuple[int, Any]:
    return (0, int(key)) if key.lstrip("-").isdigit() else (1, key)


def _missing(rows: list[dict[str, Any]], col: str) -> Any:
    present = next(row[col] for row in rows if col in row)
    return "" if isinstance(present, str) else np.nan


def load_population_result(store: str | Path) -> xr.DataTree:
    """The store as one DataTree: ``/units/<id>`` (each unit's lean result) and ``/summary`` (over ``unit``)."""
    store = Path(store)
    summary = population_summary(store)
    tree = xr.DataTree.from_dict({"summary": summary})
    for unit, status in zip(summary["unit"].values, summary["status"].values, strict=True):
        if status == "done":
            tree[f"units/{unit}"] = read_tree(store / "units" / f"{unit}.nc")
    tree.attrs.update(store=str(store), n_units=int(summary.sizes["unit"]),
                      n_failed=int((summary["status"] == "failed").sum()))
    return tree
