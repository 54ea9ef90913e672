"""The penalised-GLM backend: the MAP of a fixed-scale prior as a penalised Poisson GLM.

A prior at fixed scales is a :class:`~bayesrf.ml.Penalty` on ``theta = [intercept, w, baseline_coef]``
(the weights' part is the family's, :meth:`bayesrf.families.Family.penalty`), and its MAP is the
penalised fit of the full design ``[1, X, Z]`` (Newton for Normal/flat, proximal Newton for Laplace;
see :func:`bayesrf.ml.solve_penalized`). A ``steps`` baseline's Student-t jumps enter as Normal jumps of the
same scale: the fit is then a start for the exact mode (:attr:`bayesrf.PriorSpec.penalized_glm` is False), not
the mode itself.
"""

from __future__ import annotations

import numpy as np

from .design import Design
from .errors import FitError, SpecError
from .families import family_of
from .ml import Penalty, Solution, all_lags_design, solve_penalized, with_intercept
from .model import intercept_mu
from .priors import PriorSpec

__all__ = ["baseline_problem", "full_design", "n_baseline", "prior_penalty", "scaled_penalty", "solve_blocks", "solve_full",
           "split_theta"]


def n_baseline(spec: PriorSpec) -> int:
    """Number of baseline coefficients of ``spec`` (spline steps or segment jumps; 0 for a constant baseline)."""
    return 0 if spec.baseline_kind == "constant" else spec.baseline_n_basis - 1


def scaled_penalty(design: Design, spec: PriorSpec, scales: np.ndarray | float, n_weights: int | None = None) -> Penalty:
    """Negative log-prior of ``spec`` on ``[intercept, w, baseline_coef]`` with the weights' scale(s) fixed.

    Parameters
    ----------
    scales : float or ndarray (lag,)
        One prior scale for all weights, or one per lag (log-rate per unit contrast).
    n_weights : int, optional
        Number of weights (default all of ``design``'s; one lag's pixels for a per-lag fit).
    """
    n_weights = design.n_weights if n_weights is None else n_weights
    p = 1 + n_weights + n_baseline(spec)
    quad, center, l1 = np.zeros(p), np.zeros(p), np.zeros(p)
    weights = slice(1, 1 + n_weights)
    if spec.intercept_family == "normal":
        quad[0], center[0] = spec.intercept_sigma**-2, intercept_mu(spec, design)
    per_weight = np.repeat(scales, design.n_pixels) if np.ndim(scales) else np.full(n_weights, float(scales))
    quad[weights], l1[weights] = family_of(spec).penalty(per_weight)
    quad[1 + n_weights :] = spec.baseline_scale**-2
    return Penalty(quad=quad, center=center, l1=l1)


def prior_penalty(spec: PriorSpec, design: Design, n_weights: int) -> Penalty:
    """Negative log-prior of a fixed-scale spec as a :class:`Penalty` on ``[intercept, w, baseline_coef]``."""
    if spec.hierarchical:
        raise SpecError(f"prior {spec.name!r} is hierarchical; its log-prior is not a fixed penalty.")
    return scaled_penalty(design, spec, 1.0 if spec.scale is None else spec.scale, n_weights)


def full_design(design: Design, spec: PriorSpec, X: np.ndarray) -> np.ndarray:
    """``[1, X, Z]``: intercept column, stimulus design, baseline basis (if any)."""
    A = with_intercept(X)
    return np.hstack([A, design.baseline_basis(spec.baseline_kind, spec.baseline_n_basis)]) if n_baseline(spec) else A


def baseline_problem(design: Design, spec: PriorSpec) -> tuple[np.ndarray, Penalty]:
    """``[1, Z]`` (intercept column and baseline basis, no RF) and the fixed-scale spec's penalty on it: the
    problem :func:`bayesrf.ml.solve_penalized` solves for the MAP of the model without an RF."""
    return full_design(design, spec, np.empty((design.n_obs, 0))), prior_penalty(spec, design, 0)


def split_theta(theta: np.ndarray, design: Design, spec: PriorSpec) -> dict[str, np.ndarray]:
    """``theta`` (..., 1 + D + K) -> ``intercept``, ``rf`` (..., lag, y, x), ``baseline_coef`` and ``baseline_level`` (..., K)."""
    D = design.n_weights
    out = {"intercept": theta[..., 0],
           "rf": theta[..., 1 : 1 + D].reshape(*theta.shape[:-1], design.n_lags, design.ny, design.nx)}
    if n_baseline(spec):
        out["baseline_coef"] = theta[..., 1 + D :]
        out["baseline_level"] = np.cumsum(out["baseline_coef"], axis=-1)
    return out


def solve_blocks(design: Design, spec: PriorSpec, per_lag: bool) -> list[Solution]:
    """MAP of a fixed-scale spec for all lags at once (matrix-free when large, :func:`bayesrf.ml.all_lags_design`)
    or for each lag alone, one :class:`~bayesrf.ml.Solution` per block."""
    if not family_of(spec).proper and spec.intercept_family == "flat":
        n_params = 1 + (design.n_pixels if per_lag else design.n_weights) + n_baseline(spec)
        if design.n_obs < n_params:
            raise FitError(
                f"flat priors with {design.n_obs} intervals for {n_params} parameters give an improper "
                "posterior without a unique mode; use a proper prior (ridge, lasso, ...) or per_lag=True."
            )
    if not per_lag:
        return [solve_full(design, spec, prior_penalty(spec, design, design.n_weights))]
    penalty = prior_penalty(spec, design, design.n_pixels)
    return [solve_full(design.lag_block(lag), spec, penalty) for lag in range(design.n_lags)]


def solve_full(design: Design, spec: PriorSpec, penalty: Penalty) -> Solution:
    """Minimiser of the Poisson NLL of all lags plus ``penalty`` on ``[intercept, w, baseline_coef]``."""
    basis = design.baseline_basis(spec.baseline_kind, spec.baseline_n_basis) if n_baseline(spec) else None
    return solve_penalized(all_lags_design(design, penalty, basis), design.counts, design.offset, penalty)
