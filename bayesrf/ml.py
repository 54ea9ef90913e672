"""Maximum-likelihood and penalised maximum-likelihood RF fits.

Penalty convention (the same as scikit-learn's ``PoissonRegressor`` and
glum with unit sample weights and the exposure passed as an offset)::

    objective(b, w) = NLL(b, w) / n_obs + alpha * P(w)
    P(w) = ||w||_2^2 / 2      (penalty="l2", ridge)
    P(w) = ||w||_1            (penalty="l1", lasso)

``NLL`` is the Poisson negative log-likelihood of :mod:`bayesrf.likelihood`
and ``n_obs`` the number of frame intervals used (after dropping the
``n_lags - 1`` without a full history). The intercept ``b`` is never
penalised. Multiplying by ``n_obs`` gives the negative log-posterior of a
Bayesian model: ridge is a Normal(0, sigma) prior with
``alpha = 1 / (n_obs * sigma**2)`` and lasso a Laplace(0, b_scale) prior with
``alpha = 1 / (n_obs * b_scale)`` (see :mod:`bayesrf.priors`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import xarray as xr
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.sparse.linalg import LinearOperator, cg

from .design import Design, make_design
from .errors import BayesRFWarning, DataError, FitError
from .likelihood import poisson_nll

__all__ = [
    "all_lags_design", "DesignOperator", "fit_block", "fit_ml", "MATRIX_FREE_WEIGHTS", "Penalty",
    "smooth_derivatives", "Solution", "solve_penalized", "with_intercept",
]

PENALTIES = (None, "l2", "l1")

MATRIX_FREE_WEIGHTS = 2_000
"""From this many RF weights on, fits of all lags with a smooth penalty run matrix-free
(:class:`DesignOperator`, Newton steps by conjugate gradients): forming the dense Hessian costs
``n_obs * weights**2`` and its memory ``weights**2``, the operator ``n_time * weights`` per product.
On binary white noise the matrix-free solver was faster at every size measured (from 500 weights on;
``docs/map_scaling.json``); below this size the dense solver is kept because it takes seconds there and
its Newton steps are exact whatever the stimulus's conditioning (CG's iterations grow with it)."""


@dataclass(frozen=True)
class Penalty:
    """Per-parameter penalty on the log-likelihood (sum) scale.

    ``sum_j quad_j (theta_j - center_j)^2 / 2 + sum_j l1_j |theta_j|``:
    the negative log-density of independent Normal(center, 1/sqrt(quad)) and
    Laplace(0, 1/l1) priors, up to constants.
    """

    quad: np.ndarray
    center: np.ndarray
    l1: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.l1 is None:
            object.__setattr__(self, "l1", np.zeros_like(self.quad))

    def value(self, theta: np.ndarray) -> float:
        """Penalty at ``theta``."""
        d = theta - self.center
        return float(0.5 * np.sum(self.quad * d * d) + np.sum(self.l1 * np.abs(theta)))


@dataclass(frozen=True)
class Solution:
    """Result of :func:`solve_penalized`."""

    theta: np.ndarray
    objective: float
    nll: float
    n_iter: int
    converged: bool
    solver: str


def _objective(theta: np.ndarray, A: np.ndarray, counts: np.ndarray, offset: np.ndarray, pen: Penalty) -> float:
    try:
        value = poisson_nll(theta, A, counts, offset) + pen.value(theta)
    except FitError:  # a line-search step into exp() overflow: reject it
        return np.inf
    return value if np.isfinite(value) else np.inf


def _start(A: np.ndarray, counts: np.ndarray, offset: np.ndarray) -> np.ndarray:
    total = counts.sum()
    if total == 0:
        raise FitError(
            "all spike counts are zero: the baseline rate is not identifiable (its estimate is -inf). "
            "Check that the spike times belong to this stimulus."
        )
    theta = np.zeros(A.shape[1])
    theta[0] = np.log(total / np.exp(offset).sum())
    return theta


def _rate_and_grad(
    theta: np.ndarray, A: np.ndarray | LinearOperator, counts: np.ndarray, offset: np.ndarray, pen: Penalty
) -> tuple[np.ndarray, np.ndarray]:
    """Expected counts ``r`` (n_obs,) and the gradient of ``NLL + quadratic penalty`` (p,)."""
    r = np.exp(A @ theta + offset)
    return r, A.T @ (r - counts) + pen.quad * (theta - pen.center)


def smooth_derivatives(
    theta: np.ndarray, A: np.ndarray, counts: np.ndarray, offset: np.ndarray, pen: Penalty
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of ``NLL + quadratic penalty`` (the L1 part excluded)."""
    r, grad = _rate_and_grad(theta, A, counts, offset, pen)
    B = A * np.sqrt(r)[:, None]
    hess = B.T @ B  # numpy uses a symmetric rank-k update for B.T @ B
    hess[np.diag_indices_from(hess)] += pen.quad
    return grad, hess


def _cholesky_step(
    theta: np.ndarray, A: np.ndarray, counts: np.ndarray, offset: np.ndarray, pen: Penalty
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and the exact Newton step ``H^-1 grad`` (Cholesky solve of the dense Hessian)."""
    grad, hess = smooth_derivatives(theta, A, counts, offset, pen)
    try:
        return grad, cho_solve(cho_factor(hess), grad)
    except LinAlgError as exc:
        raise FitError(
            "the Hessian is singular: the parameters are not identifiable from these data "
            f"({A.shape[0]} intervals for {A.shape[1]} parameters). Use a penalty "
            "(penalty='l2'), a prior, fewer lags, or per_lag=True."
        ) from exc


def _cg_step(
    theta: np.ndarray, A: DesignOperator, counts: np.ndarray, offset: np.ndarray, pen: Penalty
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and an inexact Newton step: preconditioned conjugate gradients on the products
    ``H v`` of :meth:`DesignOperator.hessian`, the Hessian never formed, to relative residual
    ``min(0.5, sqrt(|grad|))`` (Eisenstat & Walker 1996: loose far from the optimum, tight near it)."""
    r, grad = _rate_and_grad(theta, A, counts, offset, pen)
    step, _ = cg(A.hessian(r, pen.quad), grad, rtol=min(0.5, float(np.sqrt(np.linalg.norm(grad)))), maxiter=1_000,
                 M=A.preconditioner(r, pen.quad))
    return grad, step


def _newton(
    A: np.ndarray | LinearOperator, counts: np.ndarray, offset: np.ndarray, pen: Penalty, tol: float,
    max_iter: int, start: np.ndarray | None = None,
) -> Solution:
    """Damped Newton's method (smooth penalties only): Cholesky solves of the dense Hessian for an array
    ``A``, conjugate-gradient solves of Hessian-vector products for a :class:`DesignOperator`."""
    newton_step, solver = (_cg_step, "newton-cg") if isinstance(A, DesignOperator) else (_cholesky_step, "newton-cholesky")
    theta = _start(A, counts, offset) if start is None else np.array(start, dtype=float)
    f = _objective(theta, A, counts, offset, pen)
    for it in range(1, max_iter + 1):
        grad, step = newton_step(theta, A, counts, offset, pen)
        decrement = float(grad @ step)
        if decrement / 2 < tol:
            return Solution(theta, f, f - pen.value(theta), it, True, solver)
        t = 1.0
        while t > 1e-12:
            candidate = theta - t * step
            f_new = _objective(candidate, A, counts, offset, pen)
            if f_new <= f - 1e-4 * t * decrement:
                break
            t /= 2
        else:
            return Solution(theta, f, f - pen.value(theta), it, False, solver)
        theta, f = candidate, f_new
    return Solution(theta, f, f - pen.value(theta), max_iter, False, solver)


def _prox_newton(
    A: np.ndarray, counts: np.ndarray, offset: np.ndarray, pen: Penalty, tol: float, max_iter: int
) -> Solution:
    """Proximal Newton for penalties with an L1 part (handles the kink at zero).

    Each step minimises the exact quadratic model of the smooth part plus the
    L1 term by compiled coordinate descent, then backtracks on the full
    objective (Lee, Sun & Saunders 2014; the scheme glum and glmnet use).
    """
    from ._cd import lasso_quadratic_cd

    if np.any((pen.center != 0) & (pen.l1 != 0)):
        raise ValueError("an L1 penalty must be centred at zero")
    theta = _start(A, counts, offset)
    f = _objective(theta, A, counts, offset, pen)
    l1_now = float(pen.l1 @ np.abs(theta))
    last_step = 1.0
    for it in range(1, max_iter + 1):
        grad, hess = smooth_derivatives(theta, A, counts, offset, pen)
        # inexact inner solves while far from the optimum, exact near it
        inner_tol = max(tol * 1e-1, 1e-3 * last_step)
        z, _ = lasso_quadratic_cd(hess, grad, theta, pen.l1, inner_tol, 100_000)
        step = z - theta
        l1_new = float(pen.l1 @ np.abs(z))
        predicted = float(grad @ step) + l1_new - l1_now  # <= 0
        if np.max(np.abs(step)) < tol:
            return Solution(theta, f, f - pen.value(theta), it, True, "proximal newton-cd")
        t = 1.0
        while t > 1e-12:
            candidate = theta + t * step
            f_new = _objective(candidate, A, counts, offset, pen)
            if f_new <= f + 1e-4 * t * predicted:
                break
            t /= 2
        else:
            return Solution(theta, f, f - pen.value(theta), it, False, "proximal newton-cd")
        theta, f, l1_now = candidate, f_new, float(pen.l1 @ np.abs(candidate))
        last_step = t * float(np.max(np.abs(step)))
    return Solution(theta, f, f - pen.value(theta), max_iter, False, "proximal newton-cd")


def solve_penalized(
    A: np.ndarray | LinearOperator,
    counts: np.ndarray,
    offset: np.ndarray,
    penalty: Penalty,
    *,
    tol: float = 1e-10,
    max_iter: int = 100,
    start: np.ndarray | None = None,
) -> Solution:
    """Minimise ``NLL(theta) + penalty(theta)`` exactly.

    Smooth penalties use damped Newton with Cholesky solves of the exact
    Hessian (or conjugate-gradient solves of Hessian-vector products for a
    :class:`DesignOperator`); penalties with an L1 part use proximal Newton
    with compiled coordinate descent on each quadratic model, which handles the
    kink at 0 (dense designs only).

    Parameters
    ----------
    A : ndarray or DesignOperator, shape (n_obs, p)
        Design with the intercept column (ones) first (:func:`all_lags_design`).
    counts, offset : ndarray, shape (n_obs,)
    penalty : Penalty
        On the log-likelihood (sum) scale.
    tol : float
        Newton: stop when half the Newton decrement (nats) is below it.
        Proximal Newton: stop when no coordinate moves by more than
        ``max(tol, 1e-9)``.
    max_iter : int
    start : ndarray (p,), optional
        Warm start of the smooth (Newton) solver; default the mean rate and zero weights.

    Returns
    -------
    Solution
    """
    if np.any(penalty.l1 > 0):
        if isinstance(A, DesignOperator):
            raise FitError("an L1 penalty needs the dense design (proximal Newton); pass an array, not an operator.")
        sol = _prox_newton(A, counts, offset, penalty, tol=max(tol, 1e-9), max_iter=max_iter)
    else:
        sol = _newton(A, counts, offset, penalty, tol=tol, max_iter=max_iter, start=start)
    if not sol.converged:
        warnings.warn(
            f"{sol.solver} did not converge in {sol.n_iter} iterations; the fit may be inaccurate. "
            "Increase max_iter or use a stronger penalty.",
            BayesRFWarning,
            stacklevel=3,
        )
    return sol


def ml_penalty(n_params: int, n_obs: int, penalty: str | None, alpha: float) -> Penalty:
    """Translate ``(penalty, alpha)`` into a :class:`Penalty` for ``[b, w]`` (intercept unpenalised)."""
    if penalty not in PENALTIES:
        raise DataError(f"penalty must be one of None, 'l2', 'l1'; got {penalty!r}.")
    if not np.isfinite(alpha) or alpha < 0:
        raise DataError(f"alpha must be a finite number >= 0; got {alpha!r}.")
    strength = np.full(n_params, n_obs * float(alpha))
    strength[0] = 0.0
    zero = np.zeros(n_params)
    if penalty == "l2":
        return Penalty(quad=strength, center=zero)
    if penalty == "l1":
        return Penalty(quad=zero, center=zero, l1=strength)
    return Penalty(quad=zero, center=zero)


def with_intercept(X: np.ndarray) -> np.ndarray:
    """``[1, X]``: prepend a column of ones, shape (n_obs, 1 + p)."""
    return np.hstack([np.ones((X.shape[0], 1)), X])


class DesignOperator(LinearOperator):
    """``[1, X, extra]`` (n_obs, 1 + n_weights + k) as a linear operator that never forms the lagged design ``X``.

    ``A @ theta = theta[0] + design.drive(w) + extra @ theta[1 + D:]`` and
    ``A.T @ r = [sum(r), design.drive_adjoint(r), extra.T @ r]``: two products with the frames
    (n_time, n_pixels) per use, ``n_lags`` times less memory than ``X``.

    Parameters
    ----------
    design : Design
    extra : ndarray (n_obs, k), optional
        Further columns after the RF weights (the spline baseline basis).
    """

    def __init__(self, design: Design, extra: np.ndarray | None = None) -> None:
        self.design = design
        self.extra = np.empty((design.n_obs, 0)) if extra is None else extra
        self.single = design.single_precision()
        super().__init__(float, (design.n_obs, 1 + design.n_weights + self.extra.shape[1]))

    def _forward(self, design: Design, theta: np.ndarray) -> np.ndarray:
        D = design.n_weights
        w = theta[1 : 1 + D].reshape(design.n_lags, design.n_pixels)
        return theta[0] + design.drive(w) + self.extra @ theta[1 + D :]

    def _adjoint(self, design: Design, r: np.ndarray) -> np.ndarray:
        return np.concatenate([[r.sum()], design.drive_adjoint(r).ravel(), self.extra.T @ r])

    def _matvec(self, theta: np.ndarray) -> np.ndarray:
        return self._forward(self.design, np.ravel(theta))

    def _rmatvec(self, r: np.ndarray) -> np.ndarray:
        return self._adjoint(self.design, np.ravel(r))

    @cached_property
    def squared(self) -> Design:
        """The design of the squared frames, ``(X * X).T @ r`` by its ``drive_adjoint``: the diagonal of
        ``X.T diag(r) X`` (squared once per operator, not at every Newton step)."""
        return self.single.squared()

    def hessian(self, r: np.ndarray, quad: np.ndarray) -> LinearOperator:
        """``H v = A.T @ (r * (A @ v)) + quad * v`` without forming ``H`` (p, p).

        The frame products run in float32 when that represents the frames exactly (binary or small-integer
        frames): 2.7x faster at 12,800 weights, relative error ~1e-6 in ``H v``. Only the Newton step uses
        ``H``; the gradient and the objective that decide convergence stay in float64.
        """
        def apply(v: np.ndarray) -> np.ndarray:
            return self._adjoint(self.single, r * self._forward(self.single, v)) + quad * v

        return LinearOperator(self.shape[1:] * 2, matvec=apply, dtype=float)

    def preconditioner(self, r: np.ndarray, quad: np.ndarray) -> LinearOperator:
        """Block-Jacobi inverse of :meth:`hessian`: the exact inverse of the intercept and ``extra`` block
        (correlated: the spline basis nearly spans the constant) and ``1 / diag(H)`` for the weights
        (measured: 5x fewer products than plain CG at 12,800 weights)."""
        D = self.design.n_weights
        block = np.r_[0, 1 + D + np.arange(self.extra.shape[1])]
        dense = np.hstack([np.ones((r.size, 1)), self.extra])
        block_inv = np.linalg.inv(dense.T @ (r[:, None] * dense) + np.diag(quad[block]))
        weights_inv = 1.0 / (self.squared.drive_adjoint(r).ravel() + quad[1 : 1 + D])

        def apply(v: np.ndarray) -> np.ndarray:
            out = np.empty_like(v)
            out[1 : 1 + D] = weights_inv * v[1 : 1 + D]
            out[block] = block_inv @ v[block]
            return out

        return LinearOperator(self.shape[1:] * 2, matvec=apply, dtype=float)


def all_lags_design(design: Design, penalty: Penalty, extra: np.ndarray | None = None) -> np.ndarray | LinearOperator:
    """``[1, X, extra]`` for a fit of all lags at once, in the form :func:`solve_penalized` is fastest with:
    :class:`DesignOperator` from :data:`MATRIX_FREE_WEIGHTS` weights on when ``penalty`` has no L1 part,
    else the dense array."""
    if design.n_weights >= MATRIX_FREE_WEIGHTS and not np.any(penalty.l1 > 0):
        return DesignOperator(design, extra)
    A = with_intercept(design.matrix())
    return A if extra is None else np.hstack([A, extra])


def fit_block(design: Design, penalty: str | None, alpha: float) -> Solution:
    """Penalised Poisson GLM of ``design``'s counts on its intercept and every weight (a lag alone:
    :meth:`~bayesrf.design.Design.lag_block`), in :func:`all_lags_design`'s form; raises :class:`FitError` for plain ML
    with fewer intervals than parameters."""
    n_params = 1 + design.n_weights
    if penalty is None and design.n_obs < n_params:
        raise FitError(
            f"plain maximum likelihood needs at least as many intervals as parameters; got "
            f"{design.n_obs} intervals for {n_params} parameters, so the ML fit is not unique. "
            "Use penalty='l2' or 'l1', per_lag=True, fewer lags, or a prior (bayesrf.fit_map)."
        )
    pen = ml_penalty(n_params, design.n_obs, penalty, alpha)
    return solve_penalized(all_lags_design(design, pen), design.counts, design.offset, pen)


def fit_ml(
    recording: xr.Dataset,
    lags: int = 5,
    penalty: str | None = None,
    alpha: float = 0.0,
    per_lag: bool = False,
) -> xr.Dataset:
    """Fit the LNP receptive field by (penalised) maximum likelihood.

    Minimises ``NLL / n_obs + alpha * P(w)`` (see the module docstring for
    the convention and its Bayesian reading).

    Parameters
    ----------
    recording : xarray.Dataset
        From :func:`bayesrf.load_recording` or :func:`bayesrf.simulate`.
    lags : int, default 5
        Lags ``0 .. lags - 1`` in frames (causal; see :mod:`bayesrf.design`).
    penalty : {None, "l2", "l1"}
        None is plain ML, "l2" ridge, "l1" lasso.
    alpha : float, default 0
        Penalty strength per observation (sklearn/glum scale).
    per_lag : bool, default False
        Fit each lag on its own (with its own intercept), as the course lab
        did; the same intervals are used for every lag.

    Returns
    -------
    xarray.Dataset
        ``rf`` (lag, y, x) in log-rate per unit stimulus contrast,
        ``intercept`` (scalar, or (lag) with ``per_lag``) in log(spikes/s),
        attrs: penalty, alpha, objective, nll, n_obs, n_dropped, solver,
        converged.

    Raises
    ------
    FitError
        Plain ML with fewer intervals than parameters, all-zero counts, a
        singular Hessian.

    Examples
    --------
    >>> from bayesrf import simulate
    >>> rec = simulate(n_frames=4000, shape=(6, 6), lags=2, seed=1)
    >>> fit = fit_ml(rec, lags=2, penalty="l2", alpha=1e-3)
    >>> fit.rf.dims
    ('lag', 'y', 'x')
    >>> bool(xr.corr(fit.rf, rec.rf_true) > 0.9)
    True
    """
    design = make_design(recording, lags)
    if per_lag:
        sols = [fit_block(design.lag_block(lag), penalty, alpha) for lag in range(lags)]
        weights = np.stack([s.theta[1:] for s in sols])
        intercept = xr.DataArray([s.theta[0] for s in sols], dims="lag")
        info = {
            "objective": float(sum(s.objective for s in sols)),
            "nll": float(sum(s.nll for s in sols)),
            "converged": int(all(s.converged for s in sols)),
            "solver": sols[0].solver,
            "n_iter": int(sum(s.n_iter for s in sols)),
        }
    else:
        sol = fit_block(design, penalty, alpha)
        weights, intercept = sol.theta[1:], xr.DataArray(sol.theta[0])
        info = {"objective": sol.objective, "nll": sol.nll, "converged": int(sol.converged),
                "solver": sol.solver, "n_iter": sol.n_iter}
    rf = xr.DataArray(
        weights.reshape(lags, design.ny, design.nx), dims=("lag", "y", "x"),
        attrs={"long_name": "receptive field", "units": "log-rate per unit contrast"},
    )
    out = xr.Dataset({"rf": rf, "intercept": intercept}, coords=design.lag_coords())
    out["intercept"].attrs.update(long_name="log baseline rate", units="log(spikes/s)")
    out.attrs.update(
        penalty=str(penalty), alpha=float(alpha), per_lag=int(per_lag), n_obs=design.n_obs,
        n_dropped=design.n_dropped, convention="NLL/n_obs + alpha*P(w); P=||w||^2/2 (l2) or ||w||_1 (l1)",
        **info,
    )
    return out
