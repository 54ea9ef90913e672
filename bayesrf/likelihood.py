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
from scipy.special import gammaln

__all__ = ["poisson_grad", "poisson_hessian", "poisson_nll", "expected_counts"]


def expected_counts(theta: np.ndarray, A: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Expected count per interval, ``exp(A @ theta + offset)``, shape (n_obs,)."""
    return np.exp(A @ theta + offset)


def poisson_nll(theta: np.ndarray, A: np.ndarray, counts: np.ndarray, offset: np.ndarray) -> float:
    """Negative Poisson log-likelihood (including the ``log c!`` constant).

    Parameters
    ----------
    theta : ndarray, shape (p,)
        Intercept first if ``A`` has a column of ones first.
    A : ndarray, shape (n_obs, p)
    counts : ndarray, shape (n_obs,)
    offset : ndarray, shape (n_obs,)
        Log exposure, ``log(duration)`` in log-seconds.
    """
    eta = A @ theta + offset
    return float(np.sum(np.exp(eta) - counts * eta + gammaln(counts + 1.0)))


def poisson_grad(theta: np.ndarray, A: np.ndarray, counts: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Gradient of :func:`poisson_nll`, shape (p,)."""
    return A.T @ (expected_counts(theta, A, offset) - counts)


def poisson_hessian(theta: np.ndarray, A: np.ndarray, counts: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Hessian of :func:`poisson_nll`, shape (p, p); ``counts`` is unused (kept for a uniform signature)."""
    r = expected_counts(theta, A, offset)
    return A.T @ (r[:, None] * A)
