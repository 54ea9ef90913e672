"""MAP and NUTS on the real neuron (5 lags jointly, 1,500 weights).

Prints: MAP wall time for ridge / lasso / ridge-hier / lasso-hier next to
sklearn's PoissonRegressor at the ridge-equivalent alpha (same run), and for
ridge-hier and lasso-hier NUTS: ``bayesrf.sample`` with nutpie and with PyMC's
sampler, and the baseline — plain ``pm.sample(nuts_sampler="pymc")`` with all of
PyMC's defaults (1,000 tune, jitter + adapt_diag init) but the same number of processes on the same model: wall time
including compilation, min bulk-ESS over every sampled quantity (weights, intercept,
scales, drift), ESS/s and its ratio to the baseline, max R-hat and divergences; then
ridge-hier with ``method="laplace"``.  Usage: ``python benchmarks/bench_bayes.py [draws] [tune] [chains]``
(default 1000, ``bayesrf.sample``'s default tune, 4).
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pymc as pm
from sklearn.linear_model import PoissonRegressor

import bayesrf
from bayesrf.design import make_design
from bayesrf.nuts import chain_processes, checked_variables
from bayesrf.model import build_model
from bayesrf.priors import alpha_for
from bayesrf.diagnostics import check_diagnostics


def pymc_defaults(design, name: str, draws: int, chains: int) -> tuple[float, dict[str, float]]:
    """Wall time and diagnostics of ``pm.sample`` with PyMC's own NUTS and all its defaults."""
    t = time.perf_counter()
    model = build_model(design, bayesrf.load_prior(name))
    # processes as bayesrf.sample uses them (PyMC's own choice here was 1 process for 4 chains)
    tree = pm.sample(draws=draws, chains=chains, random_seed=0, nuts_sampler="pymc", model=model,
                     cores=chain_processes(chains), progressbar=False, compute_convergence_checks=False)
    wall = time.perf_counter() - t
    return wall, check_diagnostics(tree, checked_variables(tree["posterior"]))


def main() -> None:
    args = sys.argv[1:] + ["1000", "default", "4"][len(sys.argv) - 1 :]
    draws, chains = int(args[0]), int(args[2])
    tune = None if args[1] == "default" else int(args[1])
    rec = bayesrf.load_recording()
    design = make_design(rec, 5)
    ridge = bayesrf.load_prior("ridge")
    alpha = alpha_for(ridge, design.n_obs)
    duration = np.exp(design.offset)
    t = time.perf_counter()
    PoissonRegressor(alpha=alpha * design.n_obs / duration.sum(), solver="newton-cholesky", tol=1e-10,
                     max_iter=1000).fit(design.matrix(), design.counts / duration, sample_weight=duration)
    t_sk = time.perf_counter() - t
    print(f"MAP on the real neuron (sklearn PoissonRegressor at the ridge alpha: {t_sk:.2f} s)")
    print(f"{'prior':12s} {'MAP s':>7s} {'ratio to sklearn':>17s}")
    for name in ("ridge", "lasso", "ridge-hier", "lasso-hier"):
        t = time.perf_counter()
        bayesrf.fit_map(rec, name, lags=5, estimates=False)
        dt = time.perf_counter() - t
        print(f"{name:12s} {dt:7.2f} {dt / t_sk:17.2f}")
    print(f"\nNUTS, {chains} chains x {draws} draws (tune: {tune or 'default'}), wall time includes compilation; "
          "ratio = ESS/s over the plain pm.sample baseline")
    print(f"{'prior':12s} {'sampler':22s} {'wall s':>7s} {'min ESS':>8s} {'ESS/s':>7s} {'ratio':>6s} {'max R-hat':>9s} "
          f"{'diverg.':>7s}")
    for name in ("ridge-hier", "lasso-hier"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = {"pm.sample defaults": pymc_defaults(design, name, draws, chains)}
            for sampler in ("nutpie", "pymc"):
                tree = bayesrf.sample(rec, name, lags=5, draws=draws, tune=tune, chains=chains, seed=0, sampler=sampler)
                rows[f"bayesrf.sample {sampler}"] = (tree.attrs["wall_time_s"], tree.attrs)
        base = rows["pm.sample defaults"][1]["min_ess_bulk"] / rows["pm.sample defaults"][0]
        for label, (wall, a) in rows.items():
            rate = a["min_ess_bulk"] / wall
            print(f"{name:12s} {label:22s} {wall:7.1f} {a['min_ess_bulk']:8.0f} {rate:7.1f} {rate / base:6.2f} "
                  f"{a['max_rhat']:9.3f} {a['n_divergent']:7d}", flush=True)
    t = time.perf_counter()
    lap = bayesrf.sample(rec, "ridge-hier", lags=5, method="laplace", draws=draws, chains=chains, seed=0,
                         estimates=False)
    print(f"\nridge-hier, method='laplace' (type-II ML scales, Gaussian at the MAP): {time.perf_counter() - t:.1f} s; "
          f"scales {np.round(lap.posterior.rf_scale.values[0, 0], 4)}")


if __name__ == "__main__":
    main()
