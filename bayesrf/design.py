"""Lagged stimulus design with a causal lag convention.

Convention
----------
Frame ``k`` is on screen from trigger ``k`` to trigger ``k + 1`` and the
spike count of that interval is ``counts[k]``. With ``n_lags = L`` the count
in interval ``k`` depends on frames ``k, k-1, ..., k-L+1``: **lag 0 is the
frame on screen during the count, lag l is the frame shown l frames
earlier**. Nothing later than the count can enter, so the model is causal.

The course lab this package grew from paired count ``k`` with frame
``k + 1`` as its "delta 0"; its delta ``d`` is lag ``d - 1`` here, and its
delta 0 (the next frame) is acausal and has no counterpart.

The first ``L - 1`` intervals lack a full stimulus history. They are
**dropped** from every fit (never zero-padded) and the number dropped is
reported as :attr:`Design.n_dropped`. A ``keep`` mask can leave further
intervals out of the likelihood (e.g. a held-out block); their frames still
serve as history for the intervals that are kept.

Weights are flattened lag-major: ``w_flat[l * P + p]`` with
``p = y * nx + x`` (C order), i.e. ``rf.reshape(L, ny * nx)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import xarray as xr

from .data import validate_recording
from .errors import BayesRFWarning, DataError

__all__ = ["RAISED_COSINE_OFFSET", "Design", "baseline_basis", "count_history", "lag_seconds", "make_design",
           "raised_cosine_basis", "raised_cosine_limit", "shift_sum", "spline_basis", "step_basis"]

RAISED_COSINE_OFFSET = 1.0
"""Offset ``c`` (intervals) of the raised-cosine basis' log time ``log(j + c)`` (:func:`raised_cosine_basis`): the
smaller, the narrower the first bumps relative to the last."""


def shift_sum(per_lag: np.ndarray, n_lags: int) -> np.ndarray:
    """``sum_l per_lag[..., t + L - 1 - l, l]``: the drive of each interval with a full history.

    ``per_lag`` (..., n_time, n_lags) holds ``frames @ w_l`` for every frame and lag;
    the result has shape (..., n_time - n_lags + 1).
    """
    n = per_lag.shape[-2] - n_lags + 1
    return sum(per_lag[..., n_lags - 1 - lag : n_lags - 1 - lag + n, lag] for lag in range(n_lags))


def spline_basis(times: np.ndarray, session: tuple[float, float], n_basis: int) -> np.ndarray:
    """Drift basis for a slow baseline at ``times`` (s), shape (len(times), n_basis - 1).

    Cubic B-splines ``B_k(t)`` with equally spaced knots over ``session`` (start, stop in s);
    column ``j`` is ``sum_{k >= j} B_k(t)`` for ``j = 1 .. n_basis - 1`` (so independent
    coefficients ``delta_j`` are the steps of a random walk over the B-spline coefficients),
    centred to mean 0 over the session (on a fine uniform time grid, so the basis does not
    depend on which intervals a ``keep`` mask selects) so that the intercept keeps the
    meaning "mean log-rate". The column ``j = 0`` would be the constant and is left to the
    intercept. Times outside the session get the value at its nearest end.
    """
    from scipy.interpolate import BSpline

    degree = 3
    start, stop = session
    inner = np.linspace(start, stop, n_basis - degree + 1)
    knots = np.r_[[start] * degree, inner, [stop] * degree]
    return _cumulative_centred(lambda t: BSpline.design_matrix(t, knots, degree).toarray(), times, session)


def step_basis(times: np.ndarray, session: tuple[float, float], n_steps: int) -> np.ndarray:
    """Basis of a piecewise-constant baseline at ``times`` (s), shape (len(times), n_steps - 1).

    ``session`` (start, stop in s) is cut into ``n_steps`` equal segments; column ``j = 1 .. n_steps - 1`` is 1
    from the start of segment ``j`` on (0 before), so coefficient ``delta_j`` is the jump of the log-rate at
    that segment's start. Centred to mean 0 over the session and clipped to it as :func:`spline_basis`.

    Examples
    --------
    >>> B = step_basis(np.array([0.5, 1.5, 2.5, 3.5]), (0.0, 4.0), 4)
    >>> np.diff(B, axis=0)  # each segment's start switches one column on
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """
    start, stop = session
    edges = np.linspace(start, stop, n_steps + 1)

    def indicators(t: np.ndarray) -> np.ndarray:
        segment = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, n_steps - 1)
        return (segment[:, None] == np.arange(n_steps)).astype(float)

    return _cumulative_centred(indicators, times, session)


def _cumulative_centred(pieces: Callable[[np.ndarray], np.ndarray], times: np.ndarray,
                        session: tuple[float, float]) -> np.ndarray:
    """Columns ``j >= 1`` of the reversed cumulative sum of ``pieces(t)`` (one column per piece, t clipped to
    ``session``), centred by their mean on a uniform grid of 2001 times over the session."""
    start, stop = session

    def basis(t: np.ndarray) -> np.ndarray:
        B = pieces(np.clip(t, start, stop))
        return np.cumsum(B[:, ::-1], axis=1)[:, ::-1][:, 1:]

    return basis(np.asarray(times, dtype=float)) - basis(np.linspace(start, stop, 2001)).mean(axis=0)


BASELINE_BASES = {"spline": spline_basis, "steps": step_basis}
"""Basis function of each baseline kind that has one (``[baseline] kind``): ``f(times, session, n_basis)``."""


def baseline_basis(times: np.ndarray, session: tuple[float, float], kind: str, n_basis: int) -> np.ndarray:
    """The ``kind`` baseline's basis (:data:`BASELINE_BASES`) at ``times`` (s), shape (len(times), n_basis - 1)."""
    return BASELINE_BASES[kind](times, session, n_basis)


def raised_cosine_basis(lags: int, n_basis: int) -> np.ndarray:
    """Raised cosines in log time for a spike-history filter over ``lags`` intervals, shape (lags, n_basis).

    Pillow et al. (2008): at history lag ``j = 1 .. lags`` (intervals since the spike), ``x_j = log(j + c)`` with
    ``c =`` :data:`RAISED_COSINE_OFFSET`; bump ``i`` is ``(1 + cos(clip((x_j - phi_i) pi / delta, -pi, pi))) / 2``
    with centres ``phi_i`` evenly spaced from ``x_1`` to ``x_lags`` and ``delta`` their spacing. Each bump
    overlaps only its neighbours, so the columns sum to 1 at every lag: fine resolution just after a spike,
    coarse long after it, with ``n_basis`` weights instead of ``lags``.

    Parameters
    ----------
    lags : int
        History lags (intervals), >= 2.
    n_basis : int
        Number of bumps, ``2 <= n_basis <=`` :func:`raised_cosine_limit` ``(lags)``.

    Examples
    --------
    >>> B = raised_cosine_basis(10, 4)
    >>> B.shape, bool(np.allclose(B.sum(axis=1), 1.0)), B.argmax(axis=0).tolist()  # peaks at lags 1, 3, 5, 10
    ((10, 4), True, [0, 2, 4, 9])
    """
    if not 2 <= n_basis <= lags:
        raise DataError(f"a raised-cosine basis needs 2 <= n_basis <= lags; got n_basis={n_basis}, lags={lags}.")
    return _raised_cosines(lags, n_basis)


def raised_cosine_limit(lags: int) -> int:
    """The most raised cosines (:func:`raised_cosine_basis`) that stay linearly independent at ``lags`` integer
    lags (log time crowds the late centres: two of them between the same pair of lags are redundant), >= 2.

    Examples
    --------
    >>> [raised_cosine_limit(k) for k in (2, 6, 12, 50)]
    [2, 6, 9, 15]
    """
    return max(m for m in range(2, max(lags, 2) + 1) if np.linalg.matrix_rank(_raised_cosines(max(lags, 2), m)) == m)


def _raised_cosines(lags: int, n_basis: int) -> np.ndarray:
    x = np.log(np.arange(1, lags + 1) + RAISED_COSINE_OFFSET)
    centres = np.linspace(x[0], x[-1], n_basis)
    phase = np.clip((x[:, None] - centres) * np.pi / (centres[1] - centres[0]), -np.pi, np.pi)
    return 0.5 * (1.0 + np.cos(phase))


@dataclass(frozen=True, eq=False)
class Design:
    """A recording prepared for fitting with ``n_lags`` lags.

    Attributes
    ----------
    frames : ndarray, shape (n_time, n_pixels)
        All stimulus frames, flattened in C order (``y`` major).
    counts : ndarray of int64, shape (n_obs,)
        Counts of the intervals that have a full history
        (``n_obs = n_time - n_lags + 1``).
    offset : ndarray, shape (n_obs,)
        ``log(duration)`` of those intervals (the Poisson exposure).
    n_lags, ny, nx : int
        Number of lags and the frame grid.
    time : ndarray, shape (n_obs,)
        Onset times (s) of the kept intervals.
    frame_duration : float
        Median frame duration in seconds (to express lags in seconds).
    rows : ndarray of int, shape (n_obs,)
        Index of each kept interval among the ``n_time - n_lags + 1`` with a full history.
    session : (float, float)
        First onset and last offset (s) of the whole recording (the spline baseline's range).
    all_counts : ndarray of int64, shape (n_time,), optional
        Counts of every interval of the recording, fitted or not (the spike history's inputs).
    """

    frames: np.ndarray
    counts: np.ndarray
    offset: np.ndarray
    n_lags: int
    ny: int
    nx: int
    time: np.ndarray
    frame_duration: float
    rows: np.ndarray
    session: tuple[float, float]
    all_counts: np.ndarray | None = None

    @property
    def n_pixels(self) -> int:
        """Pixels per frame, ``ny * nx``."""
        return self.ny * self.nx

    @property
    def n_obs(self) -> int:
        """Number of intervals used in the likelihood."""
        return self.counts.shape[0]

    @property
    def n_dropped(self) -> int:
        """Leading intervals dropped for lack of stimulus history (``n_lags - 1``)."""
        return self.n_lags - 1

    @property
    def n_weights(self) -> int:
        """RF weights, ``n_lags * n_pixels``."""
        return self.n_lags * self.n_pixels

    def count_history(self, k: int) -> np.ndarray:
        """The counts of the ``k`` intervals before each fitted one, shape (n_obs, k) (see :func:`count_history`)."""
        if self.all_counts is None:
            raise DataError("this design has no counts of the whole recording; build it with make_design.")
        return count_history(self.all_counts, self.rows + self.n_lags - 1, k)

    @cached_property
    def lagged(self) -> np.ndarray:
        """Shape (n_obs, n_lags, n_pixels): ``lagged[k, l] = frames[k + L - 1 - l]``. A read-only view of the frames
        when every interval is used; when ``rows`` leaves some out (a held-out split), a copy of the kept rows, cached
        with the design (n_obs x n_lags x n_pixels values)."""
        window = np.lib.stride_tricks.sliding_window_view(self.frames, self.n_lags, axis=0)
        lagged = window[..., ::-1].transpose(0, 2, 1)
        return lagged if self.rows.size == lagged.shape[0] else lagged[self.rows]

    def lag_block(self, lag: int) -> Design:
        """The design of lag ``lag`` alone (one lag, ``n_pixels`` weights, the same intervals): its ``matrix()`` is
        ``lagged[:, lag, :]``. For fits of the stimulus only: it has no counts of the whole recording, so no spike
        history."""
        return replace(self, n_lags=1, rows=self.rows + self.n_lags - 1 - lag, all_counts=None)

    def matrix(self) -> np.ndarray:
        """The dense design matrix, shape (n_obs, n_lags * n_pixels), lag-major columns."""
        return np.ascontiguousarray(self.lagged).reshape(self.n_obs, self.n_weights)

    def drive(self, weights: np.ndarray) -> np.ndarray:
        """Linear drive ``sum_l w_l . s_{t-l}`` for weights of shape (n_lags, n_pixels).

        Computed as one product ``frames @ weights.T`` (n_time, n_lags) and a sum of
        shifted columns, without forming the lagged design, in the frames' precision.
        """
        return shift_sum(self.frames @ np.asarray(weights, dtype=self.frames.dtype).T, self.n_lags)[self.rows]

    def single_precision(self) -> Design:
        """This design with float32 frames when float32 holds them exactly (binary or small-integer stimuli),
        else itself: products with the frames then move half the memory (2.7x faster at 20,000 x 1,600)."""
        single = self.frames.astype(np.float32)
        return replace(self, frames=single) if np.array_equal(single, self.frames) else self

    def squared(self) -> Design:
        """This design with its frames squared, in their precision (exact for binary frames): its
        :meth:`drive_adjoint` of ``r`` is the diagonal of ``X.T diag(r) X``."""
        return replace(self, frames=np.square(self.frames))

    def drive_adjoint(self, r: np.ndarray) -> np.ndarray:
        """``X.T @ r`` for ``r`` of shape (n_obs,), as (n_lags, n_pixels): the adjoint of :meth:`drive`.

        Lag ``l``'s row is ``sum_k r_k s_{k-l}``, one product ``frames.T @ R`` with ``R`` (n_time, n_lags)
        holding ``r`` shifted by each lag, without forming the lagged design. Computed in the frames' precision.
        """
        shifted = np.zeros((self.frames.shape[0], self.n_lags), dtype=self.frames.dtype)
        for lag in range(self.n_lags):
            shifted[self.rows + self.n_lags - 1 - lag, lag] = r
        return (self.frames.T @ shifted).T

    def spline_basis(self, n_basis: int) -> np.ndarray:
        """Drift basis of this design's intervals, shape (n_obs, n_basis - 1): :func:`spline_basis`
        at ``self.time`` over ``self.session``."""
        return spline_basis(self.time, self.session, n_basis)

    def baseline_basis(self, kind: str, n_basis: int) -> np.ndarray:
        """Basis of a ``kind`` baseline (``"spline"`` or ``"steps"``) at this design's intervals, shape
        (n_obs, n_basis - 1): :func:`baseline_basis` at ``self.time`` over ``self.session``."""
        return baseline_basis(self.time, self.session, kind, n_basis)

    def lag_coords(self) -> dict[str, xr.Variable]:
        """Coordinates ``lag`` (frames; the frame duration in its attrs, see :func:`lag_seconds`), ``y``, ``x``.

        Seconds are an attribute, not a second coordinate on ``lag``: ArviZ stacks the
        variables of a group and refuses a non-index coordinate that only some of them have.
        """
        return {
            "lag": xr.Variable("lag", np.arange(self.n_lags), {"units": "frames", "long_name": "lag (frames before the count)",
                                                              "frame_duration_s": self.frame_duration}),
            "y": xr.Variable("y", np.arange(self.ny), {"units": "pixel"}),
            "x": xr.Variable("x", np.arange(self.nx), {"units": "pixel"}),
        }


def lag_seconds(obj: xr.DataArray | xr.Dataset) -> np.ndarray | None:
    """Lags of ``obj`` in seconds (lag x median frame duration), or None when its ``lag``
    coordinate does not carry the frame duration (see :meth:`Design.lag_coords`)."""
    lag = obj["lag"]
    return lag.values * float(lag.attrs["frame_duration_s"]) if "frame_duration_s" in lag.attrs else None


def _warn_constant_pixels(frames: np.ndarray) -> None:
    constant = np.ptp(frames, axis=0) == 0
    if constant.any():
        warnings.warn(
            f"{int(constant.sum())} of {constant.size} pixels never change during the recording: the data say "
            "nothing about their weights (ML is not identifiable; a posterior returns their prior).",
            BayesRFWarning, stacklevel=3)


def make_design(recording: xr.Dataset, n_lags: int = 5, keep: np.ndarray | None = None) -> Design:
    """Prepare a recording for fitting with lags ``0 .. n_lags - 1``.

    Parameters
    ----------
    recording : xarray.Dataset
        See :mod:`bayesrf.data`.
    n_lags : int, default 5
        Number of lags (frames of history), >= 1.
    keep : ndarray of bool, shape (n_time,), optional
        Intervals to use in the likelihood (default all); the first
        ``n_lags - 1`` are never used.

    Returns
    -------
    Design

    Examples
    --------
    >>> import numpy as np
    >>> from bayesrf.data import from_counts
    >>> frames = (np.arange(8.0).reshape(4, 1, 2) - 4) / 4  # contrasts -1, -0.75, ..., 0.75
    >>> rec = from_counts(frames, [0, 1, 2, 3], 0.1)
    >>> d = make_design(rec, n_lags=2)
    >>> d.n_obs, d.n_dropped
    (3, 1)
    >>> d.matrix()[0].tolist()  # count 1 sees frame 1 (lag 0) and frame 0 (lag 1)
    [-0.5, -0.25, -1.0, -0.75]
    """
    recording = validate_recording(recording)
    if not isinstance(n_lags, (int, np.integer)) or n_lags < 1:
        raise DataError(f"n_lags must be a positive integer; got {n_lags!r}.")
    n_time = recording.sizes["time"]
    if n_time < n_lags + 1:
        raise DataError(
            f"{n_time} frame interval(s) cannot support {n_lags} lags: at least n_lags + 1 = "
            f"{n_lags + 1} are needed (the first n_lags - 1 are dropped for lack of history)."
        )
    ny, nx = recording.sizes["y"], recording.sizes["x"]
    frames = np.ascontiguousarray(recording["stim"].values.reshape(n_time, ny * nx), dtype=np.float64)
    use = np.ones(n_time, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    if use.shape != (n_time,):
        raise DataError(f"keep must be a boolean mask of shape ({n_time},); got {use.shape}.")
    idx = np.flatnonzero(use[n_lags - 1 :]) + n_lags - 1
    if idx.size == 0:
        raise DataError("keep leaves no interval with a full stimulus history to fit.")
    duration = recording["duration"].values
    onsets = recording["time"].values
    _warn_constant_pixels(frames)
    return Design(
        frames=frames,
        counts=recording["counts"].values[idx].astype(np.int64),
        offset=np.log(duration[idx]),
        n_lags=int(n_lags),
        ny=ny,
        nx=nx,
        time=onsets[idx],
        frame_duration=float(np.median(duration)),
        rows=idx - (n_lags - 1),
        session=(float(onsets[0]), float(onsets[-1] + duration[-1])),
        all_counts=recording["counts"].values.astype(np.int64),
    )


def count_history(all_counts: np.ndarray, intervals: np.ndarray, k: int) -> np.ndarray:
    """Counts before each of ``intervals`` (indices into ``all_counts``): column ``j`` is ``c_{t - 1 - j}``
    (history lag ``j + 1``), 0 before the recording starts. Shape (len(intervals), k).

    Examples
    --------
    >>> count_history(np.array([5, 6, 7, 8]), np.array([1, 3]), 2).tolist()
    [[5.0, 0.0], [7.0, 6.0]]
    """
    padded = np.concatenate([np.zeros(k), np.asarray(all_counts, dtype=float)])
    return np.stack([padded[np.asarray(intervals) + k - 1 - j] for j in range(k)], axis=1).reshape(-1, k)
