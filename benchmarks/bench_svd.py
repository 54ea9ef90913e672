"""Posterior SVD speed: 4,000 draws x 5 lags x 300 pixels (goal < 1 s).

Prints the wall time of bayesrf.posterior_svd (batched SVD + sign alignment)
next to a plain Python loop of numpy SVDs over the draws, measured in the same
run, and the fraction of draws whose first component the alignment flipped.
Run: ``python benchmarks/bench_svd.py``.
"""

from __future__ import annotations

import json
import time

import numpy as np
import xarray as xr

import bayesrf


def main() -> None:
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(20, 15)), np.array([0.2, 1.0, -0.6, -0.2, 0.0])
    rf = 0.05 * v[:, None, None] * u + 0.02 * rng.normal(size=(4, 1000, 5, 20, 15))
    post = xr.Dataset({"rf": (("chain", "draw", "lag", "y", "x"), rf)})
    tree = xr.DataTree.from_dict({"posterior": post})
    tree.attrs["bayesrf_spec"] = json.dumps({"name": "synthetic"})
    t = time.perf_counter()
    svd = bayesrf.posterior_svd(tree, n_components=2)
    ours = time.perf_counter() - t
    t = time.perf_counter()
    flat = rf.reshape(4000, 5, 300)
    for W in flat:
        np.linalg.svd(W - W.mean(axis=1, keepdims=True), full_matrices=False)
    loop = time.perf_counter() - t
    raw = np.linalg.svd(flat - flat.mean(axis=2, keepdims=True), full_matrices=False)[0][:, :, 0]
    changed = float(np.mean(np.sign(raw[:, 1]) != np.sign(svd.temporal.values.reshape(4000, 2, 5)[:, 0, 1])))
    flipped = min(changed, 1 - changed)  # raw draws whose sign disagrees with the majority
    print(f"{'method':40s} {'seconds':>8s} {'ratio':>6s}")
    print(f"{'bayesrf.posterior_svd (4,000 draws)':40s} {ours:8.3f} {ours / loop:6.2f}")
    print(f"{'python loop of np.linalg.svd':40s} {loop:8.3f} {1.0:6.2f}")
    print(f"raw first components with the minority sign (fixed by the alignment): {100 * flipped:.0f} %")


if __name__ == "__main__":
    main()
