"""Does numba's fastmath break "one seed, one set of draws", and what does turning it off cost?

A session-39 check (not stored) drew ``bayesrf.sample(smooth)`` twice with seed 0 in fresh processes sharing one
PyTensor cache directory, first empty, then filled: the draws differed (by up to 0.056 in the RF); with
``numba__fastmath=False`` they were identical. Since then bayesrf sets ``pytensor.config.numba__fastmath = False``
when ``bayesrf.model`` is imported. This benchmark stores the evidence and the cost.

Protocol (fixed before the first run)
-------------------------------------
- Reproducibility: ``bayesrf.simulate(n_frames=800, shape=(6, 6), lags=3, seed=0)``; ``bayesrf.sample(rec,
  "smooth", lags=3, draws=50, tune=50, chains=2, cores=1, seed=0)``, each in its own process (one BLAS thread).
  For fastmath on and off (set after importing bayesrf), a new empty cache directory, then two runs into it: cold,
  then warm. Reported: whether the two runs' ``rf`` draws are identical, and their largest difference.
- Cost: ``bench_big_posterior.gradient_ms`` (one log-density + gradient, one core, the mean of 20 calls at the
  jittered initial point) of ``smooth``, ``local`` and ``rank1`` at 40 x 40 px x 8 lags from 20,000 frames
  (``bench_big_posterior.recording``), fastmath on and off, each in its own process; the ratio off / on.
- Reading, fixed here: fastmath breaks reproducibility if the on-runs differ and the off-runs do not; turning it
  off is kept if the gradient is at most 1.2x slower for every prior.

Amendment (session 39, after the run; nothing above changed): the run took 9 minutes (16:54-17:03 UTC). With
fastmath on, the cold and the warm draws differed (by up to 0.056); off, they were identical. Off against on, the
gradient took x0.88 (smooth), x0.89 (local) and x1.02 (rank1): no cost beyond this machine's timing noise. It is kept
off.

Usage: ``python benchmarks/bench_fastmath.py`` -> ``docs/fastmath.json`` (about 10 minutes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "docs" / "fastmath.json"
PRIORS = ("smooth", "local", "rank1")
MAX_SLOWDOWN = 1.2
DRAWS = """
import sys, numpy as np, pytensor, bayesrf
pytensor.config.numba__fastmath = sys.argv[1] == "on"
rec = bayesrf.simulate(n_frames=800, shape=(6, 6), lags=3, seed=0)
tree = bayesrf.sample(rec, "smooth", lags=3, draws=50, tune=50, chains=2, cores=1, seed=0, estimates=False)
np.save(sys.argv[2], tree["posterior"]["rf"].values)
"""
GRADIENT = """
import sys, pytensor
import bayesrf
from bench_big_posterior import gradient_ms, recording
pytensor.config.numba__fastmath = sys.argv[1] == "on"
print(gradient_ms(recording(), sys.argv[2], at_start=False))
"""


def child(code: str, *args: str, cache: str | None = None, threads: int = 1) -> str:
    """Run ``code`` in a fresh Python process with ``threads`` BLAS threads (PyTensor's cache in ``cache`` if
    given); its stdout."""
    env = os.environ | {"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    if cache is not None:
        env["PYTENSOR_FLAGS"] = f"base_compiledir={cache}"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, check=True, capture_output=True,
                          text=True).stdout


def reproducibility(fastmath: str) -> dict:
    """Cold and warm draws with ``fastmath`` ("on"/"off"): identical or not, and their largest difference."""
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="bayesrf-fastmath-") as cache:
        paths = [str(Path(cache) / f"{run}.npy") for run in ("cold", "warm")]
        for path in paths:
            child(DRAWS, fastmath, path, cache=cache)
        cold, warm = (np.load(path) for path in paths)
    return {"identical": bool(np.array_equal(cold, warm)), "max_abs_diff": float(np.abs(cold - warm).max())}


def reading(draws: dict, gradient: dict) -> dict:
    """The protocol's two readings."""
    slowdown = {prior: ms["off"] / ms["on"] for prior, ms in gradient.items()}
    return {"slowdown_off_over_on": slowdown,
            "fastmath_breaks_reproducibility": not draws["on"]["identical"] and draws["off"]["identical"],
            "keep_off": all(s <= MAX_SLOWDOWN for s in slowdown.values())}


def main() -> None:
    draws = {flag: reproducibility(flag) for flag in ("on", "off")}
    print(draws, flush=True)
    gradient = {prior: {flag: float(child(GRADIENT, flag, prior).strip().splitlines()[-1]) for flag in ("on", "off")}
                for prior in PRIORS}
    print(gradient, flush=True)
    read = reading(draws, gradient)
    OUT.write_text(json.dumps({"protocol": __doc__.split("Usage")[0].strip(), "python": sys.version.split()[0],
                               "draws": draws, "gradient_ms": gradient, "max_slowdown": MAX_SLOWDOWN,
                               "reading": read}, indent=1))
    print(json.dumps(read, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
