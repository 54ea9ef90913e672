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

Amendment 1 (session 68, written before its run; the first run is kept in the JSON under "first_run"): a second
pair of kernels, byte-major (:func:`pack_bytewise`, :func:`forward_bytewise`, :func:`adjoint_bytewise`). The bytes
are stored one byte column at a time (ceil(pixels / 8) x frames), and each column is one pass over its frames with
its own 256 x ``k`` table or histogram, which stays in the L1 cache, and a running sum per column of ``k`` in place
of a fresh accumulator per frame. The first kernels are timed again in the same run (``bitpacked``), beside float32
BLAS, with everything else in the protocol unchanged (frames, ``k``, seeds, repeats, the exactness rule). The
reading is made per kernel with the same rule: a kernel **pays** if it is exact and its speed-up is at least
``GOAL_SPEEDUP`` for both ``k`` at 20,000 frames. The byte-major kernels were checked for exactness on a 53 x 21
matrix before this run and not timed at any size.

Result of amendment 1 (session 68, 17:55-17:58 UTC, nothing else computing): every kernel exact (largest difference
1e-14). The byte-major kernels are 3.32x as fast as float32 BLAS for ``k = 1`` (forward 2.37 ms and adjoint 2.45 ms
against 8.43 and 7.56 ms; 3.44x at 100,000 frames) but only 1.51x for ``k = 8`` (14.1 and 22.1 ms against 25.5 and
29.3 ms; 1.52x at 100,000 frames), so by the rule above they **do not pay** for both ``k``. The first kernels,
timed again, gave 0.62x and 1.58x. The gradients measured in this run were ``rank1`` 15.3 ms and ``smooth`` 49.1 ms.
With the byte-major products in place of float32 BLAS, they project to 4.1 ms for ``rank1`` (3.7x) and 30.5 ms for
``smooth`` (1.6x). Read after the run, and not judged by the rule: ``rank1``'s products, ``k = 1``, are where
bit-packing pays.

Since amendment 1's run the byte-major kernels live in ``bayesrf.bitpacked`` (session 68), generalised from +-1 to
any two values, and the model uses them for a rank-1 RF's spatial product. The script's byte-major kernels now call
those, and the first kernels' tables are built by its ``byte_table`` (the same sums); the numbers above came from
the script's own code at commit 16b0a22 (the same table and histogram loops).

Usage: ``python benchmarks/bench_bitpacked.py`` -> ``docs/bitpacked.json`` (a few minutes).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from bench_big_posterior import LAGS, gradient_ms, recording
from bench_frames_memory import median_ms as frames_memory_median_ms
from numba import njit

from bayesrf import bitpacked

OUT = Path(__file__).resolve().parent.parent / "docs" / "bitpacked.json"
SIDE = 40
FRAMES = (20_000, 100_000)
COLUMNS = (1, 8)
PRIOR_COLUMNS = {"smooth": 8, "rank1": 1}
REPEATS = 11
EXACT_RTOL = 1e-10
GOAL_SPEEDUP = 2.0


def check_plus_minus_one(frames: np.ndarray) -> None:
    """Raise ValueError unless every value of ``frames`` is -1 or +1 (``bayesrf.bitpacked.levels``)."""
    two = bitpacked.levels(frames)
    if two is None or not set(two) <= {-1.0, 1.0}:
        raise ValueError(f"bit-packing needs frames in {{-1, +1}}, got values {np.unique(frames)[:5]}")


def pack(frames: np.ndarray) -> np.ndarray:
    """Bits of +-1 ``frames`` (n_frames, n_pixels), 8 pixels per byte (pixel ``8 j + i`` is bit ``i`` of byte ``j``),
    shape (n_frames, ceil(n_pixels / 8)), uint8."""
    check_plus_minus_one(frames)
    return np.packbits(frames > 0, axis=1, bitorder="little")


@njit(cache=True)
def _tables(m: np.ndarray, n_bytes: int) -> np.ndarray:
    """``table[j, v]`` = the sum of ``m``'s rows ``8 j + i`` over the bits ``i`` set in ``v``, shape (n_bytes, 256,
    k); rows past ``m``'s end count as zero (``bayesrf.bitpacked.byte_table`` per byte, the same sums)."""
    table = np.zeros((n_bytes, 256, m.shape[1]))
    for j in range(n_bytes):
        bitpacked.byte_table(m, j, table[j].T)
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


def pack_bytewise(frames: np.ndarray) -> np.ndarray:
    """:func:`pack`'s bytes stored byte-major, shape (ceil(n_pixels / 8), n_frames): one byte column's frames are
    contiguous (``bayesrf.bitpacked.pack``)."""
    check_plus_minus_one(frames)
    return bitpacked.pack(frames, 1.0)


def forward_bytewise(packed_t: np.ndarray, m: np.ndarray) -> np.ndarray:
    """:func:`forward` byte by byte (``bayesrf.bitpacked.product``): for each byte column one table of ``256 x k``
    sums (2 KB per column, in the L1 cache) and a pass over that column's frames. Returns (n_frames, k)."""
    return bitpacked.product(packed_t, m, -1.0, 1.0)


def adjoint_bytewise(packed_t: np.ndarray, r: np.ndarray, n_pixels: int) -> np.ndarray:
    """:func:`adjoint` byte by byte (``bayesrf.bitpacked.adjoint``): for each byte column a histogram of ``r`` over
    its 256 values (2 KB per column, in the L1 cache), then each of its 8 pixels sums the values with its bit set.
    Returns (n_pixels, k)."""
    return bitpacked.adjoint(packed_t, r, n_pixels, -1.0, 1.0)


KERNELS = {"bitpacked": (pack, forward, adjoint), "bytewise": (pack_bytewise, forward_bytewise, adjoint_bytewise)}
"""The bit-packed kernels timed: name -> (packing, forward, adjoint)."""


def median_ms(call) -> float:
    """Median milliseconds of ``REPEATS`` calls of ``call`` after one warm call."""
    return frames_memory_median_ms(call, REPEATS)


def relative_error(value: np.ndarray, reference: np.ndarray) -> float:
    """Largest |value - reference| relative to the reference's largest |entry|."""
    return float(np.max(np.abs(value - reference)) / np.max(np.abs(reference)))


def measure(frames: np.ndarray, k: int) -> dict:
    """Every timing and error of the protocol for one frames matrix (n_frames, n_pixels) and ``k`` columns: float32
    BLAS and each of :data:`KERNELS`."""
    rng = np.random.default_rng(0)
    m, r = rng.standard_normal((frames.shape[1], k)), rng.standard_normal((frames.shape[0], k))
    single, m32, r32 = frames.astype(np.float32), m.astype(np.float32), r.astype(np.float32)
    reference, n_pixels = (frames @ m, frames.T @ r), frames.shape[1]
    row = {"frames": frames.shape[0], "k": k, "float32_bytes": single.nbytes, "pack_s": {},
           "error": {"float32_forward": relative_error(single @ m32, reference[0]),
                     "float32_adjoint": relative_error(single.T @ r32, reference[1])},
           "ms": {"float32_forward": median_ms(lambda: single @ m32),
                  "float32_adjoint": median_ms(lambda: single.T @ r32)}}
    for name, (packer, forward_of, adjoint_of) in KERNELS.items():
        began = time.perf_counter()
        packed = packer(frames)
        row["pack_s"][name], row["packed_bytes"] = time.perf_counter() - began, packed.nbytes
        row["error"] |= {f"{name}_forward": relative_error(forward_of(packed, m), reference[0]),
                         f"{name}_adjoint": relative_error(adjoint_of(packed, r, n_pixels), reference[1])}
        row["ms"] |= {f"{name}_forward": median_ms(lambda: forward_of(packed, m)),
                      f"{name}_adjoint": median_ms(lambda: adjoint_of(packed, r, n_pixels))}
    row["speedup"] = {name: products_ms(row, "float32") / products_ms(row, name) for name in KERNELS}
    return row


def products_ms(row: dict, kind: str) -> float:
    """Milliseconds of ``kind``'s forward plus adjoint product in a :func:`measure` row."""
    return row["ms"][f"{kind}_forward"] + row["ms"][f"{kind}_adjoint"]


def reading(rows: list[dict], gradients: dict[str, float]) -> dict:
    """The protocol's reading and projections, per kernel, from the measured ``rows`` and model ``gradients`` (ms)."""
    at = {row["k"]: row for row in rows if row["frames"] == FRAMES[0]}
    out = {"gradient_ms": gradients}
    for name in KERNELS:
        exact = all(row["error"][f"{name}_{product}"] < EXACT_RTOL
                    for row in rows for product in ("forward", "adjoint"))
        projected = {prior: gradients[prior] - products_ms(at[k], "float32") + products_ms(at[k], name)
                     for prior, k in PRIOR_COLUMNS.items()}
        out[name] = {"exact": exact, "speedups": {k: row["speedup"][name] for k, row in at.items()},
                     "pays": exact and all(row["speedup"][name] >= GOAL_SPEEDUP for row in at.values()),
                     "projected_gradient_ms": projected,
                     "projected_gradient_speedup": {p: gradients[p] / projected[p] for p in projected}}
    return out


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
    first = json.loads(OUT.read_text()) if OUT.exists() else {}
    result = {"protocol": __doc__.split("Usage")[0].strip(), "stack_versions": stack_versions(), "rows": rows,
              "reading": reading(rows, gradients),
              "first_run": first.get("first_run", {key: first[key] for key in ("rows", "reading") if key in first})}
    OUT.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["reading"], indent=1))


if __name__ == "__main__":
    main()
