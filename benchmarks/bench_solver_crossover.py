"""Where bayesrf's matrix-free Newton solver overtakes its dense one, below ``MATRIX_FREE_WEIGHTS`` weights.

Protocol (fixed before the first run, session 37)
-------------------------------------------------
- Question: ``bayesrf.ml`` solves a smooth penalised Poisson GLM matrix-free (``DesignOperator``: Newton steps by
  preconditioned CG on Hessian-vector products) from ``MATRIX_FREE_WEIGHTS`` = 2,000 weights on, a threshold set
  without measurements below it. Fits of one lag alone (the per-lag ML that ``fit_map`` and ``sample`` store as
  estimates, ``fit_ml(per_lag=True)``) have a lag's pixels as weights, 1,600 at 40 x 40 px, and run dense: about
  7 s per lag at 20,000 frames. The dense solver's Hessian costs about ``n_obs * n_weights**2`` per step, the
  matrix-free one's products about ``n_obs * n_weights`` each.
- Data: ``bayesrf.simulate`` Gabor x biphasic neurons, binary frames, 50 ms frames, 20 spikes/s, seed 0. Designs
  (pixels x lags): 10 x 10 x 1, 20 x 20 x 1, 40 x 40 x 1 and 20 x 15 x 5 (100, 400, 1,600 and 1,500 weights), each
  from 1,500, 5,000 and 20,000 frames.
- Objectives: plain ML (skipped where there are fewer intervals than parameters: no unique optimum) and ridge
  with the shipped ``ridge`` prior's ``alpha`` (``bayesrf.priors.alpha_for``).
- Solvers: ``bayesrf.ml.solve_penalized`` on the dense ``[1, X]`` and on ``DesignOperator``, same tolerance; building
  either is not timed. One process, 2 BLAS threads, one untimed warm-up fit first; each fit timed once.
- Reported: both times, dense / matrix-free, the largest absolute weight difference, each solver's warnings, and
  ``cost = n_obs * n_weights**2``.
- Decision rule: ``bayesrf.ml.MATRIX_FREE_COST`` becomes the smallest measured ``cost`` such that the matrix-free
  solver is faster at every measured design and objective of that cost or more, with weights within 1e-6 of the
  dense solver's; the solver is then matrix-free from ``MATRIX_FREE_WEIGHTS`` weights or ``MATRIX_FREE_COST`` on.
  If the largest cost is not faster matrix-free, nothing changes.

Amendment (session 37, after the run; nothing above changed): the rule gave 2e8 (matrix-free faster at every design
from 100 weights x 20,000 frames on, by up to 14.5x, the same optimum to 1e-7), but it was not adopted. With it the
real neuron's fits (1,500 weights from 1,484 intervals, a spline baseline) turn matrix-free, and the ridge MAP then
missed ``tests/test_map.py``'s stationarity check on the PyMC model (largest gradient 1.6e-4, bound 1e-4): the
simulated white noise measured here is better conditioned than that. A rule that adopts it needs such designs in
its protocol.

Usage: ``python benchmarks/bench_solver_crossover.py`` -> ``docs/solver_crossover.json`` (a few minutes).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

os.environ.update(OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")  # before numpy loads BLAS

import numpy as np  # noqa: E402

import bayesrf  # noqa: E402
from bayesrf.design import make_design  # noqa: E402
from bayesrf.ml import DesignOperator, ml_penalty, solve_penalized, with_intercept  # noqa: E402
from bayesrf.priors import alpha_for, load_prior  # noqa: E402
from bench_big_posterior import messages  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "solver_crossover.json"
DESIGNS = (((10, 10), 1), ((20, 20), 1), ((40, 40), 1), ((20, 15), 5))
FRAMES = (1_500, 5_000, 20_000)
AGREE = 1e-6


def _timed(A, design, penalty) -> tuple[float, np.ndarray, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        sol = solve_penalized(A, design.counts, design.offset, penalty)
        seconds = time.perf_counter() - start
    return seconds, sol.theta, messages(caught)


def measure(shape: tuple[int, int], lags: int, frames: int, objective: str) -> dict | None:
    """Both solvers on one design and objective; None for plain ML without a unique optimum."""
    rec = bayesrf.simulate(n_frames=frames, shape=shape, lags=lags, spatial="gabor", rf_norm=1.0, rate=20.0, dt=0.05,
                           seed=0)
    design = make_design(rec, lags)
    n_params = 1 + design.n_weights
    if objective == "ml" and design.n_obs < n_params:
        return None
    alpha = alpha_for(load_prior("ridge"), design.n_obs) if objective == "ridge" else 0.0
    penalty = ml_penalty(n_params, design.n_obs, "l2" if objective == "ridge" else None, alpha)
    dense_s, dense_theta, dense_warn = _timed(with_intercept(design.matrix()), design, penalty)
    free_s, free_theta, free_warn = _timed(DesignOperator(design), design, penalty)
    return {"pixels": list(shape), "lags": lags, "weights": design.n_weights, "frames": frames,
            "objective": objective, "cost": design.n_obs * design.n_weights**2,
            "dense_s": dense_s, "matrix_free_s": free_s, "dense_over_matrix_free": dense_s / free_s,
            "max_abs_diff": float(np.max(np.abs(dense_theta[1:] - free_theta[1:]))),
            "warnings": {"dense": dense_warn, "matrix_free": free_warn}}


def crossover(rows: list[dict]) -> int | None:
    """The protocol's decision rule: the smallest cost from which on the matrix-free solver always wins."""
    lost = [row["cost"] for row in rows if not (row["dense_over_matrix_free"] > 1 and row["max_abs_diff"] <= AGREE)]
    above = [row["cost"] for row in rows if row["cost"] > max(lost, default=-1)]
    return min(above, default=None)


def main() -> dict:
    measure((10, 10), 1, 1_500, "ridge")  # warm-up: imports, BLAS start
    rows = []
    for shape, lags in DESIGNS:
        for frames in FRAMES:
            for objective in ("ml", "ridge"):
                row = measure(shape, lags, frames, objective)
                if row is None:
                    print(f"{shape[0]} x {shape[1]} x {lags}, {frames:,} frames, {objective}: skipped (fewer "
                          "intervals than parameters)", flush=True)
                    continue
                rows.append(row)
                print(f"{shape[0]} x {shape[1]} x {lags} ({row['weights']:,} weights), {frames:,} frames, "
                      f"{objective:5s}: dense {row['dense_s']:.3f} s, matrix-free {row['matrix_free_s']:.3f} s "
                      f"(x{row['dense_over_matrix_free']:.1f}), max |diff| {row['max_abs_diff']:.1e}", flush=True)
    result = {"protocol": __doc__.split("Usage:")[0].strip(), "cores": 2, "rows": rows,
              "matrix_free_cost": crossover(rows)}
    print(f"decision: MATRIX_FREE_COST = {result['matrix_free_cost']}")
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
