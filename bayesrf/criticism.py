"""Model criticism: does the fit's likelihood (Poisson-LNP by default) describe the counts it was fitted to?

Each check compares a statistic of the observed counts with its posterior predictive
distribution: the same statistic computed on counts replicated from the fit, one replicate per
posterior draw, paired with that draw (Gelman, Meng & Stern 1996). Its posterior predictive p-value,
``P(T_rep >= T_obs)`` for the misfit statistics (rootogram, segments) and two-sided for the others,
below :data:`ALPHA` says the model does not reproduce that feature of the data.

``dispersion``      Pearson dispersion ``sum_t (c_t - mu_t)^2 / Var_t / n`` per draw, with the mean ``mu_t`` and
                    variance ``Var_t`` of the fit's count distribution (:mod:`bayesrf.observation`; ``Var = mu``
                    for Poisson); about 1 when it fits, < 1 underdispersed, > 1 overdispersed
``autocorrelation`` lag-1 autocorrelation of the Pearson residuals ``(c_t - mu_t) / sqrt(Var_t)`` (the
                    rate already explains what the stimulus and the baseline can)
``rootogram``       counts of intervals with 0, 1, 2, ... spikes; the statistic is Pearson's
                    ``sum_k (n_k - E n_k)^2 / E n_k`` over the count values
``segments``        the firing rate (spikes/s) in ``segments`` equal parts of the session; the statistic is
                    the largest deviation from the predicted rate in predictive SDs; ``outside`` counts
                    segments outside the central ``prob`` interval of the replicated rates

Each check has a one-line verdict (:func:`format_check`); :func:`bayesrf.plots.plot_check` draws them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .errors import DataError
from .posterior import ci_prob
from .results import count_locations

__all__ = ["ALPHA", "FAMILY_NAMES", "MIN_DRAWS", "STEPS_HINT", "as_json", "check", "format_check"]

FAMILY_NAMES = {"poisson": "Poisson", "negative-binomial": "negative binomial", "com-poisson": "COM-Poisson"}
MIN_DRAWS = 20
"""Fewest posterior draws :func:`check` accepts (each p-value is a share of paired replicates)."""
ALPHA = 0.01
"""A check fails when its two-sided posterior predictive p-value is below this."""
STEPS_HINT = "--set baseline.kind=steps --set baseline.n_basis=32"
"""The failed segments check's suggestion: a baseline of Student-t steps (:mod:`bayesrf.model`)."""


def _ppp(observed: np.ndarray, replicated: np.ndarray, two_sided: bool) -> float:
    """Posterior predictive p-value of paired draws: ``P(rep >= obs)`` for a misfit statistic (large is bad),
    else two-sided, ``2 min(P(rep >= obs), P(rep <= obs))`` capped at 1."""
    upper = float(np.mean(replicated >= observed))
    return min(1.0, 2 * min(upper, float(np.mean(replicated <= observed)))) if two_sided else upper


def _pearson(counts: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    return (counts - mu) / np.sqrt(var)


def _lag1(residuals: np.ndarray) -> np.ndarray:
    """Lag-1 autocorrelation along the last axis."""
    r = residuals - residuals.mean(-1, keepdims=True)
    return (r[..., 1:] * r[..., :-1]).sum(-1) / (r**2).sum(-1)


def _histogram(counts: np.ndarray, top: int) -> np.ndarray:
    """Intervals with 0 .. top - 1 spikes and with top or more, along the last axis."""
    clipped = np.minimum(counts, top)
    return np.stack([(clipped == k).sum(-1) for k in range(top + 1)], axis=-1)


def _check(name: str, observed: np.ndarray, replicated: np.ndarray, verdict_ok: str, verdict_bad: str,
           two_sided: bool = True) -> dict[str, Any]:
    p = _ppp(observed, replicated, two_sided)
    return {"name": name, "t_observed": observed, "t_replicated": replicated, "statistic": float(np.mean(observed)),
            "statistic_replicated": float(np.mean(replicated)), "p": p, "ok": p >= ALPHA,
            "verdict": verdict_ok if p >= ALPHA else verdict_bad}


def check(result: xr.DataTree, segments: int = 8, prob: float | None = None, max_draws: int = 250,
          seed: int | None = 0) -> dict[str, Any]:
    """Posterior predictive checks of a fit's likelihood (see the module docstring).

    Parameters
    ----------
    result : DataTree
        A fit with at least :data:`MIN_DRAWS` draws (NUTS or Laplace; not a MAP).
    segments : int, default 8
        Equal parts of the session for the rate check.
    prob : float, optional
        Central interval of the replicated segment rates; default ArviZ's ``stats.ci_prob``.
    max_draws : int, default 250
        Draws per chain used (evenly thinned).
    seed : int
        Seed of the replicated counts.

    Returns
    -------
    dict
        ``checks``: one dict per check with ``name``, ``t_observed`` and ``t_replicated`` (the statistic per
        draw), their means ``statistic`` and ``statistic_replicated``, ``p``, ``ok``, ``verdict``; the
        rootogram and the segments add ``observed``, ``expected`` (replicated mean), ``lower`` and
        ``upper`` per count value / segment (``values``), the segments also ``outside``;
        ``n_draws``, ``segments``, ``prob``, ``alpha``.
    """
    loc, counts_model = count_locations(result, max_draws)
    loc = loc.values.reshape(-1, loc.sizes["time"])  # (chain * draw, time)
    if loc.shape[0] < MIN_DRAWS:
        raise DataError(f"posterior predictive checks need at least {MIN_DRAWS} posterior draws; this fit has "
                        f"{loc.shape[0]} (a MAP is one point): fit with method='laplace' (seconds; bayesrf fit --laplace) or NUTS.")
    mu, var = counts_model.moments(loc)
    counts = result["observed_data"]["counts"].values.astype(float)
    replicated = counts_model.draw(loc, np.random.default_rng(seed)).astype(float)
    prob = ci_prob(prob)
    disp_obs = (_pearson(counts, mu, var) ** 2).mean(-1)
    disp_rep = (_pearson(replicated, mu, var) ** 2).mean(-1)
    ratio = float(np.mean(disp_obs) / np.mean(disp_rep))
    family = FAMILY_NAMES[counts_model.family]
    checks = [
        _check("dispersion", disp_obs, disp_rep, f"the {family}'s dispersion fits (observed/predicted {ratio:.2f})",
               f"counts are {'under' if ratio < 1 else 'over'}dispersed given the rate: Pearson dispersion "
               f"{ratio:.2f} x the {family} prediction; its intervals are too {'wide' if ratio < 1 else 'narrow'}"),
        _autocorrelation(counts, replicated, mu, var),
        _rootogram(counts, replicated, prob),
        _segments(counts, replicated, result, segments, prob),
    ]
    return {"checks": checks, "n_draws": int(mu.shape[0]), "segments": segments, "prob": prob, "alpha": ALPHA}


def _autocorrelation(counts: np.ndarray, replicated: np.ndarray, mu: np.ndarray, var: np.ndarray) -> dict[str, Any]:
    obs, rep = _lag1(_pearson(counts, mu, var)), _lag1(_pearson(replicated, mu, var))
    mean_obs = float(obs.mean())
    return _check("autocorrelation", obs, rep, f"residuals uncorrelated as predicted (lag-1 {mean_obs:.2f})",
                  f"residuals are autocorrelated (lag-1 {mean_obs:.2f}, predicted {rep.mean():.2f}): the rate misses "
                  "a slow drift or spike history")


def _rootogram(counts: np.ndarray, replicated: np.ndarray, prob: float) -> dict[str, Any]:
    top = int(np.quantile(counts, 0.999)) + 1
    hist_obs, hist_rep = _histogram(counts, top), _histogram(replicated, top)
    expected = np.maximum(hist_rep.mean(0), 0.5)
    stat_obs = ((hist_obs - expected) ** 2 / expected).sum(-1)
    stat_rep = ((hist_rep - expected) ** 2 / expected).sum(-1)
    lower, upper = np.quantile(hist_rep, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    off = [k for k in range(top + 1) if not lower[k] <= hist_obs[k] <= upper[k]]
    where = ", ".join(f"{k}{'+' if k == top else ''}" for k in off)
    out = _check("rootogram", np.full(len(stat_rep), stat_obs), stat_rep, "the count distribution fits",
                 f"the count distribution misfits{' at counts ' + where if where else ''} (Pearson statistic "
                 f"{stat_obs:.0f}, predicted {stat_rep.mean():.0f})", two_sided=False)
    out.update(observed=hist_obs, values=np.arange(top + 1), lower=lower, upper=upper, expected=hist_rep.mean(0))
    return out


def _segments(counts: np.ndarray, replicated: np.ndarray, result: xr.DataTree, segments: int, prob: float) -> dict[str, Any]:
    duration = result["constant_data"]["duration"].values
    parts = np.array_split(np.arange(counts.size), segments)
    seconds = np.array([duration[i].sum() for i in parts])
    rate_obs = np.array([counts[i].sum() for i in parts]) / seconds
    rate_rep = np.stack([replicated[:, i].sum(-1) for i in parts], axis=-1) / seconds
    lower, upper = np.quantile(rate_rep, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    centre, spread = rate_rep.mean(0), rate_rep.std(0)
    t_obs = np.abs(rate_obs - centre) / spread  # per segment, in predictive SDs
    k = int(np.argmax(t_obs))
    out = _check("segments", np.full(len(rate_rep), t_obs[k]), (np.abs(rate_rep - centre) / spread).max(-1),
                 "the rate follows the session", f"the rate misses segment {k + 1}/{segments}: observed "
                 f"{rate_obs[k]:.1f} spikes/s, predicted {centre[k]:.1f} ({lower[k]:.1f}-{upper[k]:.1f}); if the "
                 f"rate changes abruptly, try a baseline that can follow it ({STEPS_HINT})", two_sided=False)
    out.update(observed=rate_obs, values=np.arange(1, segments + 1), lower=lower, upper=upper,
               expected=centre, outside=int(np.sum((rate_obs < lower) | (rate_obs > upper))))
    return out


def as_json(report: dict[str, Any]) -> dict[str, Any]:
    """The report of :func:`check` as JSON-able values, without the per-draw statistics (``t_*``)."""
    checks = [{k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in c.items() if not k.startswith("t_")}
              for c in report["checks"]]
    return report | {"checks": checks}


def format_check(report: dict[str, Any]) -> str:
    """One line per check: name, verdict, posterior predictive p-value."""
    lines = [f"posterior predictive checks ({report['n_draws']} draws; a check fails when p < {report['alpha']}):"]
    for c in report["checks"]:
        lines.append(f"  {'ok  ' if c['ok'] else 'FAIL'} {c['name']:<16} p = {c['p']:.3f}  {c['verdict']}")
    return "\n".join(lines)
