"""Products with two-valued frames, bit-packed: one bit per pixel instead of a float32.

Binary white noise takes two values per pixel (``low`` and ``high``, e.g. -1 and +1). Stored as bits, 8 pixels to a
byte, the 40 x 40 px x 20,000 frames of a big recording take 4 MB instead of 128 MB in float32. With ``B`` the bits
(1 where a frame shows ``high``), the frames are ``F = low + (high - low) B``, so

- ``F @ M = low * colsum(M) + (high - low) * B @ M``: for each byte column ``j`` (pixels ``8 j .. 8 j + 7``), a table
  of the 256 sums of ``M``'s 8 rows that a byte can select, then one lookup per frame;
- ``F.T @ R = low * colsum(R) + (high - low) * B.T @ R``: for each byte column, a histogram of ``R`` over the 256
  byte values, then each of the 8 pixels sums the values with its bit set.

One byte column at a time, its table or histogram (2 KB per column of ``M``) stays in the L1 cache. The sums are
float64, so the products equal numpy's float64 ones to rounding (the float32 products they replace differ by ~1e-6).
Measured on one core at 40 x 40 px (``docs/bitpacked.json``, ``benchmarks/bench_bitpacked.py``): for one column
(``rank1``'s spatial map) 3.3x as fast as float32 BLAS; for 8 columns (one per lag) only 1.5x. So the model uses
them for a rank-1 RF's spatial product only (:data:`BITPACKED_MAX_COLUMNS`).

:class:`FramesProduct` and :class:`FramesAdjoint` are the PyTensor Ops (each the other's gradient), with numba
implementations for nutpie.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from numba import njit
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key

__all__ = ["BITPACKED_MAX_COLUMNS", "FramesAdjoint", "FramesProduct", "adjoint", "byte_table", "levels", "pack",
           "product"]

BITPACKED_MAX_COLUMNS = 1
"""A product with the frames is bit-packed when it has at most this many columns: one column was 3.3x as fast as
float32 BLAS, 8 columns 1.5x (``docs/bitpacked.json``), so only a rank-1 RF's spatial product is."""


def levels(frames: np.ndarray) -> tuple[float, float] | None:
    """The two values (low, high) that ``frames`` take (equal if they take one), or None if they take more or none."""
    if frames.size == 0:
        return None
    low, high = float(frames.min()), float(frames.max())
    return (low, high) if np.all((frames == low) | (frames == high)) else None


def pack(frames: np.ndarray, high: float) -> np.ndarray:
    """The bits of two-valued ``frames`` (n_frames, n_pixels), 1 where a frame shows ``high``, as ``bits_t``
    (ceil(n_pixels / 8), n_frames) uint8: pixel ``8 j + i`` of a frame is bit ``i`` of byte ``j``."""
    return np.ascontiguousarray(np.packbits(frames == high, axis=1, bitorder="little").T)


@njit(cache=True)
def byte_table(m: np.ndarray, j: int, table: np.ndarray) -> None:
    """Fill ``table`` (k, 256): ``table[c, v]`` = the sum of ``m[8 j + i, c]`` over the bits ``i`` set in ``v`` (rows
    past ``m``'s end count as zero)."""
    n, k = m.shape
    table[:, 0] = 0.0
    for v in range(1, 256):
        lowest = v & -v
        i = 0
        while (1 << i) != lowest:
            i += 1
        row = 8 * j + i
        for c in range(k):
            table[c, v] = table[c, v ^ lowest] + (m[row, c] if row < n else 0.0)


@njit(cache=True)
def product(bits_t: np.ndarray, m: np.ndarray, low: float, high: float) -> np.ndarray:
    """``F @ m`` for the frames ``F`` whose bits are ``bits_t`` (:func:`pack`) and values ``low`` and ``high``; ``m``
    (n_pixels, k) float64. Returns (n_frames, k) float64."""
    n_bytes, n_frames = bits_t.shape
    k = m.shape[1]
    acc = np.zeros((k, n_frames))
    table = np.empty((k, 256))
    for j in range(n_bytes):
        byte_table(m, j, table)
        column = bits_t[j]
        for c in range(k):
            row, sums = acc[c], table[c]
            for t in range(n_frames):
                row[t] += sums[column[t]]
    out = np.empty((n_frames, k))
    for c in range(k):
        shift = low * np.sum(m[:, c])
        for t in range(n_frames):
            out[t, c] = shift + (high - low) * acc[c, t]
    return out


@njit(cache=True)
def adjoint(bits_t: np.ndarray, r: np.ndarray, n_pixels: int, low: float, high: float) -> np.ndarray:
    """``F.T @ r`` for the frames ``F`` (``n_pixels`` of them per frame) whose bits are ``bits_t`` (:func:`pack`) and
    values ``low`` and ``high``; ``r`` (n_frames, k) float64. Returns (n_pixels, k) float64."""
    n_bytes, n_frames = bits_t.shape
    k = r.shape[1]
    columns = np.ascontiguousarray(r.T)
    out = np.empty((n_pixels, k))
    hist = np.empty((k, 256))
    for j in range(n_bytes):
        hist[:] = 0.0
        column = bits_t[j]
        for c in range(k):
            counts, values = hist[c], columns[c]
            for t in range(n_frames):
                counts[column[t]] += values[t]
        for i in range(min(8, n_pixels - 8 * j)):
            for c in range(k):
                total = 0.0
                for v in range(256):
                    if (v >> i) & 1:
                        total += hist[c, v]
                out[8 * j + i, c] = total
    for c in range(k):
        shift = low * np.sum(columns[c])
        for p in range(n_pixels):
            out[p, c] = shift + (high - low) * out[p, c]
    return out


class _FramesOp(Op):
    """A linear map of a float64 matrix by two-valued frames: inputs the frames' ``bits_t`` (:func:`pack`; an input,
    not a constant, so that the frames stay model data) and the matrix; its props fix the frames' pixels and two
    values."""

    __props__ = ("n_pixels", "low", "high")

    def __init__(self, n_pixels: int, low: float, high: float):
        self.n_pixels, self.low, self.high = int(n_pixels), float(low), float(high)

    def make_node(self, bits_t, matrix) -> Apply:
        bits_t, matrix = pt.as_tensor_variable(bits_t), pt.as_tensor_variable(matrix).astype("float64")
        return Apply(self, [bits_t, matrix], [pt.matrix(dtype="float64")])

    def connection_pattern(self, node) -> list[list[bool]]:
        return [[False], [True]]

    def transposed(self) -> _FramesOp:
        """The Op of the transposed map (the pullback of a linear map is its transpose)."""
        return (FramesAdjoint if isinstance(self, FramesProduct) else FramesProduct)(self.n_pixels, self.low, self.high)

    def pullback(self, inputs, outputs, cotangents) -> list:
        return [disconnected_type(), self.transposed()(inputs[0], cotangents[0])]


class FramesProduct(_FramesOp):
    """``F @ m`` (n_frames, k) float64 for ``m`` (n_pixels, k); its pullback is :class:`FramesAdjoint`."""

    def perform(self, node, inputs, outputs) -> None:
        bits_t, m = inputs
        outputs[0][0] = product(bits_t, np.ascontiguousarray(m), self.low, self.high)


class FramesAdjoint(_FramesOp):
    """``F.T @ r`` (n_pixels, k) float64 for ``r`` (n_frames, k); its pullback is :class:`FramesProduct`."""

    def perform(self, node, inputs, outputs) -> None:
        bits_t, r = inputs
        outputs[0][0] = adjoint(bits_t, np.ascontiguousarray(r), self.n_pixels, self.low, self.high)


@register_funcify_default_op_cache_key(FramesProduct)
def _numba_product(op: FramesProduct, node=None, **kwargs):
    low, high = op.low, op.high

    @numba_njit
    def frames_product(bits_t, m):
        return product(bits_t, np.ascontiguousarray(m), low, high)

    return frames_product


@register_funcify_default_op_cache_key(FramesAdjoint)
def _numba_adjoint(op: FramesAdjoint, node=None, **kwargs):
    n_pixels, low, high = op.n_pixels, op.low, op.high

    @numba_njit
    def frames_adjoint(bits_t, r):
        return adjoint(bits_t, np.ascontiguousarray(r), n_pixels, low, high)

    return frames_adjoint
