"""The Laplace / evidence backend: a Gaussian at the MAP with the exact Hessian.

For hierarchical Normal priors the per-lag scales are first set by type-II maximum likelihood
(:func:`evidence_scales`, MacKay's fixed-point updates of the Laplace-approximate evidence).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg import cho_factor, solve_triangular

from .design import Design
from .errors import SpecError
from .families import family_of
from .ml import Solution, smooth_derivatives, solve_penalized
from .penalized import full_design, prior_penalty, scaled_penalty, solve_blocks, split_theta
from .priors import PriorSpec

__all__ = ["PRUNED_SCALE", "PRUNE_RATIO", "evidence_scales", "gaussian_draws", "laplace_draws"]

PRUNED_SCALE = 1e-6
"""Prior scale given to a lag pruned by :func:`evidence_scales` (log-rate per unit contrast)."""
PRUNE_RATIO = 0.05
"""A lag is pruned when its type-II ML scale falls below this fraction of the largest."""


def gaussian_draws(sol: Solution, H: np.ndarray, draws: int, chains: int, seed: int | None) -> np.ndarray:
    """Draws of N(theta_hat, H^-1), shape (chains, draws, p)."""
    chol, _ = cho_factor(H, lower=True)
    z = np.random.default_rng(seed).standard_normal((chains, draws, H.shape[0]))
    return sol.theta + solve_triangular(chol.T, z.reshape(-1, H.shape[0]).T, lower=False).T.reshape(z.shape)


def evidence_scales(design: Design, spec: PriorSpec, max_iter: int = 200, tol: float = 1e-3
                    ) -> tuple[np.ndarray, Solution, np.ndarray, np.ndarray]:
    """Per-lag prior SDs of a hierarchical Normal prior by type-II maximum likelihood.

    Maximises the Laplace approximation of the marginal likelihood over the
    per-lag scales with MacKay's fixed-point update: for lag ``l`` with ``P``
    weights, ``gamma_l = P - tr_l(H^-1) / tau_l^2`` ("well-determined weights")
    and ``tau_l^2 <- |w_l|^2 / gamma_l``, each step at the MAP for the current
    scales (warm-started Newton). The HalfNormal hyperprior is not used. A lag
    the data say nothing about has its scale driven to 0 (automatic relevance
    determination): below :data:`PRUNE_RATIO` of the largest scale it is set to
    :data:`PRUNED_SCALE` and stays there.

    Returns
    -------
    tau : ndarray (lag,)
    solution : the MAP at ``tau``
    A : the full design ``[1, X, Z]``
    H : the Hessian of the negative log-posterior at the MAP
    """
    if not family_of(spec).gaussian:
        raise SpecError(f"method='laplace' supports hierarchical Normal priors (ridge-hier), not {spec.name!r} "
                        f"(family {spec.family!r}); use NUTS.")
    A = full_design(design, spec, design.matrix())
    weights = slice(1, 1 + design.n_weights)
    P = design.n_pixels
    tau = np.full(design.n_lags, float(spec.hyper_scale))
    theta = None
    for _ in range(max_iter):
        pen = scaled_penalty(design, spec, tau)
        sol = solve_penalized(A, design.counts, design.offset, pen, start=theta)
        theta = sol.theta
        _, H = smooth_derivatives(theta, A, design.counts, design.offset, pen)
        # diag(H^-1) = column sums of squares of L^-1 (H = L L^T): one triangular inverse, no full solve
        L_inv = solve_triangular(cho_factor(H, lower=True)[0], np.eye(H.shape[0]), lower=True)
        cov_diag = np.einsum("ij,ij->j", L_inv, L_inv)[weights].reshape(design.n_lags, P)
        w2 = (theta[weights] ** 2).reshape(design.n_lags, P).sum(axis=1)
        gamma = np.clip(P - cov_diag.sum(axis=1) / tau**2, 1e-9, P)
        new = np.sqrt(w2 / gamma)
        # a lag whose scale falls below 1/20 of the largest is pruned (automatic relevance determination):
        # the evidence is flat there and the fixed point creeps to 0 by ~10 % per step
        new[(new < PRUNE_RATIO * new.max()) | (tau <= PRUNED_SCALE)] = PRUNED_SCALE
        active = new > PRUNED_SCALE
        done = not active.any() or np.max(np.abs(np.log(new[active] / tau[active]))) < tol
        tau = new
        if done:
            break
    return tau, sol, A, H


def laplace_draws(design: Design, spec: PriorSpec, draws: int, chains: int, seed: int | None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Gaussian approximation N(MAP, H^-1) with H the exact Hessian of the negative log-posterior
    (hierarchical Normal priors: at the type-II ML scales of :func:`evidence_scales`)."""
    if spec.hierarchical:
        tau, sol, _, H = evidence_scales(design, spec)
        values = split_theta(gaussian_draws(sol, H, draws, chains, seed), design, spec)
        values["rf_scale"] = np.broadcast_to(tau, (chains, draws, tau.size)).copy()
        values["rf_z"] = values["rf"] / tau[:, None, None]
        return values, {"note": (
            "Laplace approximation with empirical-Bayes scales: the per-lag prior SDs maximise the Laplace "
            "approximation of the marginal likelihood (MacKay's updates; the hyperprior is not used) and are "
            "held fixed, so rf_scale has no spread and the weights' uncertainty about their scale is ignored.")}
    (sol,) = solve_blocks(design, spec, per_lag=False)
    A, pen = full_design(design, spec, design.matrix()), prior_penalty(spec, design, design.n_weights)
    _, H = smooth_derivatives(sol.theta, A, design.counts, design.offset, pen)
    return split_theta(gaussian_draws(sol, H, draws, chains, seed), design, spec), {"note": (
        "Laplace approximation: Gaussian at the MAP with the exact Hessian. For Laplace (lasso) priors the "
        "prior has no curvature and a kink at 0, so the Gaussian ignores the prior's shrinkage: its SDs are "
        "too wide for weights at 0 and it never puts mass exactly at 0.")}
