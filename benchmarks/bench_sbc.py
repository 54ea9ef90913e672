"""Simulation-based calibration with many simulations (default 200; ~25 min on 2 cores).

Prints the chi-square p-value of the rank histogram per parameter group and
the histograms. Usage: ``python benchmarks/bench_sbc.py [n_sims]``.
"""

from __future__ import annotations

import sys

from bayesrf.validate import sbc


def main() -> None:
    n_sims = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    result = sbc(n_sims=n_sims, seed=1)
    print(f"SBC: {n_sims} simulations, ranks among {result.n_draws} thinned NUTS draws (ridge prior, 6x6 px, 2 lags)")
    print(f"{'group':10s} {'chi2 p':>8s}  rank histogram (10 bins)")
    for name, p in result.pvalues.items():
        print(f"{name:10s} {p:8.3f}  {result.histogram(name).tolist()}")


if __name__ == "__main__":
    main()
