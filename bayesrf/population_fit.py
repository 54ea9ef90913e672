"""Fit every unit of a population on dask.distributed, one unit per task, into a resumable store.

The store (:mod:`bayesrf.population_store`)
-------------------------------------------
``out/`` is a directory: ``units/<id>.nc`` holds one unit's lean result (a DataTree in
NetCDF-4, zlib-compressed), ``units/<id>.error.json`` a unit whose fit failed, and
``index.json`` one row per unit (status, key, wall time, diagnostics, evidence), rewritten
as each unit finishes. NetCDF rather than zarr: one file per unit is written to a
temporary name and renamed (atomic on POSIX), so a killed worker never leaves half a unit;
bayesrf already reads and writes NetCDF, and zarr would add a dependency and thousands of
small files per store.

A unit is *done* when its file exists and its ``fit_key`` (sha256 of the prior spec, the
unit's data checksum and the settings) equals the current one: rerunning with the same
``out`` skips it and refits units whose key changed or that failed.

Engine
------
``client=None`` starts a ``distributed.LocalCluster`` with one single-threaded worker
process per core (dask sets one BLAS thread per worker) and dask's profiler off
(:func:`local_cluster`); ``client`` may be a ``Client`` or
a scheduler address (see the README for dask-jobqueue on SLURM). Inside a task the chains
run on as many cores as the worker has threads, so one after another on a
single-threaded worker; the draws do not depend on it. The frames are scattered to every
worker once (``broadcast=True``); a task carries only its unit's counts. A worker that
dies has its tasks rerun by the scheduler (``distributed.scheduler.allowed-failures``).
The same ``seed`` is used for every unit, so a unit's draws equal those of
``bayesrf.sample(pop.sel(unit=id), ..., seed=seed)`` run with one BLAS thread, as the
workers run (``make`` sets one too): other thread counts sum in another order, which moves
the MAP start in its last bits and, through NUTS, every draw.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from tqdm import tqdm

from .data import validate_recording
from .design import make_design
from .errors import BayesRFError, DataError, recorded
from .inference import METHODS, data_checksum, fit_map, poisson_only, sample
from .population import load_population, select_units
from .posterior import ci_prob
from .priors import PriorSpec, load_prior
from .population_store import (
    flat_row, is_done, lean, load_population_result, read_index, recorded_row, remove_orphans, write_atomic,
    write_index, write_summary_csv,
)
from .results import data_groups, package_version, read_tree
from .unit_features import baseline_log_likelihood, rf_evidence, rf_features

__all__ = ["fit_key", "fit_population", "fit_unit", "local_cluster", "unit_result"]


def fit_key(spec: PriorSpec, checksum: str, settings: dict[str, Any]) -> str:
    """sha256 of everything a unit's fit depends on (spec, data, settings, bayesrf's version)."""
    text = json.dumps({"spec": spec.to_json(), "data": checksum, "settings": settings, "version": package_version()},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _loo_group(tree: xr.DataTree) -> tuple[xr.Dataset, Any]:
    import arviz_stats as azs

    loo, notes = recorded(lambda: azs.loo(tree, pointwise=True))
    ds = xr.Dataset({"elpd_i": loo.elpd_i, "pareto_k": loo.pareto_k})
    ds.attrs.update(elpd=float(loo.elpd), se=float(loo.se), p=float(loo.p), warnings=notes)
    return ds, loo


def _unit_recording(shared: xr.Dataset, unit: Any, counts: np.ndarray, attrs: dict[str, Any]) -> xr.Dataset:
    rec = shared.assign(counts=("time", counts)).assign_coords(unit=unit)
    rec.attrs.update(attrs)
    return validate_recording(rec)


def fit_unit(shared: xr.Dataset, unit: Any, counts: np.ndarray, attrs: dict[str, Any], spec_json: str,
             settings: dict[str, Any], out: str) -> dict[str, Any]:
    """Fit one unit and write it to the store; the row of ``index.json`` (runs inside a dask task).

    Any exception is caught and recorded (``units/<id>.error.json``) so the other units go on. A unit
    already recorded as done with the same key (dask reruns a finished task whose worker died) is not
    fitted again: its recorded row is returned.
    """
    done = recorded_row(Path(out), unit, settings["key"])
    if done is not None:
        return done
    started = time.perf_counter()
    spec = PriorSpec.from_json(spec_json)
    units_dir = Path(out) / "units"
    row: dict[str, Any] = {"unit": unit, "key": settings["key"], "worker_pid": os.getpid()}
    try:
        rec = _unit_recording(shared, unit, counts, attrs)
        tree = _fit(rec, spec, settings)
        row.update(_describe(rec, spec, tree, settings))
        stored = lean(tree)
        stored.attrs.update(flat_row(row) | {"fit_key": settings["key"], "unit": str(unit), "status": "done"})
        _add_children(stored, row.pop("groups"))
        write_atomic(stored, units_dir / f"{unit}.nc")
        row["status"] = "done"
    except Exception as exc:  # recorded per unit, never raised: one bad unit must not stop the population
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                   traceback="".join(traceback.format_exception_only(exc)).strip())
        error_file = units_dir / f"{unit}.error.json"
        error_file.write_text(json.dumps(flat_row(row), indent=2))
    row["wall_s"] = time.perf_counter() - started
    row.pop("groups", None)
    return row


def _fit(rec: xr.Dataset, spec: PriorSpec, s: dict[str, Any]) -> xr.DataTree:
    if s["method"] == "map":
        return fit_map(rec, spec, lags=s["lags"], estimates=False)
    return sample(rec, spec, lags=s["lags"], draws=s["draws"], tune=s["tune"], chains=s["chains"], seed=s["seed"],
                  method=s["method"], cores=s["cores"], estimates=False, reuse_compiled=True)


def _describe(rec: xr.Dataset, spec: PriorSpec, tree: xr.DataTree, s: dict[str, Any]) -> dict[str, Any]:
    """Diagnostics, evidence and features of one fit (evidence needs draws: not for MAP)."""
    row: dict[str, Any] = {key: tree.attrs[key] for key in ("max_rhat", "min_ess_bulk", "n_divergent", "diagnostics_ok")
                           if key in tree.attrs}
    row["groups"] = {}
    if s["method"] != "map":
        loo_ds, loo = _loo_group(tree)
        baseline = baseline_log_likelihood(make_design(rec, s["lags"]), spec, draws=1000, seed=s["seed"])
        row.update(rf_evidence(loo, baseline))
        row.update(rf_features(tree, s["prob"]))
        row["groups"]["loo"] = loo_ds
    else:
        row.update(rf_features(tree, s["prob"]))
    return row


def _add_children(tree: xr.DataTree, groups: dict[str, xr.Dataset]) -> None:
    for name, ds in groups.items():
        tree[name] = xr.DataTree(ds)


def local_cluster(workers: int | None = None, profile: bool = False) -> Any:
    """The ``distributed.LocalCluster`` :func:`fit_population` starts: ``workers`` single-threaded worker processes
    (default one per core), a dashboard on a free port, and dask's statistical profiler off in the workers.

    The profiler samples every worker thread's stack every 10 ms. ``benchmarks/bench_dask_profiler.py`` (2 workers
    on 2 cores, its decision rule fixed before the run) measured the population's NUTS tasks slower with it on than off,
    by less than identical runs varied, so it is off; the dashboard's profile page stays empty. ``profile=True``
    turns it on (dask's own default).
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.worker.profile.enabled": profile}):  # copied into each worker at its start
        return LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                            dashboard_address=":0")


def _client(client: Any, workers: int | None) -> tuple[Any, Callable[[], None]]:
    """A dask Client and how to close what this call started."""
    from distributed import Client

    # set_as_default=False: a Client otherwise becomes dask's global scheduler and outlives this call
    if isinstance(client, Client):
        return client, lambda: None
    if client is not None:
        remote = Client(client, set_as_default=False)
        return remote, remote.close
    cluster = local_cluster(workers)
    new = Client(cluster, set_as_default=False)

    def close() -> None:
        new.close()
        cluster.close()

    return new, close


def _line(row: dict[str, Any]) -> str:
    """What the progress output says about one finished unit."""
    if row["status"] == "done":
        ev = f"elpd gain {row['elpd_diff']:.1f} +- {row['elpd_diff_se']:.1f}" if "elpd_diff" in row else "no evidence (MAP)"
        diag = f"R-hat {row['max_rhat']:.3f}, ESS {row['min_ess_bulk']:.0f}" if "max_rhat" in row else ""
        text = f"{row['wall_s']:.1f} s; {diag}{'; ' if diag else ''}{ev}{'; RF' if row.get('has_rf') else ''}"
    else:
        text = row["status"] + (f": {row['error']}" if "error" in row else "")
    return f"unit {row['unit']}: {text}"


def fit_population(
    pop: xr.Dataset | str | Path,
    prior: str | PriorSpec = "local",
    *,
    out: str | Path,
    lags: int = 5,
    method: str = "nuts",
    draws: int = 1000,
    tune: int | None = None,
    chains: int = 4,
    seed: int = 0,
    units: Sequence[Any] | None = None,
    client: Any = None,
    workers: int | None = None,
    prob: float | None = None,
    progress: bool = True,
    screen: str | PriorSpec | None = None,
) -> xr.DataTree:
    """Fit every unit of a population, one dask task per unit, into the resumable store ``out``.

    Parameters
    ----------
    pop : Dataset or path
        A population (:mod:`bayesrf.population`) or a file :func:`bayesrf.load_population` reads.
    prior : str or PriorSpec
        The prior of every unit.
    out : str or Path
        The store (see the module docstring); created if needed, resumed if it exists.
    lags, draws, tune, chains, seed
        As for :func:`bayesrf.sample` (the same seed for every unit).
    method : {"nuts", "laplace", "map"}
        ``map`` gives no evidence (it needs draws).
    units : sequence of ids, optional
        Fit only these units.
    client : distributed.Client or str, optional
        An existing client, or a scheduler address; default a new LocalCluster.
    workers : int, optional
        Worker processes of the LocalCluster (default one per core).
    prob : float, optional
        Probability of the features' credible intervals; default ArviZ's ``rcParams["stats.ci_prob"]``.
    progress : bool
        A progress bar with the ETA (tqdm) under one line per finished unit, and the dashboard address.
    screen : str or PriorSpec, optional
        A fixed-scale prior (e.g. ``"ridge"``): first fit every unit by Laplace with it (into
        ``out/screen``, resumable too), then fit with ``prior``/``method`` only the units with
        evidence of an RF; the others are listed with status ``"screened out"`` and their
        screening evidence. It pays when the share of units without an RF exceeds the cost of a
        Laplace fit over that of the full fit (see the README).

    Returns
    -------
    DataTree
        :func:`load_population_result` of the store.
    """
    if method not in (*METHODS, "map"):
        raise BayesRFError(f"method must be one of {(*METHODS, 'map')}; got {method!r}.")
    pop = load_population(pop) if isinstance(pop, (str, Path)) else pop
    if "unit" not in pop["counts"].dims:
        raise DataError("fit_population takes a population with a 'unit' dim; see bayesrf.load_population.")
    pop = select_units(pop, units)
    spec = prior if isinstance(prior, PriorSpec) else load_prior(prior)
    if method == "laplace":
        poisson_only(spec, "fit_population(method='laplace')", instead="fit_population(method='nuts')")
    store = Path(out)
    (store / "units").mkdir(parents=True, exist_ok=True)
    screened_out: dict[str, dict[str, Any]] = {}
    if screen is not None:
        pop, screened_out = _screen(pop, screen, store / "screen", lags=lags, draws=draws, chains=chains, seed=seed,
                                    client=client, workers=workers, prob=prob, progress=progress)
    settings = {"lags": lags, "method": method, "draws": draws, "tune": tune, "chains": chains, "seed": seed,
                "prob": ci_prob(prob)}
    attrs = {key: pop.attrs[key] for key in ("sha256", "source") if key in pop.attrs}
    shared_ds = pop[["stim", "duration"]]  # selecting variables keeps only their own coordinates
    index = read_index(store) | screened_out
    todo = []
    for unit, checksum in _checksums(pop).items():
        key = fit_key(spec, checksum, settings)
        if is_done(store, unit, key):
            index[str(unit)] = index.get(str(unit), {}) | {"status": "done", "key": key}
        else:
            todo.append((unit, key))
    write_index(store, index)
    remove_orphans(store)  # a previous run's killed workers
    if todo and pop.sizes["unit"]:
        _run(todo, pop, shared_ds, attrs, spec, settings, store, index, client, workers, progress)
        remove_orphans(store)  # workers killed during this run: their units were rerun elsewhere
    write_summary_csv(store)
    return load_population_result(store)


def unit_result(store: str | Path, unit: Any, population: xr.Dataset | str | Path) -> xr.DataTree:
    """One stored unit's result with its stimulus restored from the population it was fitted on.

    A stored unit keeps no copy of the frames (:func:`bayesrf.population_store.lean`). This puts
    them back (``constant_data.stim``, prepared as the fit prepared them), so that
    :func:`bayesrf.posterior_predictive`, :func:`bayesrf.plots.plot_ppc` and ``design_from_result`` work on it
    as on a fresh fit.

    Parameters
    ----------
    store : path
        The ``out`` directory of :func:`fit_population`.
    unit : unit id
        As in the population's ``unit`` coordinate.
    population : xarray.Dataset or path
        The population (or its file) the store was fitted on; its unit's data checksum must equal
        the stored one.

    Raises
    ------
    DataError
        The unit has no stored result, or the population is not the one it was fitted on.
    """
    path = Path(store) / "units" / f"{unit}.nc"
    if not path.is_file():
        raise DataError(f"{path} does not exist: unit {unit!r} has no stored result (see index.json for its status).")
    tree = read_tree(path)
    pop = population if isinstance(population, xr.Dataset) else load_population(population)
    if unit not in pop["unit"].values:
        raise DataError(f"unit {unit!r} is not in the population; its units are {pop['unit'].values.tolist()[:10]}.")
    rec = pop.sel(unit=unit)
    if data_checksum(rec) != tree.attrs["data_sha256"]:
        raise DataError(f"unit {unit!r} of this population has other data than the unit stored in {path}: pass the "
                        "population file the store was fitted on.")
    spec = PriorSpec.from_json(tree.attrs["bayesrf_spec"])
    stim = data_groups(make_design(rec, int(tree.attrs["n_lags"])), spec)["constant_data"]["stim"]
    tree["constant_data"] = xr.DataTree(tree["constant_data"].to_dataset().assign(stim=stim))
    return tree


def _screen(pop: xr.Dataset, prior: str | PriorSpec, out: Path, **options: Any) -> tuple[xr.Dataset, dict]:
    """Laplace fits of every unit with a fixed-scale prior; the units with evidence of an RF, and
    index rows (status ``"screened out"``) for the others."""
    summary = fit_population(pop, prior, out=out, method="laplace", **options)["summary"].to_dataset()
    keep = summary["unit"].values[(summary["status"] == "done").values & (summary["has_rf"] == 1).values]
    rows = {str(unit): {"status": "screened out", "unit": unit.item() if hasattr(unit, "item") else unit,
                        **{key: summary[key].sel(unit=unit).item() for key in ("elpd_diff", "elpd_diff_se", "has_rf")}}
            for unit in summary["unit"].values if unit not in set(keep.tolist())}
    return pop.sel(unit=list(keep)), rows


def _checksums(pop: xr.Dataset) -> dict[Any, str]:
    """Each unit's data checksum: from the source file's sha256, else from the frames (hashed once) and its counts."""
    units = pop["unit"].values.tolist()
    if "sha256" in pop.attrs:
        return {unit: data_checksum(pop.sel(unit=unit)) for unit in units}
    shared = hashlib.sha256(np.ascontiguousarray(pop["stim"].values).tobytes()
                            + np.ascontiguousarray(pop["duration"].values).tobytes()).hexdigest()
    return {unit: hashlib.sha256(f"{shared}:{unit!r}".encode()
                                 + np.ascontiguousarray(pop["counts"].sel(unit=unit).values).tobytes()).hexdigest()
            for unit in units}


def _run(todo: list[tuple[Any, str]], pop: xr.Dataset, shared_ds: xr.Dataset, attrs: dict[str, Any], spec: PriorSpec,
         settings: dict[str, Any], store: Path, index: dict[str, dict[str, Any]], client: Any, workers: int | None,
         progress: bool) -> None:
    from distributed import as_completed

    dask_client, close = _client(client, workers)
    try:
        if progress:
            print(f"bayesrf: {len(todo)} unit(s) to fit on {len(dask_client.scheduler_info()['workers'])} worker(s); "
                  f"dashboard {dask_client.dashboard_link}", file=sys.stderr, flush=True)
        shared = dask_client.scatter(shared_ds, broadcast=True)
        threads = min(dask_client.nthreads().values())
        futures = [dask_client.submit(fit_unit, shared, unit, pop["counts"].sel(unit=unit).values, attrs,
                                      spec.to_json(), settings | {"key": key, "cores": threads}, str(store),
                                      key=f"bayesrf-unit-{unit}-{key[:12]}", pure=False)
                   for unit, key in todo]
        with tqdm(total=len(todo), unit="unit", file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:
            for future in as_completed(futures, loop=dask_client.loop):
                row = future.result()
                index[str(row["unit"])] = flat_row(row)
                write_index(store, index)
                future.release()  # recorded: dask must not rerun it if the worker holding the row dies
                if progress:
                    bar.write(_line(row), file=sys.stderr)
                bar.update()
    finally:
        close()


