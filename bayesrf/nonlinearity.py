"""Output nonlinearity of the LNP model: the rate (spikes/s) as a function of the linear predictor
``eta_t = intercept + sum_l rf_l . s_{t-l} + baseline_t + history_t`` (the spec's ``[likelihood] nonlinearity``).

``exp``        ``rate = exp(eta)``: the canonical link; ``eta`` is the log-rate (the default).
``softplus``   ``rate = u log(1 + exp(eta))``: rectifying, about linear in the drive above threshold and
               exponential far below it. The rate unit ``u`` (spikes/s, ``[likelihood] rate_unit``) is the
               neuron's mean rate by default (``"auto"``), so that ``eta`` is dimensionless and the softness is
               relative to the neuron's own rate: a plain softplus in spikes/s would make a 100 Hz neuron nearly
               linear and a 1 Hz one nearly exponential. At ``eta = log(e - 1)`` (:data:`SOFTPLUS_AT_UNIT`,
               the intercept's ``"auto"`` prior mean) the rate is ``u`` and its slope ``(1 - 1/e) u`` per unit
               ``eta`` (:data:`SOFTPLUS_SLOPE`): near the mean rate a softplus weight ``w`` changes the rate as an
               exp weight ``0.63 w`` does, so the shipped priors' scales carry over, and a Poisson exp-link fit
               converted by :func:`from_exp_link` is a good start for the sampler at any rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt

__all__ = ["NONLINEARITIES", "SOFTPLUS_AT_UNIT", "SOFTPLUS_SLOPE", "from_exp_link", "log_rate", "log_rate_symbolic",
           "softplus_inverse"]

NONLINEARITIES = ("exp", "softplus")
SOFTPLUS_AT_UNIT = float(np.log(np.e - 1.0))
"""``eta`` at which the softplus rate equals its unit: ``softplus(log(e - 1)) = 1``."""
SOFTPLUS_SLOPE = float(1.0 - 1.0 / np.e)
"""Slope of the softplus at :data:`SOFTPLUS_AT_UNIT`, ``sigmoid(log(e - 1))``, relative to its value 1."""
_SMALL = -30.0
"""Below this ``eta``, ``log softplus(eta) = eta`` to float64 precision (``log1p(e^eta) = e^eta (1 - e^eta / 2 ...)``)."""


def softplus_inverse(y: np.ndarray | float) -> np.ndarray:
    """``eta`` with ``log(1 + exp(eta)) = y`` (y > 0), stable for large ``y``: ``y + log(1 - exp(-y))``.

    Examples
    --------
    >>> round(float(softplus_inverse(1.0)), 12) == round(SOFTPLUS_AT_UNIT, 12), float(np.logaddexp(0, softplus_inverse(80.0)))
    (True, 80.0)
    """
    y = np.asarray(y, dtype=float)
    return y + np.log(-np.expm1(-y))


def log_rate(eta: np.ndarray, nonlinearity: str, unit: float | None) -> np.ndarray:
    """Log of the rate (log spikes/s) at linear predictors ``eta`` (any shape), numpy.

    ``unit``: the softplus' rate unit (spikes/s); ignored for ``exp``.
    """
    if nonlinearity == "exp":
        return eta
    safe = np.maximum(eta, _SMALL)
    return np.log(unit) + np.where(eta < _SMALL, eta, np.log(np.logaddexp(0.0, safe)))


def log_rate_symbolic(eta: Any, nonlinearity: str, log_unit: Any) -> Any:
    """:func:`log_rate` in PyTensor, ``log_unit`` the log of the rate unit (a tensor or float)."""
    if nonlinearity == "exp":
        return eta
    return log_unit + pt.switch(pt.lt(eta, _SMALL), eta, pt.log(pt.softplus(pt.maximum(eta, _SMALL))))


def from_exp_link(intercept: float, unit: float, slopes: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """A softplus fit's start from an exp-link fit: the intercept with the same rate at zero drive,
    ``softplus_inverse(exp(intercept) / unit)``, and every log-rate slope (RF weights, baseline) divided by
    :data:`SOFTPLUS_SLOPE` (the same rate change at the mean rate)."""
    return (float(softplus_inverse(np.exp(intercept) / unit)),
            {name: np.asarray(value) / SOFTPLUS_SLOPE for name, value in slopes.items()})
