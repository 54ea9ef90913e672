"""Do bit-packed binary frames make the products with the frames cheaper? (issue #21: the full posterior at
12,800 weights misses its time goal because every leapfrog step is one gradient that reads all the frames twice)

Binary frames hold one bit per pixel, but the model reads them as float32: 32 bits each. Packed 8 pixels to a byte,
the 40 x 40 px x 20,000 frames of goal 1 take 4 MB instead of 128 MB, which fits this machine's last-level cache.
With byte tables ("four Russians") a product with the frames then needs one table lookup per byte instead of 8
multiply-adds per byte:

- forward, ``F @ M`` with ``F`` (frames, pixels) in {-1, +1} and ``M`` (pixels, k): ``F = 2 B - 1`` with ``B`` the
  bits, so ``F @ M = 2 B @ M - colsum(M)``; ``B @ M`` sums, per frame and byte ``j``, the table row
  ``table[j, byte]`` = the sum of ``M``'s rows whose bits are set in ``byte`` (256 rows per byte, built once per
  product from ``M``);
- adjoint, ``F.T @ R`` with ``R`` (frames, k): per byte ``j``, a histogram ``hist[j, byte] += R[t]`` over frames,
  then each pixel's row is the sum of the histogram over the bytes with its bit set; ``F.T @ R = 2 B.T @ R -
  colsum(R)``.

These are the two products a structured prior's gradient makes: ``k = 8`` (``smooth`` and ``local``, one column per
lag) and ``k = 1`` (``rank1``, its spatial map; ``bayesrf.model.linear_predictor``). Nothing in bayesrf uses the
kernels yet; this benchmark decides whether they are worth building into the model.

Protocol (fixed before the first run)
-------------------------------------
- Frames: ``bench_big_posterior.recording`` (binary +-1 frames, seed 0) at 40 x 40 px, 20,000 and 100,000 frames.
- Per frames and ``k`` in (1, 8): a random ``M`` (pixels, k) and ``R`` (frames, k) (standard normal, seed 0).
  - Shipped: numpy's ``F32 @ M32`` and ``F32.T @ R32`` with ``F32`` the frames in float32 (what the model computes
    with at this size), one BLAS thread.
  - Bit-packed: :func:`forward` and :func:`adjoint` (numba, one thread, float64 tables and sums) on ``np.packbits``
    of the frames; packing is done once per recording, as the model would at build time, and is timed separately.
  - Exactness: both results against numpy's float64 ``F @ M`` and ``F.T @ R`` (the independent reference); the
    largest difference relative to the reference's largest entry must be below ``EXACT_RTOL`` (float32 BLAS is
    reported against the same reference).
  - Times: the median of ``REPEATS`` calls after one warm call (numba compiled before), nothing else computing.
- Context in the same run: one log-density and gradient of ``smooth`` and ``rank1``'s models at 20,000 frames
  (``bench_big_posterior.gradient_ms`` with ``at_start=False``: the model's initial point jittered, no MAP fit), so
  the products' share of a gradient is measured, not assumed.
- Reported (``docs/bitpacked.json``): every time, the speed-up ``(shipped forward + adjoint) / (bit-packed forward +
  adjoint)`` per size and ``k``, the exactness, and the projected gradient of each prior with the products replaced:
  ``gradient - shipped products + bit-packed products`` (``k = 8`` for ``smooth``, ``k = 1`` for ``rank1``).
- Reading, fixed here: bit-packing **pays** if it is exact and its speed-up is at least ``GOAL_SPEEDUP`` for both
  ``k`` at 20,000 frames; then the next step is a PyTensor Op with a numba implementation (nutpie compiles the model
  with numba). If it is exact but does not pay, the products' floor stands and the README says so. Goal 1's
  time is not judged here: that needs a full run with the Op built in.

Result (session 68, 17:52-17:56 UTC, nothing else computing): exact (largest difference 1e-14 of the reference's
largest entry; float32 BLAS 3e-7 to 3e-6), but it **does not pay**: at 20,000 frames the bit-packed products are
0.68x as fast as float32 BLAS for ``k = 1`` and 1.57x for ``k = 8`` (0.53x and 1.30x at 100,000 frames). The same
run measured the products as the whole gradient: float32 BLAS forward + adjoint took 16.1 ms for ``k = 1`` against
``rank1``'s 16.3 ms gradient, and 53.6 ms for ``k = 8`` against ``smooth``'s 52.4 ms. These kernels loop frame by
frame over 200 byte tables of 2 KB (``k = 1``) to 16 KB (``k = 8``) each, 0.4-3.3 MB in all, and allocate an
accumulator per frame; that is the kernel's cost, not the bit-packing's.

Usage: ``python benchmarks/bench_bitpacked.py`` -> ``docs/bitpacked.json`` (a few minutes).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from bench_big_posterior import LAGS, gradient_ms, recording
from numba import njit

OUT = Path(__file__).resolve().parent.parent / "docs" / "bitpacked.json"
SIDE = 40
FRAMES = (20_000, 100_000)
COLUMNS = (1, 8)
PRIOR_COLUMNS = {"smooth": 8, "rank1": 1}
REPEATS = 11
EXACT_RTOL = 1e-10
GOAL_SPEEDUP = 2.0


def pack(frames: np.ndarray) -> np.ndarray:
    """Bits of +-1 ``frames`` (n_frames, n_pixels), 8 pixels per byte (pixel ``8 j + i`` is bit ``i`` of byte ``j``),
    shape (n_frames, ceil(n_pixels / 8)), uint8."""
    values = np.unique(frames)
    if not set(values.tolist()) <= {-1.0, 1.0}:
        raise ValueError(f"bit-packing needs frames in {{-1, +1}}, got values {values[:5]}")
    return np.packbits(frames > 0, axis=1, bitorder="little")


@njit(cache=True)
def _tables(m: np.ndarray, n_bytes: int) -> np.ndarray:
    """``table[j, v]`` = the sum of ``m``'s rows ``8 j + i`` over the bits ``i`` set in ``v``, shape (n_bytes, 256,
    k); rows past ``m``'s end count as zero."""
    n, k = m.shape
    table = np.zeros((n_bytes, 256, k))
    for j in range(n_bytes):
        for v in range(1, 256):
            low = v & -v
            i = 0
            while (1 << i) != low:
                i += 1
            row = 8 * j + i
            for c in range(k):
                table[j, v, c] = table[j, v ^ low, c] + (m[row, c] if row < n else 0.0)
    return table


@njit(cache=True)
def forward(packed: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``F @ m`` for the +-1 frames ``F`` whose bits are ``packed`` (:func:`pack`); ``m`` (n_pixels, k) float64,
    returns (n_frames, k)."""
    n_frames, n_bytes = packed.shape
    k = m.shape[1]
    table = _tables(m, n_bytes)
    total = np.zeros(k)
    for row in range(m.shape[0]):
        total += m[row]
    out = np.empty((n_frames, k))
    for t in range(n_frames):
        acc = np.zeros(k)
        for j in range(n_bytes):
            v = packed[t, j]
            for c in range(k):
                acc[c] += table[j, v, c]
        for c in range(k):
            out[t, c] = 2.0 * acc[c] - total[c]
    return out


@njit(cache=True)
def adjoint(packed: np.ndarray, r: np.ndarray, n_pixels: int) -> np.ndarray:
    """``F.T @ r`` for the +-1 frames ``F`` whose bits are ``packed`` (:func:`pack`); ``r`` (n_frames, k) float64,
    returns (n_pixels, k)."""
    n_frames, n_bytes = packed.shape
    k = r.shape[1]
    hist = np.zeros((n_bytes, 256, k))
    total = np.zeros(k)
    for t in range(n_frames):
        for c in range(k):
            total[c] += r[t, c]
        for j in range(n_bytes):
            v = packed[t, j]
            for c in range(k):
                hist[j, v, c] += r[t, c]
    out = np.zeros((n_pixels, k))
    for j in range(n_bytes):
        for i in range(8):
            row = 8 * j + i
            if row >= n_pixels:
                break
            for v in range(256):
                if (v >> i) & 1:
                    for c in range(k):
                        out[row, c] += hist[j, v, c]
            for c in range(k):
                out[row, c] = 2.0 * out[row, c] - total[c]
    return out


def median_ms(call) -> float:
    """Median milliseconds of ``REPEATS`` calls of ``call`` after one warm call."""
    call()
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return 1000 * float(np.median(times))


def relative_error(value: np.ndarray, reference: np.ndarray) -> float:
    """Largest |value - reference| relative to the reference's largest |entry|."""
    return float(np.max(np.abs(value - reference)) / np.max(np.abs(reference)))


def measure(frames: np.ndarray, k: int) -> dict:
    """Every timing and error of the protocol for one frames matrix (n_frames, n_pixels) and ``k`` columns."""
    rng = np.random.default_rng(0)
    m, r = rng.standard_normal((frames.shape[1], k)), rng.standard_normal((frames.shape[0], k))
    single, m32, r32 = frames.astype(np.float32), m.astype(np.float32), r.astype(np.float32)
    began = time.perf_counter()
    packed = pack(frames)
    pack_s = time.perf_counter() - began
    reference = frames @ m, frames.T @ r
    n_pixels = frames.shape[1]
    row = {"frames": frames.shape[0], "k": k, "pack_s": pack_s, "packed_bytes": packed.nbytes,
           "float32_bytes": single.nbytes,
           "error": {"bitpacked_forward": relative_error(forward(packed, m), reference[0]),
                     "bitpacked_adjoint": relative_error(adjoint(packed, r, n_pixels), reference[1]),
                     "float32_forward": relative_error(single @ m32, reference[0]),
                     "float32_adjoint": relative_error(single.T @ r32, reference[1])},
           "ms": {"float32_forward": median_ms(lambda: single @ m32),
                  "float32_adjoint": median_ms(lambda: single.T @ r32),
                  "bitpacked_forward": median_ms(lambda: forward(packed, m)),
                  "bitpacked_adjoint": median_ms(lambda: adjoint(packed, r, n_pixels))}}
    ms = row["ms"]
    row["speedup"] = ((ms["float32_forward"] + ms["float32_adjoint"])
                      / (ms["bitpacked_forward"] + ms["bitpacked_adjoint"]))
    return row


def reading(rows: list[dict], gradients: dict[str, float]) -> dict:
    """The protocol's reading and projections from the measured ``rows`` and model ``gradients`` (ms)."""
    at = {row["k"]: row for row in rows if row["frames"] == FRAMES[0]}
    exact = all(err < EXACT_RTOL for row in rows for name, err in row["error"].items() if name.startswith("bit"))

    def products(row: dict, kind: str) -> float:
        return row["ms"][f"{kind}_forward"] + row["ms"][f"{kind}_adjoint"]

    projected = {prior: gradients[prior] - products(at[k], "float32") + products(at[k], "bitpacked")
                 for prior, k in PRIOR_COLUMNS.items()}
    return {"exact": exact, "speedups": {k: row["speedup"] for k, row in at.items()},
            "pays": exact and all(row["speedup"] >= GOAL_SPEEDUP for row in at.values()),
            "gradient_ms": gradients, "projected_gradient_ms": projected,
            "projected_gradient_speedup": {p: gradients[p] / projected[p] for p in projected}}


def main() -> None:
    from threadpoolctl import threadpool_limits

    from bayesrf.results import stack_versions

    rows = []
    with threadpool_limits(1):
        for n in FRAMES:
            rec = recording(SIDE, n)
            frames = np.ascontiguousarray(rec["stim"].values.reshape(n, -1), dtype="float64")
            for k in COLUMNS:
                rows.append(measure(frames, k))
                print(json.dumps(rows[-1]), flush=True)
        rec = recording(SIDE, FRAMES[0])
        gradients = {prior: gradient_ms(rec, prior, LAGS, at_start=False) for prior in PRIOR_COLUMNS}
    result = {"protocol": __doc__.split("Usage")[0].strip(), "stack_versions": stack_versions(), "rows": rows,
              "reading": reading(rows, gradients)}
    OUT.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["reading"], indent=1))


if __name__ == "__main__":
    main()
