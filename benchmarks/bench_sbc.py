"""Simulation-based calibration with 500 simulations: ``docs/sbc.json`` (about 15 minutes on 2 cores).

Protocol (session 21, written before the run; nothing is tuned on it):

* :func:`bayesrf.validate.sbc` with its defaults (ridge prior, 6 x 6 pixels, 2 lags, 800 binary frames of 0.1 s,
  weights ~ Normal(0, 0.15), intercept ~ Normal(log 20, 0.3), a prior that does not depend on the data;
  2 chains x 400 draws after 400 tuning steps), ``N_SIMS`` = 500 simulations at ``SEED`` = 2 (never run before;
  session 11's 200 simulations used seed 1);
* test quantities, one value each per simulation: the intercept, one weight chosen at random, the RF's L2 norm
  and the log-likelihood of the simulated counts; each fit's draws are thinned to the smallest bulk ESS of the
  four; ranks become fractions with random tie-breaking (:func:`bayesrf.validate.rank_fractions`);
* the goal (issue #18): the chi-square p-value of each quantity's 10-bin histogram above 0.01;
* the old statistic, for comparison with session 11's "lowest bin +3 SD": all 72 weights of every simulation, the
  share of their fractions in the lowest tenth, tested with the simulations as the independent units (z of the
  mean per-simulation share against 0.1);
* if any quantity's p-value is at most 0.01, the same simulations are refitted with 1,000 tuning steps
  (``--tune 1000``, the warm-up candidate) and reported beside the first run.

Amendment (session 24, written before its run): the first run's largest bin, the RF norm's lowest (73 of 500,
+3.4 SD), is replicated on a fresh seed, ``--seed 3`` (never run: session 11 used seed 1, the first run seed 2),
with everything else unchanged; stored under ``seed_3``. Reading, fixed here: if the norm's lowest bin again holds
at least 64 of 500 (+2 SD of the binomial count, 50 +- 6.7) the excess is systematic and stays an open item; if
not, the first run's bin is read as the chance extreme of 40 bins.

Each fit's warnings (short chains' diagnostics) are counted in the JSON, not silenced.
Run: ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/bench_sbc.py [--sims N] [--tune T] [--seed S]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bayesrf.validate import SBC_QUANTITIES, rank_fractions, sbc

DOCS = Path(__file__).resolve().parent.parent / "docs"
N_SIMS, SEED, TUNE, DRAWS, CHAINS = 500, 2, 400, 400, 2


def lowest_bin(result, bins: int = 10, seed: int = SEED) -> dict:
    """Share of all weights' rank fractions in the lowest of ``bins`` bins, with the simulations as the units
    (``seed`` breaks the ties of the ranks)."""
    ranks = result.ranks
    n_draws = ranks["n_draws"].values.reshape(-1, *(1,) * (ranks["rf"].ndim - 1))
    u = rank_fractions(ranks["rf"].values, n_draws, np.random.default_rng(seed))
    share = (u < 1 / bins).reshape(len(u), -1).mean(1)
    return {"share": float(share.mean()), "expected": 1 / bins,
            "z": float((share.mean() - 1 / bins) / (share.std(ddof=1) / np.sqrt(share.size)))}


def run(n_sims: int, tune: int, seed: int = SEED) -> dict:
    started = time.perf_counter()
    result = sbc(n_sims=n_sims, draws=DRAWS, tune=tune, chains=CHAINS, seed=seed, progress=True)
    ranks = result.ranks
    warned = ranks["warnings"].values != ""
    return {"n_sims": n_sims, "seed": seed, "tune": tune, "draws": DRAWS, "chains": CHAINS, "bins": result.bins,
            "pvalues": result.pvalues, "histograms": {q: result.histogram(q).tolist() for q in SBC_QUANTITIES},
            "kept_draws": {"min": int(ranks["n_draws"].min()), "median": float(ranks["n_draws"].median()),
                           "max": int(ranks["n_draws"].max())},
            "all_weights_lowest_bin": lowest_bin(result, seed=seed), "n_fits_warned": int(warned.sum()),
            "warnings": sorted(set(ranks["warnings"].values[warned].tolist()))[:5],
            "wall_time_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=N_SIMS)
    parser.add_argument("--tune", type=int, default=TUNE, help="tuning steps (1000: the warm-up candidate)")
    parser.add_argument("--seed", type=int, default=SEED, help="3: the replication of the first run")
    args = parser.parse_args()
    out = DOCS / "sbc.json"
    stored = json.loads(out.read_text()) if out.exists() else {}
    changed = [f"{name}_{value}" for name, value, default in (("tune", args.tune, TUNE), ("seed", args.seed, SEED))
               if value != default]
    key = "_".join(changed) or "run"
    stored[key] = run(args.sims, args.tune, args.seed) | {
        "command": " ".join(["python benchmarks/bench_sbc.py", *(f"--{c.replace('_', ' ')}" for c in changed)])}
    print(json.dumps({k: v for k, v in stored[key].items() if k != "warnings"}, indent=1))
    out.write_text(json.dumps(stored, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
