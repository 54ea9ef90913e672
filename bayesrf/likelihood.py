"""Poisson log-likelihood of the LNP model with exposure and intercept.

For parameters ``theta = (b, w)`` and design ``A = [1, X]`` (n_obs, 1 + D)::

    eta_t = b + x_t . w + log(duration_t)          (log of the expected count)
    r_t   = exp(eta_t)                              (expected count)
    NLL   = sum_t [ r_t - c_t eta_t + log(c_t!) ]   (log c! via gammaln)
    grad  = A^T (r - c)
    Hess  = A^T diag(r) A

These are the negative log-likelihood and its derivatives, so that a
minimiser walks downhill (the seed lab mixed the signs).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator
from scipy.special import gammaln

from .errors import DataError, FitError

__all__ = ["expected_counts", "poisson_grad", "poisson_hessian", "poisson_nll"]

MAX_ETA = 700.0
"""Largest log expected count accepted: ``exp(709.8)`` overflows float64."""


def _as_design(A: np.ndarray | LinearOperator) -> np.ndarray | LinearOperator:
    return A if isinstance(A, LinearOperator) else np.asarray(A, dtype=float)


def _eta(theta: np.ndarray, A: np.ndarray, offset: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """``A @ theta + offset`` after checking shapes, finiteness, counts and the overflow limit.

    ``A`` may be a :class:`scipy.sparse.linalg.LinearOperator` (:class:`bayesrf.ml.DesignOperator`), built from
    validated frames (its entries are not checked).
    """
    theta, A, offset = np.asarray(theta, dtype=float), _as_design(A), np.asarray(offset, dtype=float)
    if A.ndim != 2 or theta.shape != (A.shape[1],) or offset.shape != (A.shape[0],):
        raise DataError(f"need A (n, p), theta (p,), offset (n,); got {A.shape}, {theta.shape}, {offset.shape}.")
    if counts is not None:
        c = np.asarray(counts)
        if c.shape != (A.shape[0],):
            raise DataError(f"counts must have shape ({A.shape[0]},); got {c.shape}.")
        if not np.all(np.isfinite(c)) or np.any(c < 0):
            raise DataError("counts must be finite and >= 0.")
    checked = [("theta", theta), ("offset", offset)] + ([] if isinstance(A, LinearOperator) else [("A", A)])
    for name, arr in checked:
        if not np.all(np.isfinite(arr)):
            raise DataError(f"{name} contains NaN or inf.")
    eta = A @ theta + offset
    if eta.size and eta.max() > MAX_ETA:
        raise FitError(f"the log expected count reaches {eta.max():.3g} (> {MAX_ETA:g}): exp() overflows. "
                       "The weights or the stimulus scale are far out of range.")
    return eta


def expected_counts(theta: np.ndarray, A: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Expected count per interval, ``exp(A @ theta + offset)``, shape (n_obs,)."""
    return np.exp(_eta(theta, A, offset))


def poisson_nll(theta: np.ndarray, A: np.ndarray | LinearOperator, counts: np.ndarray, offset: np.ndarray) -> float:
    """Negative Poisson log-likelihood (including the ``log c!`` constant).

    Parameters
    ----------
    theta : ndarray, shape (p,)
        Intercept first if ``A`` has a column of ones first.
    A : ndarray or LinearOperator, shape (n_obs, p)
    counts : ndarray, shape (n_obs,)
    offset : ndarray, shape (n_obs,)
        Log exposure, ``log(duration)`` in log-seconds.

    Raises
    ------
    DataError
        Inconsistent shapes, NaN/inf input, negative counts.
    FitError
        A log expected count above :data:`MAX_ETA` (``exp`` would overflow).
    """
    eta = _eta(theta, A, offset, counts)
    return float(np.sum(np.exp(eta) - counts * eta + gammaln(np.asarray(counts, dtype=float) + 1.0)))


def poisson_grad(theta: np.ndarray, A: np.ndarray | LinearOperator, counts: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Gradient of :func:`poisson_nll`, shape (p,)."""
    return _as_design(A).T @ (np.exp(_eta(theta, A, offset, counts)) - counts)


def poisson_hessian(theta: np.ndarray, A: np.ndarray, counts: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Hessian of :func:`poisson_nll`, shape (p, p)."""
    A = np.asarray(A, dtype=float)
    r = np.exp(_eta(theta, A, offset, counts))
    return A.T @ (r[:, None] * A)
