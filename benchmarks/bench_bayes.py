"""MAP and NUTS on the real neuron (5 lags jointly, 1,500 weights).

Prints: MAP wall time for ridge / lasso / ridge-hier / lasso-hier next to
sklearn's PoissonRegressor at the ridge-equivalent alpha (same run), and for
ridge-hier and lasso-hier NUTS with nutpie and with PyMC's sampler: wall time
including compilation, min bulk-ESS over all weights, ESS/s, max R-hat and
divergences; then ridge-hier with ``method="laplace"``.  Usage: ``python benchmarks/bench_bayes.py [draws] [tune] [chains]``
(default 1000 1000 4).
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from sklearn.linear_model import PoissonRegressor

import bayesrf
from bayesrf.design import make_design
from bayesrf.priors import alpha_for


def main() -> None:
    draws, tune, chains = (int(a) for a in (sys.argv[1:] + ["1000", "1000", "4"][len(sys.argv) - 1 :])[:3])
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
        bayesrf.fit_map(rec, name, lags=5)
        dt = time.perf_counter() - t
        print(f"{name:12s} {dt:7.2f} {dt / t_sk:17.2f}")
    print(f"\nNUTS, {chains} chains x {draws} draws (+{tune} tune), wall time includes compilation")
    print(f"{'prior':12s} {'sampler':8s} {'wall s':>7s} {'min ESS':>8s} {'ESS/s':>7s} {'max R-hat':>9s} {'diverg.':>7s}")
    for name, samplers in (("ridge-hier", ("nutpie", "pymc")), ("lasso-hier", ("nutpie", "pymc"))):
        for sampler in samplers:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = bayesrf.sample(rec, name, lags=5, draws=draws, tune=tune, chains=chains, seed=0, sampler=sampler)
            a = tree.attrs
            print(f"{name:12s} {sampler:8s} {a['wall_time_s']:7.1f} {a['min_ess_bulk']:8.0f} "
                  f"{a['min_ess_bulk'] / a['wall_time_s']:7.1f} {a['max_rhat']:9.3f} {a['n_divergent']:7d}", flush=True)
    t = time.perf_counter()
    lap = bayesrf.sample(rec, "ridge-hier", lags=5, method="laplace", draws=draws, chains=chains, seed=0)
    print(f"\nridge-hier, method='laplace' (type-II ML scales, Gaussian at the MAP): {time.perf_counter() - t:.1f} s; "
          f"scales {np.round(lap.posterior.rf_scale.values[0, 0], 4)}")


if __name__ == "__main__":
    main()
