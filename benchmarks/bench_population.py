"""Population throughput on dask.distributed, side by side in one run (2 cores).

A simulated population (default 16 units, 20 x 15 px, 5 lags, 3,000 frames) is fitted three
ways with the same prior and NUTS settings:

1. a plain sequential loop of ``bayesrf.sample`` calls (each runs its chains on both cores);
2. ``fit_population`` on a 1-worker LocalCluster;
3. ``fit_population`` on a 2-worker LocalCluster (one thread each).

It prints units per hour and the ratios 2 workers / 1 worker (goal >= 1.8) and
2 workers / sequential (goal >= 1.25); dask's overhead per task (the cluster's wall time
times its workers, minus the tasks' own wall time, per task, as a share of a task); the bytes
a task carries against the stimulus's size; each worker's peak resident memory; and the
size of a stored (lean) unit of the real neuron at 4 chains x 1000 draws (Laplace draws: the
same shapes as NUTS) against the issue's 25 MB target. From the measured per-unit cost it
projects the time of 1,000 units on 2, 32 and 512 cores.

Run: ``python benchmarks/bench_population.py [--units 32 --prior local --draws 1000 --tune 300 --chains 4]``
(about 80 minutes with the defaults on 2 cores);
writes ``docs/population_bench.json``.

Amendment (session 36, after the stored run; nothing above changed): the JSON also stores each cluster's summed
task time (``task_s``: the tasks' own wall times, measured inside the workers), so that a run shows how much of the
2-worker shortfall is the tasks slowing down beside each other rather than dask; ``bench_contention.py`` measures
that slowdown without dask. The stored run predates it and lacks the field.

Amendment (session 37, before its run; nothing above changed): each cluster also stores where its tasks' time went
(``phases_s``: the sums over units of the stored results' ``time_start_s``, ``time_compile_s`` and ``time_sampling_s``,
and the rest of the task: log densities, LOO, the baseline model, features and the write), so that the 1- and 2-worker
clusters can be compared phase by phase.

Amendment (session 37, after its run; nothing above changed): ``bench_dask_profiler.py`` measured the tasks 1.11x
slower on 2 workers with dask's profiler on than off, less than identical runs varied; by its rule ``fit_population``'s
own cluster now runs without it. The clusters here are now that cluster (``bayesrf.population_fit.local_cluster``), so
the next run measures what users get; the stored runs used dask's defaults (the profiler on).

Amendment (session 45, before its run; nothing above changed): a run with a structured prior, the issue's ``local``:
``--prior local --units 8 --out docs/population_bench_local.json``, the other settings the defaults. 8 units, not 16,
because one ``local`` unit took 92 to 128 s of wall time in a sequential loop here (two units timed before this
amendment, the same settings), so 16 units three ways would take about 100 minutes of a 180-minute session; with 8
units a worker's compilations (once per block size of ``bayesrf.structured.BLOCK_SIZES`` it meets, pilot and centred
model) weigh more per unit than they would over 16, in all three ways. Nothing else runs beside it. The goals and
readings are those above; ``docs/population_bench.json`` (``ridge``) stays as it is. ``phases_s`` also holds the
pilot run's time (``time_pilot_s``: its compilation, tuning and draws) when the units record one, so that it is not
counted in the rest; a first start of this run was stopped 14 minutes in, before any result, to add it.

Amendment (session 45, after its run; nothing above changed): the run took 07:33-08:20 UTC with nothing else
computing (files were edited meanwhile). Its ``phases_s`` sum to more than the tasks' time (``rest_s`` -197 s on
1 worker, -222 s on 2), which one process running one task at a time cannot do. A probe afterwards (3 small
``local`` units on a 1-worker cluster) found each unit's recorded phases within its own wall time; the cause was not
found, so the README does not quote this run's phases. The pilot in this run ran ``min(chains, cores)`` chains, one
on the clusters' single-threaded workers and two in the sequential loop; since this run it runs 2 whatever the
cores (``NutsForm.pilot_chains``), so the clusters' tasks now do more work than they did here.

Amendment (session 46, before its run; nothing above changed): the ``local`` run again, the same command, now that
the pilot runs 2 chains everywhere; it replaces ``docs/population_bench_local.json`` (git keeps the session-45 run).
The JSON also stores each unit's task wall time beside the phases its result records (``units_s``, per cluster), to
find which units' phases exceed their task. Nothing else runs beside it; goals and readings as above.

Amendment (session 46, after its run; nothing above changed): the run took 10:23-11:23 UTC with nothing else
computing or edited. Every unit's recorded phases lie within its task's wall time (8 to 12 s of rest each), so the
session-45 run's negative ``rest_s`` did not recur; its cause is still unknown. With the 2-chain pilot the clusters
are slower than the loop (2 workers / sequential 0.83) and 2 workers / 1 worker is 1.59.
"""

from __future__ import annotations

import argparse
import json
import pickle
import tempfile
import time
import warnings
from pathlib import Path

import xarray as xr

import bayesrf
from bayesrf.population_fit import fit_population, local_cluster
from bayesrf.population_store import lean, write_atomic

OUT = Path(__file__).resolve().parent.parent / "docs" / "population_bench.json"


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def population(units: int = 16, frames: int = 3000):
    """The protocol's simulated population (20 x 15 px, 5 lags, a fifth of the units without an RF, seed 0)."""
    return bayesrf.simulate_population(n_units=units, n_frames=frames, shape=(20, 15), lags=5, no_rf=0.2, seed=0)


def sequential(pop, prior: str, settings: dict) -> float:
    """Wall time of a loop of ``sample`` calls, one unit after another."""
    started = time.perf_counter()
    with warnings.catch_warnings(record=True):  # diagnostics warnings are stored in each result's attrs
        warnings.simplefilter("always")
        for unit in pop["unit"].values:
            bayesrf.sample(pop.sel(unit=unit), prior, **settings, estimates=False)  # as fit_population
    return time.perf_counter() - started


def on_cluster(pop, prior: str, settings: dict, workers: int, profile: bool = False) -> dict:
    """Wall time, summed task time, its phases and peak worker memory of fit_population on a fresh LocalCluster
    (``local_cluster``; ``profile``: dask's profiler in its workers)."""
    from distributed import Client

    with tempfile.TemporaryDirectory() as out, local_cluster(workers, profile) as cluster, \
            Client(cluster, set_as_default=False) as client:
        started = time.perf_counter()
        result = fit_population(pop, prior, out=out, client=client, progress=False, **settings)
        wall = time.perf_counter() - started
        tasks = task_walls(result["summary"])
        peaks = list(client.run(_peak_rss_mb).values())
        phases, units = task_phases(Path(out), tasks)
    return {"wall_s": wall, "task_s": sum(tasks.values()), "phases_s": phases, "units_s": units,
            "worker_peak_mb": max(peaks)}


def task_walls(summary: xr.Dataset) -> dict[str, float]:
    """Each unit's task wall time (s) in a ``fit_population`` summary, by unit."""
    return {str(unit): float(wall) for unit, wall in zip(summary["unit"].values, summary["wall_s"].values, strict=True)}


def task_phases(out: Path, wall: dict[str, float]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Sums over a store's units of the NUTS phases their results record (a structured prior's pilot run too) and
    the rest of the tasks' time; and each unit's task wall time (``wall``, by unit) beside its recorded phases."""
    names = ("time_start_s", "time_compile_s", "time_sampling_s", "time_pilot_s")
    units = {}
    for path in sorted((out / "units").glob("*.nc")):
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            units[path.stem] = {"wall_s": wall[path.stem]} | {
                name: float(tree.attrs[name]) for name in names if name in tree.attrs}
    phases = {name: sum(unit.get(name, 0.0) for unit in units.values()) for name in names
              if any(name in unit for unit in units.values())}
    return phases | {"rest_s": sum(wall.values()) - sum(phases.values())}, units


def lean_size_mb() -> dict:
    """Size of the real neuron's stored unit at 4 x 1000 draws (ridge-hier shapes: 1,500 weights)."""
    tree = bayesrf.sample(bayesrf.load_recording(), "ridge", lags=5, method="laplace", draws=1000, chains=4, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        full = bayesrf.save(tree, Path(tmp) / "full.nc").stat().st_size
        path = Path(tmp) / "lean.nc"
        write_atomic(lean(tree), path)
        return {"full_mb": full / 2**20, "lean_mb": path.stat().st_size / 2**20}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--prior", default="ridge")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=300)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    pop = population(args.units, args.frames)
    settings = {"lags": 5, "draws": args.draws, "tune": args.tune, "chains": args.chains, "seed": 0}
    seq = sequential(pop, args.prior, settings)
    one = on_cluster(pop, args.prior, settings, 1)
    two = on_cluster(pop, args.prior, settings, 2)
    per_hour = {name: 3600 * args.units / wall for name, wall in
                (("sequential", seq), ("1 worker", one["wall_s"]), ("2 workers", two["wall_s"]))}
    task_mean = two["task_s"] / args.units
    overhead = (two["wall_s"] * 2 - two["task_s"]) / args.units
    counts = pop["counts"].isel(unit=0).values
    task_bytes = len(pickle.dumps((0, counts, {"sha256": "0" * 64}, bayesrf.load_prior(args.prior).to_json(), settings)))
    unit_core_s = two["task_s"] / args.units  # one unit on one core
    result = {
        "config": vars(args) | {"out": str(args.out), "shape": [20, 15], "lags": 5},
        "units_per_hour": per_hour,
        "ratio_2_over_1_workers": per_hour["2 workers"] / per_hour["1 worker"],
        "ratio_2_workers_over_sequential": per_hour["2 workers"] / per_hour["sequential"],
        "overhead_per_task_s": overhead, "overhead_share_of_task": overhead / task_mean,
        "task_bytes": task_bytes, "stimulus_bytes": int(pop["stim"].nbytes),
        "worker_peak_mb": {"1 worker": one["worker_peak_mb"], "2 workers": two["worker_peak_mb"]},
        "task_s": {"1 worker": one["task_s"], "2 workers": two["task_s"]},
        "phases_s": {"1 worker": one["phases_s"], "2 workers": two["phases_s"]},
        "units_s": {"1 worker": one["units_s"], "2 workers": two["units_s"]},
        "unit_core_s": unit_core_s,
        "projection_1000_units_h": {str(c): 1000 * unit_core_s / c / 3600 for c in (2, 32, 512)},
        "stored_unit": lean_size_mb(),
    }
    print(f"{args.units} units, prior {args.prior}, NUTS {args.chains} x ({args.tune} + {args.draws}):")
    for name, rate in per_hour.items():
        print(f"  {name:<11} {rate:7.1f} units/hour")
    print(f"  2 workers / 1 worker {result['ratio_2_over_1_workers']:.2f} (goal >= 1.8); 2 workers / sequential "
          f"{result['ratio_2_workers_over_sequential']:.2f} (goal >= 1.25)")
    print(f"  dask overhead {overhead:.2f} s per task = {100 * result['overhead_share_of_task']:.1f} % of a task "
          f"(goal <= 5 %); a task carries {task_bytes:,} bytes, the stimulus is {result['stimulus_bytes']:,} (sent once)")
    print(f"  worker peak memory {two['worker_peak_mb']:.0f} MB; one unit = {unit_core_s:.1f} core-seconds -> 1,000 units: "
          + ", ".join(f"{h:.2f} h on {c} cores" for c, h in result["projection_1000_units_h"].items()))
    print(f"  stored real-neuron unit, 4 x 1000 draws: {result['stored_unit']['lean_mb']:.1f} MB lean "
          f"(full result {result['stored_unit']['full_mb']:.1f} MB; target <= 25 MB)")
    for name, phases in result["phases_s"].items():
        print(f"  {name}: tasks' time " + ", ".join(f"{key.removeprefix('time_')} {value:.0f}"
                                                     for key, value in phases.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
