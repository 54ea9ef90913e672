"""fit_ml speed and agreement vs scikit-learn and glum at the same penalty.

Prints one table: for the real neuron (5 lags, 1,500 weights, 1,484 intervals)
and a simulated neuron with 10,000 frames, the wall time of bayesrf.fit_ml (L2,
L1) next to sklearn's PoissonRegressor (L2) and glum (L2, L1) measured in the
same run, the ratio bayesrf / reference, and the max abs difference of the
solutions. Run: ``make bench B=ml`` or ``python benchmarks/bench_ml.py``.
"""

from __future__ import annotations

import time

import glum
import numpy as np
from sklearn.linear_model import PoissonRegressor

import bayesrf
from bayesrf.design import make_design


def timed(fn, repeat: int = 2):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def sklearn_l2(d, alpha):
    dur = np.exp(d.offset)
    m = PoissonRegressor(alpha=alpha * d.n_obs / dur.sum(), solver="newton-cholesky", tol=1e-10, max_iter=1000)
    m.fit(d.matrix(), d.counts / dur, sample_weight=dur)
    return np.r_[m.intercept_, m.coef_]


def glum_fit(d, alpha, l1_ratio):
    m = glum.GeneralizedLinearRegressor(family="poisson", alpha=alpha, l1_ratio=l1_ratio, gradient_tol=1e-8,
                                        max_iter=1000)
    m.fit(d.matrix(), d.counts, offset=d.offset)
    return np.r_[m.intercept_, m.coef_]


def ours(rec, penalty, alpha):
    f = bayesrf.fit_ml(rec, lags=5, penalty=penalty, alpha=alpha)
    return np.r_[f.intercept.item(), f.rf.values.ravel()]


def main() -> None:
    cases = {
        "real neuron (1,484 x 1,500)": (bayesrf.load_recording(), 3.0, 2e-3),
        "simulated (9,996 x 1,125)": (
            bayesrf.simulate(n_frames=10_000, shape=(15, 15), lags=5, spatial="gabor", seed=0), 1e-2, 2e-3),
    }
    print(f"{'data':30s} {'fit':6s} {'reference':10s} {'bayesrf s':>10s} {'ref s':>8s} {'ratio':>6s} {'max|diff|':>10s}")
    for name, (rec, a2, a1) in cases.items():
        d = make_design(rec, 5)
        rows = [
            ("L2", "sklearn", lambda: ours(rec, "l2", a2), lambda: sklearn_l2(d, a2)),
            ("L2", "glum", lambda: ours(rec, "l2", a2), lambda: glum_fit(d, a2, 0.0)),
            ("L1", "glum", lambda: ours(rec, "l1", a1), lambda: glum_fit(d, a1, 1.0)),
        ]
        for fit, ref_name, mine, ref in rows:
            t_mine, x_mine = timed(mine)
            t_ref, x_ref = timed(ref)
            print(f"{name:30s} {fit:6s} {ref_name:10s} {t_mine:10.2f} {t_ref:8.2f} {t_mine / t_ref:6.2f} "
                  f"{np.abs(x_mine - x_ref).max():10.1e}")


if __name__ == "__main__":
    main()
