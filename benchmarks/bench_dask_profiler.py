"""Does dask's statistical profiler slow ``fit_population``'s NUTS tasks on a 2-worker LocalCluster (2 cores)?

Protocol (fixed before the run, session 37)
-------------------------------------------
- Why: in ``docs/population_bench.json`` the tasks' NUTS sampling took 1.13x as long on the 2-worker cluster as on
  the 1-worker one, while the same fits without dask slow by 1.02x side by side (``docs/contention.json``). dask's
  workers sample every thread's stack every 10 ms by default (``distributed.worker.profile.enabled``). One
  exploratory pair of runs (4 units; profiler on 187 s, off 161 s) raised the question; it is not part of this result.
- Population and fits: ``bench_population.population(4)`` (20 x 15 px, 5 lags, 3,000 frames), prior ridge, NUTS 2
  chains x (300 + 500) draws, seed 0, one BLAS thread: the population benchmark's settings on 4 units.
- Clusters: ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``, the profiler on (dask's default) or
  off (``dask.config`` set while the cluster starts; the nannies pass it to their workers); a fresh cluster and
  store per run. Order: on, off, off, on (2 repetitions, each order once).
- Reported per run: wall time and the tasks' phases (``bench_population.task_phases``); per setting the mean; the
  ratios on / off of the mean wall time and of the mean sampling time.
- Decision: ``fit_population``'s own cluster (``bayesrf.population_fit.local_cluster``) keeps the profiler off if
  the mean wall time with it off is the lower; otherwise dask's default stays.

Usage: ``python benchmarks/bench_dask_profiler.py`` -> ``docs/dask_profiler.json`` (about 13 minutes).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench_population import on_cluster, population

OUT = Path(__file__).resolve().parent.parent / "docs" / "dask_profiler.json"
ORDER = (True, False, False, True)
SETTINGS = {"lags": 5, "draws": 500, "tune": 300, "chains": 2, "seed": 0}


def run(pop, profile: bool) -> dict:
    """Wall time and task phases of fit_population on a fresh 2-worker LocalCluster with the profiler on or off
    (``bench_population.on_cluster``)."""
    cluster = on_cluster(pop, "ridge", SETTINGS, 2, profile)
    return {"profile": profile, "wall_s": cluster["wall_s"], "task_s": cluster["task_s"]} | cluster["phases_s"]


def main() -> dict:
    pop = population(4)
    runs = []
    for profile in ORDER:
        runs.append(run(pop, profile))
        print(json.dumps(runs[-1]), flush=True)
    mean = {name: {key: float(np.mean([r[key] for r in runs if r["profile"] == on]))
                   for key in ("wall_s", "task_s", "time_sampling_s", "rest_s", "time_compile_s")}
            for name, on in (("on", True), ("off", False))}
    result = {"protocol": __doc__.split("Usage:")[0].strip(), "units": 4, "prior": "ridge", "settings": SETTINGS,
              "runs": runs, "mean": mean,
              "wall_on_over_off": mean["on"]["wall_s"] / mean["off"]["wall_s"],
              "sampling_on_over_off": mean["on"]["time_sampling_s"] / mean["off"]["time_sampling_s"],
              "profiler_off": mean["off"]["wall_s"] < mean["on"]["wall_s"]}
    print(f"profiler on / off: wall {result['wall_on_over_off']:.2f}, sampling {result['sampling_on_over_off']:.2f}; "
          f"decision: profiler {'off' if result['profiler_off'] else 'on (dask default)'}")
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
