"""How much does a second process add on this machine? The ceiling of bench_population's 2-worker ratio (issue #20).

``bench_population.py``'s ratio 2 workers / 1 worker (goal >= 1.8) mixes two costs: dask's (scheduling, the
nanny and scheduler processes) and the slowdown of a process when a second one computes beside it on the other
core (the two cores share memory bandwidth and caches; this machine is a 2-vCPU virtual machine). This script
measures the second alone, without dask.

Protocol (fixed before the first run)
-------------------------------------
- Work: ``bench_population.py``'s default population (``bayesrf.simulate_population``: 16 units, 3,000 frames,
  20 x 15 px, 5 lags, ``no_rf=0.2``, seed 0) and NUTS settings (prior ``ridge``, 2 chains x (300 + 500) draws,
  seed 0), the chains one after the other (``cores=1``) as on a single-threaded worker, one BLAS thread.
- A job: ``bayesrf.sample`` of units ``UNITS`` in turn (the second reuses the first's compiled model, as on a
  worker), in a fresh spawned process, timed inside it from before the first fit to after the last. What a
  population task adds after sampling (LOO, the baseline-only model, writing) is not in the job.
- Alone: one job, nothing else computing. Side by side: two identical jobs started together. Order: alone, side by
  side, alone, side by side (``REPEATS`` repetitions).
- Reported per repetition: the jobs' wall times, the slowdown (side by side / alone, the slower of the pair) and the
  ceiling of the 2-process throughput gain, 2 x alone / side by side; their means; ``bench_population.py``'s
  stored ratio beside them (a different run: only the two ratios, not absolute times, are compared).

Usage: ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/bench_contention.py`` ->
``docs/contention.json`` (about 15 minutes on 2 cores).

After the first run (session 36, 06:42-06:55 UTC; the protocol above unchanged): beside it ran, for a few seconds
each around 06:44 UTC, ``tests/test_readme.py``, one test of ``tests/test_benchmarks.py`` and pyflakes (one core).

Amendment (session 40, before its second run; the protocol above unchanged): ``bench_cluster_cpu.py`` found the
population's sampling 1.19x slower per unit on a 2-worker cluster than on a 1-worker one, with the workers' CPU
seconds per unit up 16 % although their draws are the same; this machine is a virtual machine whose host may differ
between sessions, so the first run's 1.02x may not describe today's cores. The script runs again, right after
``bench_cluster_cpu.py``, with nothing else computing; the first run is kept in the JSON under ``"superseded"`` and
the README reads the new one.

After the second run (session 40, 19:34-19:42 UTC; the protocol above unchanged): beside it ran only editing, one
``perf stat`` of a trivial command and two prints of README text (seconds each). A process slowed by 1.17x in the
first repetition and 1.02x in the second (the first run: 0.99x and 1.05x), so the README now reports the spread and
no longer says the cores cost almost nothing.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
OUT = DOCS / "contention.json"
UNITS = (0, 1)
REPEATS = 2
SETTINGS = {"lags": 5, "draws": 500, "tune": 300, "chains": 2, "seed": 0, "cores": 1, "estimates": False}
PRIOR = "ridge"


def _job(results: mp.Queue) -> None:
    """Fit :data:`UNITS` one after another; put the wall time on ``results``."""
    import warnings

    import bayesrf
    from bench_population import population

    pop = population()
    started = time.perf_counter()
    with warnings.catch_warnings(record=True):  # diagnostics warnings are stored in each result's attrs
        warnings.simplefilter("always")
        for unit in UNITS:
            bayesrf.sample(pop.sel(unit=unit), PRIOR, **SETTINGS)  # as bench_population.py
    results.put(time.perf_counter() - started)


def run_jobs(n: int) -> list[float]:
    """Wall times of ``n`` identical jobs started together, each in its own process."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_job, args=(results,)) for _ in range(n)]
    for proc in procs:
        proc.start()
    times = [results.get() for _ in procs]
    for proc in procs:
        proc.join()
    return sorted(times)


def main() -> dict:
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1" or os.environ.get("OMP_NUM_THREADS") != "1":
        raise SystemExit("run with OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 (one BLAS thread per process)")
    repetitions = []
    for _ in range(REPEATS):
        alone, = run_jobs(1)
        pair = run_jobs(2)
        repetitions.append({"alone_s": alone, "side_by_side_s": pair, "slowdown": pair[-1] / alone,
                            "ceiling": 2 * alone / pair[-1]})
        print(f"alone {alone:.1f} s; side by side {pair[0]:.1f} and {pair[-1]:.1f} s: slowdown "
              f"{repetitions[-1]['slowdown']:.2f}, ceiling of 2 processes / 1 {repetitions[-1]['ceiling']:.2f}")
    population = json.loads((DOCS / "population_bench.json").read_text())
    earlier = json.loads(OUT.read_text()) if OUT.exists() else None
    result = {"protocol": __doc__, "units": list(UNITS), "prior": PRIOR, "settings": SETTINGS,
              "cpu_count": os.cpu_count(), "repetitions": repetitions,
              "mean_slowdown": sum(r["slowdown"] for r in repetitions) / REPEATS,
              "mean_ceiling": sum(r["ceiling"] for r in repetitions) / REPEATS,
              "superseded": (earlier or {}).pop("superseded", []) + ([earlier] if earlier else [])}
    print(f"mean ceiling {result['mean_ceiling']:.2f}; bench_population's 2 workers / 1 worker "
          f"{population['ratio_2_over_1_workers']:.2f} (goal >= 1.8; from docs/population_bench.json, not stored here)")
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
