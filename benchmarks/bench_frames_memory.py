"""Why ``rank1``'s gradient grows faster than frames (issue #21, goal 3), and whether float32 frames pay there.

``docs/cost_growth.json`` measured ``rank1``'s log-density + gradient growing as frames^1.37 from 10,000 to 100,000
frames at 10 x 10 px x 8 lags, where ``smooth``'s grows linearly. A PyTensor profile of that gradient (session 39,
not stored) put two thirds of it at 100,000 frames in its two products with the frames matrix (``frames @ maps``
and ``frames.T @ g``, one column each for a rank-1 RF), each reading the whole matrix once. The hypothesis: a
one-column product is bound by how fast the matrix is read, and the matrix (frames x pixels x 8 bytes: 8 MB at
10,000 frames, 80 MB at 100,000) leaves this machine's last-level cache (recorded in the JSON) between the two.

Protocol (fixed before the first run)
-------------------------------------
- Data: ``bench_big_posterior.recording(10, n)`` (the cost-growth neuron: binary frames, 10 x 10 px, seed 0) for
  n = 1,000, 3,000, 10,000, 30,000, 100,000 and 300,000 frames; 8 lags.
- Per n, on one core with one BLAS thread:
  - the two products of a rank-1 gradient alone, in numpy: ``frames @ v`` (v: pixels x 1) and ``frames.T @ g``
    (g: frames x 1), in float64 and in float32; the median of ``REPEATS`` calls each; the matrix's bytes read
    per second (GB/s) from it;
  - the log-density + gradient of the ``rank1`` and ``smooth`` models, one compiled PyTensor function of both
    (``bench_big_posterior.gradient_ms``, at the model's jittered initial point instead of the MAP start, which
    does not change the arithmetic), with the frames in float64 and in float32
    (``bayesrf.model.SINGLE_PRECISION_WEIGHTS`` set to 0; 800 weights are below its 2,000, so the shipped default
    at this size is float64).
- Reading, fixed here: the cache explains the excess if (a) the float64 products read the matrix at least 1.5x
  faster at the sizes whose matrix fits the last-level cache than at those whose matrix does not (medians of
  each group's GB/s), and (b) ``rank1``'s float64 gradient grows as frames^1.1 or less from 100,000 to 300,000
  frames, both above the cache. float32 frames pay for ``rank1`` at 100,000 frames if its gradient is at least
  1.3x faster in float32 there. This run changes no default: a change to where float32 starts would make the
  stored cost-growth rows describe an older package, so it would need its own rerun.

Amendment (session 39, after the run; nothing above changed): the run took about two minutes. (a) holds: the
float64 products read the matrix 5.2x faster while it fits the 32 MB cache (40-75 GB/s up to 10,000 frames; 18-26
GB/s at 30,000, 24 MB, already partly out; 9-12 GB/s from 100,000 on). (b) fails: ``rank1``'s gradient grows as
frames^1.16 from 100,000 to 300,000. Added after the run to read (b), computed by ``reading`` from the stored rows:
above the cache the two products alone grow as frames^1.04, and the rest of the gradient (the gradient minus the
products) as frames^1.48: the excess above the cache is in the rest, perhaps because its frames x lags
intermediates (6.4 MB each at 100,000 frames, 19 MB at 300,000) leave the cache in turn; that is not measured.
float32 frames pay: ``rank1``'s gradient at 100,000 frames is 1.86x faster (``smooth``'s 2.44x). No default was
changed (see the reading above).

Amendment (session 52; no run, nothing above changed): session 52 changed a default from this run: frames that float32
holds exactly now enter the model in float32 also from 64 MiB of float64 frames on
(``bayesrf.model.SINGLE_PRECISION_BYTES``), at any number of weights, here from 83,887 frames. So that a rerun still
measures each dtype at every size, ``model_gradient_ms`` sets that threshold with ``SINGLE_PRECISION_WEIGHTS``
(``bench_float32.frames_dtype``). The stored rows are unchanged; ``bench_cost_growth.py``'s rows at 100,000 frames are
measured again with the new default (its amendment of session 52).

Usage: ``python benchmarks/bench_frames_memory.py [--report]`` -> ``docs/frames_memory.json`` (about two minutes;
``--report`` recomputes the reading from the stored rows).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from bench_big_posterior import LAGS, gradient_ms, recording
from bench_float32 import frames_dtype

OUT = Path(__file__).resolve().parent.parent / "docs" / "frames_memory.json"
FRAMES = (1_000, 3_000, 10_000, 30_000, 100_000, 300_000)
SIDE = 10
PRIORS = ("rank1", "smooth")
DTYPES = ("float64", "float32")
REPEATS = 21
FIT_FROM = 100_000
GOALS = {"cache_speedup": 1.5, "above_cache_exponent": 1.1, "float32_speedup": 1.3}


def last_level_cache_bytes() -> int:
    """Size of this machine's largest CPU cache (bytes), from Linux's sysfs."""
    sizes = []
    for path in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = path.read_text().strip()
        sizes.append(int(text[:-1]) * {"K": 2**10, "M": 2**20}[text[-1]] if text[-1] in "KM" else int(text))
    return max(sizes)


def median_ms(call, repeats: int = REPEATS) -> float:
    """Median milliseconds of ``repeats`` calls of ``call`` after one warm call."""
    call()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return 1000 * float(np.median(times))


def products(frames: np.ndarray) -> dict[str, float]:
    """Milliseconds of ``frames @ v`` and ``frames.T @ g`` (one column each) and the bytes of ``frames`` read per
    second (GB/s) by each."""
    rng = np.random.default_rng(0)
    v = rng.standard_normal((frames.shape[1], 1)).astype(frames.dtype)
    g = rng.standard_normal((frames.shape[0], 1)).astype(frames.dtype)
    forward, adjoint = median_ms(lambda: frames @ v), median_ms(lambda: frames.T @ g)
    return {"forward_ms": forward, "adjoint_ms": adjoint,
            "forward_gb_s": frames.nbytes / forward / 1e6, "adjoint_gb_s": frames.nbytes / adjoint / 1e6}


def model_gradient_ms(rec, prior: str, dtype: str) -> float:
    """``bench_big_posterior.gradient_ms`` of ``prior`` at the model's jittered initial point, frames in ``dtype``."""
    with frames_dtype(dtype):  # both thresholds since session 52
        return gradient_ms(rec, prior, at_start=False)


def measure(n: int) -> dict:
    """Every timing of the protocol at ``n`` frames."""
    rec = recording(SIDE, n)
    frames = np.ascontiguousarray(rec["stim"].values.reshape(n, -1), dtype="float64")
    return {"frames": n, "matrix_bytes_float64": frames.nbytes,
            "products": {dtype: products(frames.astype(dtype)) for dtype in DTYPES},
            "gradient_ms": {prior: {dtype: model_gradient_ms(rec, prior, dtype) for dtype in DTYPES}
                            for prior in PRIORS}}


def slope(rows: list[dict], cost) -> float:
    """Log-log slope of ``cost(row)`` on frames over ``rows``."""
    return float(np.polyfit(np.log([r["frames"] for r in rows]), np.log([cost(r) for r in rows]), 1)[0])


def reading(rows: list[dict], cache: int) -> dict:
    """The protocol's three readings from the stored rows."""
    def products_ms(r: dict) -> float:
        return r["products"]["float64"]["forward_ms"] + r["products"]["float64"]["adjoint_ms"]

    def gb_s(r: dict) -> float:
        return float(np.mean([r["products"]["float64"]["forward_gb_s"], r["products"]["float64"]["adjoint_gb_s"]]))

    inside = [gb_s(r) for r in rows if r["matrix_bytes_float64"] <= cache]
    outside = [gb_s(r) for r in rows if r["matrix_bytes_float64"] > cache]
    above = [r for r in rows if r["frames"] >= FIT_FROM]
    at_all = next(r for r in rows if r["frames"] == FIT_FROM)["gradient_ms"]
    at = at_all["rank1"]
    out = {"cache_speedup": float(np.median(inside) / np.median(outside)),
           "above_cache_exponent": slope(above, lambda r: r["gradient_ms"]["rank1"]["float64"]),
           "exponents_10k_100k": {prior: slope([r for r in rows if 10_000 <= r["frames"] <= FIT_FROM],
                                               lambda r, p=prior: r["gradient_ms"][p]["float64"]) for prior in PRIORS},
           "float32_speedup": at["float64"] / at["float32"],
           "float32_speedups_at_fit_from": {prior: r["float64"] / r["float32"] for prior, r in at_all.items()},
           "after_the_run": {"products_above_cache_exponent": slope(above, products_ms),
                             "rest_above_cache_exponent": slope(above, lambda r: r["gradient_ms"]["rank1"]["float64"]
                                                                - products_ms(r))}}
    out["holds"] = {"cache_speedup": out["cache_speedup"] >= GOALS["cache_speedup"],
                    "above_cache_exponent": out["above_cache_exponent"] <= GOALS["above_cache_exponent"],
                    "float32_speedup": out["float32_speedup"] >= GOALS["float32_speedup"]}
    return out


def main() -> None:
    from threadpoolctl import threadpool_limits

    if "--report" in sys.argv:
        stored = json.loads(OUT.read_text())
        stored["reading"] = reading(stored["rows"], stored["last_level_cache_bytes"])
        OUT.write_text(json.dumps(stored | {"protocol": __doc__.split("Usage")[0].strip()}, indent=1))
        print(json.dumps(stored["reading"], indent=1))
        return
    cache = last_level_cache_bytes()
    rows = []
    with threadpool_limits(1):
        for n in FRAMES:
            rows.append(measure(n))
            print(json.dumps(rows[-1]), flush=True)
    result = reading(rows, cache)
    OUT.write_text(json.dumps({"protocol": __doc__.split("Usage")[0].strip(), "pixels": [SIDE, SIDE], "lags": LAGS,
                               "last_level_cache_bytes": cache, "repeats": REPEATS, "goals": GOALS,
                               "python": sys.version.split()[0], "rows": rows, "reading": result}, indent=1))
    print(json.dumps(result, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
