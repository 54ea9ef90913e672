"""Count distributions of the observation model (the spec's ``[likelihood]`` table).

``poisson``            ``c_t ~ Poisson(mu_t)``, ``Var = mu`` (the default; its MAP is penalised Poisson ML)
``negative-binomial``  ``c_t ~ NegativeBinomial(mu_t, alpha = 1 / phi)``, ``Var = mu + phi mu^2``, with the
                       overdispersion ``phi`` (posterior variable :data:`DISPERSION`) learned under a
                       ``HalfNormal(dispersion_scale)`` prior; ``phi -> 0`` is Poisson

``mu_t = exp(eta_t) d_t`` is the expected count of interval ``t`` in both. Each family gives its PyMC
likelihood (:func:`pymc_counts`), its variance, random draws and log-pmf for the posterior predictive,
predictions and model criticism. Only Poisson has a penalised-ML counterpart (MAP, Laplace).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import scipy.stats

__all__ = ["DISPERSION", "LIKELIHOODS", "draw_counts", "logpmf", "overdispersion", "pymc_counts", "variance"]

LIKELIHOODS = ("poisson", "negative-binomial")
DISPERSION = "count_overdispersion"
"""Posterior variable of the negative binomial's overdispersion ``phi`` (``Var = mu + phi mu^2``)."""


def pymc_counts(likelihood: str, dispersion_scale: float, mu: Any, observed: Any) -> Any:
    """The PyMC likelihood ``counts`` (dims ``time``) of expected counts ``mu``."""
    if likelihood == "poisson":
        return pm.Poisson("counts", mu=mu, observed=observed, dims="time")
    phi = pm.HalfNormal(DISPERSION, sigma=dispersion_scale)
    return pm.NegativeBinomial("counts", mu=mu, alpha=1.0 / phi, observed=observed, dims="time")


def overdispersion(posterior: Any, n_draws: int | None = None) -> np.ndarray | None:
    """``phi`` per draw, flattened over (chain, draw) and broadcastable against (draw, time), or None (Poisson)."""
    if DISPERSION not in posterior:
        return None
    phi = np.asarray(posterior[DISPERSION]).reshape(-1, 1)
    return phi if n_draws is None else phi[:n_draws]


def variance(mu: np.ndarray, phi: np.ndarray | None) -> np.ndarray:
    """Variance of the counts given their expectation ``mu`` (and ``phi`` for the negative binomial)."""
    return mu if phi is None else mu + phi * mu**2


def draw_counts(mu: np.ndarray, phi: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """One count per element of ``mu`` (numpy's negative binomial with ``n = 1/phi``, ``p = 1/(1 + phi mu)``)."""
    if phi is None:
        return rng.poisson(mu)
    return rng.negative_binomial(1.0 / phi, 1.0 / (1.0 + phi * mu))


def logpmf(counts: np.ndarray, mu: np.ndarray, phi: np.ndarray | None) -> np.ndarray:
    """Log-probability of ``counts`` (nats), scipy's pmfs."""
    if phi is None:
        return scipy.stats.poisson.logpmf(counts, mu)
    return scipy.stats.nbinom.logpmf(counts, 1.0 / phi, 1.0 / (1.0 + phi * mu))
