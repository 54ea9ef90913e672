"""Count distributions of the observation model (the spec's ``[likelihood]`` table).

``loc_t = exp(eta_t) d_t`` is the location of interval ``t``'s count (spikes):

``poisson``            ``c_t ~ Poisson(loc_t)``: mean and variance ``loc`` (the default; its MAP is penalised
                       Poisson ML)
``negative-binomial``  ``c_t ~ NegativeBinomial(mean loc_t, alpha = 1 / phi)``, ``Var = loc + phi loc^2``: the
                       overdispersion ``phi >= 0`` (posterior variable ``count_overdispersion``) has a
                       ``HalfNormal(dispersion_scale)`` prior; ``phi -> 0`` is Poisson
``com-poisson``        Conway-Maxwell-Poisson, ``P(c) = (loc^c / c!)^nu / Z(loc, nu)`` (Sellers & Shmueli 2010;
                       for spike counts Stevenson 2016): ``nu > 1`` underdispersed (spikes more regular than
                       Poisson, e.g. refractory), ``nu < 1`` overdispersed, ``nu = 1`` Poisson. ``nu`` (posterior
                       variable ``count_nu``) has a ``LogNormal(0, dispersion_scale)`` prior. ``loc`` is then
                       close to, not equal to, the mean (mean ~ ``loc - (nu - 1) / (2 nu)``); :meth:`CountModel.moments`
                       gives the exact mean and variance.

The normaliser ``Z`` has no closed form: it is summed in log space (log-sum-exp) over the counts
``0 .. support(limit)``, where ``limit`` bounds the locations and counts involved (the largest observed count in
the PyMC model). The neglected tail is below ``1e-12`` of ``Z`` for ``nu >= NU_MIN = 0.25`` and ``loc <= limit``
(``tests/test_observation.py`` checks sums against 2,000 terms); :func:`bayesrf.sample` warns when draws reach
``nu < NU_MIN``, where the negative binomial is the better model anyway. The sum costs ``support`` terms per
interval and gradient: on 3,000 intervals with up to 37 spikes, about 100 times a Poisson gradient.

Each family gives its PyMC likelihood (:func:`pymc_counts`) and, through :class:`CountModel`, its exact mean,
variance, random draws and log-pmf for the posterior predictive, predictions, the simulator and model criticism.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import scipy.stats
from scipy.special import gammaln, logsumexp

__all__ = ["DISPERSIONS", "LIKELIHOODS", "NU_MIN", "CountModel", "count_model", "pymc_counts", "support", "truncation_warning"]

LIKELIHOODS = ("poisson", "negative-binomial", "com-poisson")
DISPERSIONS = {"negative-binomial": "count_overdispersion", "com-poisson": "count_nu"}
"""Posterior variable of each family's dispersion parameter."""


NU_MIN = 0.25
"""Smallest COM-Poisson ``nu`` for which :func:`support` keeps the normaliser's neglected tail below 1e-12."""


def support(limit: float) -> int:
    """Largest count the COM-Poisson normaliser sums over, for locations and counts up to ``limit``:
    ``limit + 18 sqrt(limit) + 20`` (the neglected tail is below 1e-12 of ``Z`` when ``nu >= NU_MIN``)."""
    return int(np.ceil(limit + 18 * np.sqrt(limit) + 20))


def truncation_warning(posterior: Any) -> str | None:
    """A warning when a COM-Poisson posterior reaches ``nu < NU_MIN``, where its normaliser is truncated."""
    name = DISPERSIONS["com-poisson"]
    if name not in posterior or float(posterior[name].min()) >= NU_MIN:
        return None
    share = float((posterior[name] < NU_MIN).mean())
    return (f"{share:.1%} of the COM-Poisson draws have nu < {NU_MIN} (strongly overdispersed counts), where its "
            "normaliser's sum is truncated by more than 1e-12: fit likelihood.family = 'negative-binomial'.")


def _com_logp(value: Any, log_loc: Any, nu: Any, terms: np.ndarray) -> Any:
    """Symbolic COM-Poisson log-pmf of ``value`` at log-location ``log_loc`` (PyTensor), the normaliser summed
    over ``terms``."""
    log_z = pt.logsumexp(nu * (log_loc[:, None] * terms - gammaln(terms + 1.0)), axis=-1)
    return nu * (value * log_loc - pt.gammaln(value + 1.0)) - log_z


def pymc_counts(likelihood: str, dispersion_scale: float, log_loc: Any, observed: Any, limit: float) -> Any:
    """The PyMC likelihood ``counts`` (dims ``time``) at log-locations ``log_loc``; ``limit``: the largest
    observed count (sets the COM-Poisson normaliser's :func:`support`)."""
    if likelihood == "poisson":
        return pm.Poisson("counts", mu=pt.exp(log_loc), observed=observed, dims="time")
    if likelihood == "negative-binomial":
        phi = pm.HalfNormal(DISPERSIONS[likelihood], sigma=dispersion_scale)
        return pm.NegativeBinomial("counts", mu=pt.exp(log_loc), alpha=1.0 / phi, observed=observed, dims="time")
    nu = pm.LogNormal(DISPERSIONS[likelihood], mu=0.0, sigma=dispersion_scale)
    terms = np.arange(support(limit) + 1, dtype=float)
    return pm.CustomDist("counts", log_loc, nu, logp=lambda value, a, b: _com_logp(value, a, b, terms),
                         observed=observed, dims="time", dtype="int64")


@dataclass(frozen=True)
class CountModel:
    """A fit's count distribution with its dispersion per posterior draw.

    Attributes
    ----------
    family : str
        One of :data:`LIKELIHOODS`.
    dispersion : ndarray (draw, 1) or None
        ``phi`` (negative binomial) or ``nu`` (COM-Poisson) per draw, flattened over (chain, draw) so that it
        broadcasts against (draw, time) arrays; None for Poisson.
    """

    family: str
    dispersion: np.ndarray | None = None

    def _com_rows(self, loc: np.ndarray, top: int = 0) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Per draw ``i``: the log-pmf (time, count) of counts ``0 .. support`` at ``loc[i]``, and those counts."""
        values = np.arange(support(max(float(loc.max()), top)) + 1)
        for i in range(loc.shape[0]):
            log_w = self.dispersion[i] * (np.log(loc[i])[:, None] * values - gammaln(values + 1.0))
            yield i, log_w - logsumexp(log_w, axis=-1, keepdims=True), values

    def moments(self, loc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of the counts (draw, time) at locations ``loc`` (draw, time)."""
        if self.family == "poisson":
            return loc, loc
        if self.family == "negative-binomial":
            return loc, loc + self.dispersion * loc**2
        mean, var = np.empty_like(loc), np.empty_like(loc)
        for i, table, values in self._com_rows(loc):
            pmf = np.exp(table)
            mean[i] = pmf @ values
            var[i] = pmf @ values**2 - mean[i] ** 2
        return mean, var

    def draw(self, loc: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One count per element of ``loc`` (draw, time); the COM-Poisson by inverting its CDF."""
        if self.family == "poisson":
            return rng.poisson(loc)
        if self.family == "negative-binomial":
            return rng.negative_binomial(1.0 / self.dispersion, 1.0 / (1.0 + self.dispersion * loc))
        out = np.empty(loc.shape, dtype=np.int64)
        for i, table, _ in self._com_rows(loc):
            cdf = np.cumsum(np.exp(table), axis=-1)
            out[i] = (cdf < rng.random(loc.shape[1])[:, None] * cdf[:, -1:]).sum(-1)
        return out

    def logpmf(self, counts: np.ndarray, loc: np.ndarray) -> np.ndarray:
        """Log-probability (nats) of ``counts`` (time,) at locations ``loc`` (draw, time); scipy's pmfs for
        Poisson and negative binomial."""
        if self.family == "poisson":
            return scipy.stats.poisson.logpmf(counts, loc)
        if self.family == "negative-binomial":
            return scipy.stats.nbinom.logpmf(counts, 1.0 / self.dispersion, 1.0 / (1.0 + self.dispersion * loc))
        out = np.empty(loc.shape)
        for i, table, _ in self._com_rows(loc, int(np.max(counts))):
            out[i] = np.take_along_axis(table, np.reshape(counts, (-1, 1)), axis=-1)[:, 0]
        return out


def count_model(posterior: Any) -> CountModel:
    """The count distribution of a posterior (Dataset with ``chain``, ``draw``): the family whose dispersion
    variable it holds, Poisson when none."""
    for family, name in DISPERSIONS.items():
        if name in posterior:
            return CountModel(family, np.asarray(posterior[name], dtype=float).reshape(-1, 1))
    return CountModel("poisson")
