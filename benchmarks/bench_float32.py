"""Do float32 frames change the posterior? (issue #21: "float32 likelihood arithmetic, where it keeps R-hat and the
answer unchanged")

Frames that float32 holds exactly (binary or small-integer stimuli) enter bayesrf's model in float32 from 2,000
weights on (session 33) and, since session 52, from 64 MiB of float64 frames on (``bayesrf.model.model_frames``):
the products with the frames run in float32 and the drive is cast back to float64 before the likelihood. The unit
tests compare the float32 log-likelihood with scipy's on small designs (relative 1e-6). This benchmark measures the
difference at the sizes where the defaults switch it on.

Protocol (fixed before the first run)
-------------------------------------
- Data: ``bench_big_posterior.recording`` (binary frames, 8 lags, seed 0) at 10 x 10 px from 100,000 frames (800
  weights, 80 MB of float64 frames: float32 by bytes) and at 40 x 40 px from 20,000 frames (12,800 weights: float32 by
  weights).
- Per size and prior (``smooth``, ``local``, ``rank1``): the model built twice, its frames forced to float64 and to
  float32 (:func:`frames_dtype`); its log-density and gradient (one compiled function, as NUTS calls it) at the
  sampler's start (``bayesrf.inference.start_point``, computed once with float64 frames) and at ``POINTS - 1``
  points around it (every value variable plus N(0, 0.1^2) noise, seed 0).
- Reported per prior and size: the largest |log-density difference| (nats) over the points, the largest
  gradient difference relative to the largest gradient entry, and the log-density's scale (its value at the start).
- Reading, fixed here: float32 keeps the answer if the log-density differs by at most 0.01 nats at every point,
  for every prior and size: a ratio of posterior densities, all that NUTS's acceptance and any posterior summary
  depend on, then changes by at most a factor exp(0.02). The gradient's error is reported, not judged: it changes
  NUTS's trajectories, not its target (a leapfrog step with any position-dependent force stays reversible and
  volume-preserving, and the acceptance uses the log-density), so it could only cost steps, which the cost-growth
  probes measure.

Amendment (session 52, after the run; nothing above changed): the run took about two minutes (03:12-03:14 UTC) with
nothing else computing. The largest log-density difference was 1.8e-4 nats (``smooth`` at 12,800 weights; 2.4e-5 to
5.7e-5 at 100,000 frames), against log-densities of -4.5e4 to -2.2e5 nats: float32 keeps the answer by the reading
above. The gradient differed by at most 5.5e-7 of its largest entry (``rank1`` at 100,000 frames).

Usage: ``python benchmarks/bench_float32.py`` -> ``docs/float32.json`` (a few minutes: three MAP starts per size).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from bench_big_posterior import LAGS, recording

OUT = Path(__file__).resolve().parent.parent / "docs" / "float32.json"
SIZES = ((10, 100_000), (40, 20_000))
PRIORS = ("smooth", "local", "rank1")
POINTS = 5
NOISE_SD = 0.1
GOAL_NATS = 0.01


@contextmanager
def frames_dtype(dtype: str) -> Iterator[None]:
    """Models built inside take frames exact in float32 in ``dtype`` ("float64" or "float32") at any size: both of
    ``bayesrf.model``'s thresholds moved, and bit-packing (``bayesrf.model.bitpacked_levels``: since session 68 a
    large ``rank1`` model's binary frames) off; all put back on leaving."""
    import bayesrf.model as model

    shipped = model.SINGLE_PRECISION_WEIGHTS, model.SINGLE_PRECISION_BYTES, model.BITPACKED_MAX_COLUMNS
    model.SINGLE_PRECISION_WEIGHTS = model.SINGLE_PRECISION_BYTES = 0 if dtype == "float32" else 10**18
    model.BITPACKED_MAX_COLUMNS = 0
    try:
        yield
    finally:
        model.SINGLE_PRECISION_WEIGHTS, model.SINGLE_PRECISION_BYTES, model.BITPACKED_MAX_COLUMNS = shipped


def logp_and_gradient(design, spec, dtype: str):
    """The compiled log-density and gradient of ``spec``'s model with its frames in ``dtype``: a function of a point
    (value variable name -> array) returning (log-density, flat gradient), and the model."""
    import pytensor
    import pytensor.tensor as pt

    import bayesrf

    with frames_dtype(dtype):
        model = bayesrf.build_model(design, spec)
    assert model["frames"].dtype == dtype
    logp = model.logp()
    both = pytensor.function(model.value_vars, [logp, *pt.grad(logp, model.value_vars)])
    names = [v.name for v in model.value_vars]

    def call(point: dict) -> tuple[float, np.ndarray]:
        value, *grads = both(**{name: point[name] for name in names})
        return float(value), np.concatenate([np.ravel(g) for g in grads])

    return call, model


def compare(side: int, frames: int, prior: str) -> dict:
    """One prior at one size (see the protocol)."""
    import bayesrf
    from bayesrf.design import make_design
    from bayesrf.inference import start_point

    design = make_design(recording(side, frames), LAGS)
    spec = bayesrf.load_prior(prior)
    double, model = logp_and_gradient(design, spec, "float64")
    single, _ = logp_and_gradient(design, spec, "float32")
    start = start_point(model, design, spec, seed=0)
    rng = np.random.default_rng(0)
    points = [start] + [{k: v + rng.normal(0, NOISE_SD, np.shape(v)) for k, v in start.items()}
                        for _ in range(POINTS - 1)]
    nats, gradient, logp = [], [], []
    for point in points:
        (v64, g64), (v32, g32) = double(point), single(point)
        nats.append(abs(v32 - v64))
        gradient.append(float(np.max(np.abs(g32 - g64)) / np.max(np.abs(g64))))
        logp.append(v64)
    return {"side": side, "frames": frames, "weights": design.n_weights, "prior": prior,
            "float64_frames_bytes": design.frames.size * 8, "logp_at_start": logp[0],
            "max_abs_logp_difference_nats": max(nats), "max_relative_gradient_difference": max(gradient),
            "per_point_nats": nats}


def main() -> None:
    from threadpoolctl import threadpool_limits

    from bayesrf.results import stack_versions

    rows = []
    with threadpool_limits(1):
        for side, frames in SIZES:
            for prior in PRIORS:
                rows.append(compare(side, frames, prior))
                print(json.dumps({k: v for k, v in rows[-1].items() if k != "per_point_nats"}), flush=True)
    worst = max(row["max_abs_logp_difference_nats"] for row in rows)
    OUT.write_text(json.dumps({"protocol": __doc__.split("Usage")[0].strip(), "lags": LAGS, "points": POINTS,
                               "noise_sd": NOISE_SD, "goal_nats": GOAL_NATS, "stack_versions": stack_versions(),
                               "rows": rows, "reading": {"max_abs_logp_difference_nats": worst,
                                                         "keeps_the_answer": worst <= GOAL_NATS}}, indent=1) + "\n")
    print(f"largest |logp difference| {worst:.2e} nats (goal <= {GOAL_NATS}); wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
