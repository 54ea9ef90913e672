"""How fit time scales with frames and pixels: ML, MAP and NUTS per draw.

Simulated Gabor x biphasic neurons, binary frames, 5 lags. Two tables:
frames 1k -> 100k at 10 x 10 pixels (500 weights), and pixels 10 x 10 -> 40 x 40
(500 -> 8,000 weights) at 5,000 frames. Columns: ridge ML (``fit_ml``),
ridge MAP (``fit_map``, spline baseline), NUTS seconds per draw (ridge prior,
nutpie, 1 chain, 100 tune + 100 draws, compilation excluded), and the ratio of
each to the first row of its table (measured in the same run).
Usage: ``python benchmarks/bench_scaling.py [--quick]`` (``--quick`` stops at 30k frames and 30 x 30 pixels;
only a full run writes ``docs/scaling.json``, which the README's tables are made from).

Session 52, before a rerun: since session 52 frames that float32 holds exactly enter the PyMC model in float32 from 64
MiB of float64 frames on (``bayesrf.model.SINGLE_PRECISION_BYTES``), so the NUTS column's row at 100,000 frames (80 MB)
no longer describes the package; the whole run is repeated, so that every ratio stays within one run, with nothing
else computing. Each row now records its warnings (before, they were silenced) and the JSON the package versions.

Session 52, after the rerun: it ran 03:14-03:21 UTC with nothing else computing (files were edited) and gave no
warning. NUTS at 100,000 frames took 0.24 s per draw (0.35 s in the run before, with float64 frames). The other rows
differ from that run too (ML at 10,000 frames 0.29 s instead of 0.78), which was measured with an older package on a
machine and with versions nobody recorded, so the two runs are not compared row by row; from 10,000 frames on the ML
and MAP rows now grow as frames^1.09 and ^1.10 (before ^0.82 and ^0.81).
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

import bayesrf
from bayesrf.design import make_design
from bayesrf.inference import start_point
from bayesrf.model import build_model
from bayesrf.priors import alpha_for, load_prior
from bayesrf.results import stack_versions
from bench_big_posterior import messages

LAGS = 5
OUT = Path(__file__).resolve().parent.parent / "docs" / "scaling.json"


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def nuts_per_draw(rec) -> float:
    """Seconds per NUTS draw (tuning + sampling of one chain), compilation excluded."""
    import nutpie

    spec = load_prior("ridge")
    design = make_design(rec, LAGS)
    model = build_model(design, spec)
    compiled = nutpie.compile_pymc_model(model, initial_points=start_point(model, design, spec, seed=0), jitter_rvs=set())
    elapsed = _timed(lambda: nutpie.sample(compiled, draws=100, tune=100, chains=1, seed=0, progress_bar=False))
    return elapsed / 200


def row(rec) -> tuple[tuple[float, float, float], list[str]]:
    """Seconds of ML, MAP and one NUTS draw, and every warning they gave (recorded, since session 52)."""
    n = make_design(rec, LAGS).n_obs
    alpha = alpha_for(load_prior("ridge"), n)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t_ml = _timed(lambda: bayesrf.fit_ml(rec, lags=LAGS, penalty="l2", alpha=alpha))
        t_map = _timed(lambda: bayesrf.fit_map(rec, "ridge", lags=LAGS, estimates=False))
        t_nuts = nuts_per_draw(rec)
    return (t_ml, t_map, t_nuts), messages(caught, 200)


def table(title: str, cases: list[tuple[str, dict]]) -> list[dict]:
    print(f"\n{title}")
    print(f"{'case':>12s} {'weights':>8s} {'ML s':>8s} {'MAP s':>8s} {'NUTS s/draw':>12s} {'ML x':>6s} {'MAP x':>6s} {'NUTS x':>7s}")
    first, rows = None, []
    for label, kwargs in cases:
        rec = bayesrf.simulate(lags=LAGS, spatial="gabor", rf_norm=1.0, rate=20.0, seed=0, **kwargs)
        times, caught = row(rec)
        first = first or times
        ny, nx = kwargs["shape"]
        print(f"{label:>12s} {LAGS * ny * nx:8d} {times[0]:8.2f} {times[1]:8.2f} {times[2]:12.4f} "
              + " ".join(f"{t / f:{w}.1f}" for t, f, w in zip(times, first, (6, 6, 7), strict=True)), flush=True)
        rows.append({"frames": kwargs["n_frames"], "pixels": [ny, nx], "weights": LAGS * ny * nx,
                     "ml_s": times[0], "map_s": times[1], "nuts_s_per_draw": times[2], "warnings": caught})
    return rows


def main() -> None:
    quick = "--quick" in sys.argv
    frames = [1_000, 3_000, 10_000, 30_000] + ([] if quick else [100_000])
    by_frames = table("Frames (10 x 10 pixels, 5 lags)", [(f"{n:,}", {"n_frames": n, "shape": (10, 10)}) for n in frames])
    sides = [10, 20, 30] + ([] if quick else [40])
    by_pixels = table("Pixels (5,000 frames, 5 lags)", [(f"{s} x {s}", {"n_frames": 5_000, "shape": (s, s)}) for s in sides])
    if not quick:
        OUT.write_text(json.dumps({"lags": LAGS, "cores": os.cpu_count(), "stack_versions": stack_versions(),
                                   "frames": by_frames, "pixels": by_pixels}, indent=1))
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
