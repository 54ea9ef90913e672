"""Per-unit evidence and RF features of one fit, each with its credible interval.

- **Evidence of an RF**: ELPD-LOO of the fit minus that of a *baseline-only* model (the
  same intercept and spline baseline, no RF), with the SE of the difference from the
  paired pointwise values (``arviz_stats.compare``). The baseline-only posterior is a
  Laplace approximation of the penalised GLM (a handful of parameters, thousands of
  counts). A unit is flagged ``has_rf`` when the difference exceeds both
  :data:`EVIDENCE_NATS` nats and :data:`EVIDENCE_SE` standard errors.
- **Centre and size**: per draw, ``local``'s envelope centre and width, or for other priors
  the centroid (y, x, pixels) and RMS radius of the RF's energy map ``sum_lag w^2`` on
  the support of the posterior mean's energy. The draws give the intervals and a credible
  ellipse of the centre (mean and covariance of the centre over draws). Only ``local``'s ellipse
  is calibrated (``benchmarks/bench_centre_coverage.py``): the centroid's reflects the weights'
  spread inside a fixed support, not the choice of support nor the offset of an energy centroid
  from the envelope's centre (a Gabor's carrier moves it), so it is too narrow.
- **Time course**: per draw, the RF projected on the posterior mean's spatial map
  (signed so that its strongest pixel is positive): the peak latency (the lag of the
  largest absolute value, in frames), the biphasic index (``-min / max`` of the
  course when it peaks positive, else ``-max / min``), and the polarity: ON when the
  strongest lobe is positive (``p_on``: the share of draws where it is).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import arviz_stats as azs
import numpy as np
import scipy.stats
import xarray as xr

from .design import Design
from .errors import recorded
from .laplace import gaussian_draws
from .model import build_model, link_start, set_baseline_start
from .nuts import DEFAULT_TUNE, model_key, pointwise_loglik, run_nuts
from .penalized import baseline_problem
from .ml import smooth_derivatives, solve_penalized
from .posterior import SAMPLE_DIMS, hdi_bounds
from .priors import PriorSpec

__all__ = [
    "BASELINE_CHAINS", "EVIDENCE_NATS", "EVIDENCE_SE", "SUPPORT", "baseline_log_likelihood", "rf_evidence",
    "rf_features", "time_course_draws"
]


EVIDENCE_NATS = 4.0
"""An RF needs an ELPD gain of more than this many nats over the baseline-only model ..."""
EVIDENCE_SE = 2.0
"""... and of more than this many standard errors of the difference."""
BASELINE_CHAINS = 2
"""Chains of the baseline-only model's NUTS run (other likelihoods, spike history)."""
SUPPORT = 0.25
"""Pixels whose posterior-mean energy is above this share of its peak make up the RF's support."""


def baseline_log_likelihood(design: Design, spec: PriorSpec, draws: int = 1000, seed: int | None = 0,
                            reuse_compiled: bool = True) -> xr.DataTree:
    """Pointwise log-likelihood draws of the baseline-only model (``spec``'s intercept, baseline, spike history
    and count distribution; no RF).

    For the Poisson likelihood without spike history or a steps baseline, the Laplace approximation of the penalised GLM
    (one chain); otherwise NUTS on the baseline-only PyMC model (:func:`bayesrf.model.build_model` with
    ``with_rf=False``; :data:`BASELINE_CHAINS` chains on one core, started at the Poisson fit), through the
    nutpie model this process compiled for another unit of the same size when ``reuse_compiled`` (as
    :func:`bayesrf.sample`; the same draws as a fresh compile; not with spike history or COM-Poisson counts,
    whose graphs depend on the counts: :func:`bayesrf.nuts.model_key`).

    Returns
    -------
    DataTree
        ``posterior`` (the parameter draws, which ArviZ's LOO reads for their efficiency) and
        ``log_likelihood.counts`` (chain, draw, time), in nats; ``draws`` draws in all.
    """
    base = dataclasses.replace(spec, family="flat", hierarchical=False, scale=None, nonlinearity="exp", rate_unit="auto")
    A, pen = baseline_problem(design, base)
    sol = solve_penalized(A, design.counts, design.offset, pen)
    if not spec.penalized_glm:
        return _baseline_nuts(design, spec, sol.theta, draws, seed, reuse_compiled)
    _, H = smooth_derivatives(sol.theta, A, design.counts, design.offset, pen)
    theta = gaussian_draws(sol, H, draws, 1, seed)  # (1, draws, p)
    mu = np.exp(theta @ A.T + design.offset)
    loglik = scipy.stats.poisson.logpmf(design.counts, mu)
    ds = xr.Dataset({"counts": (("chain", "draw", "time"), loglik)}, coords={"time": design.time})
    post = xr.Dataset({"intercept": (("chain", "draw"), theta[..., 0]),
                       "baseline_coef": (("chain", "draw", "knot"), theta[..., 1:])})
    return xr.DataTree.from_dict({"posterior": post, "log_likelihood": ds})


def _baseline_nuts(design: Design, spec: PriorSpec, theta: np.ndarray, draws: int, seed: int | None,
                   reuse: bool) -> xr.DataTree:
    """NUTS draws of the baseline-only model started at the Poisson exp-link fit ``theta`` (intercept, baseline
    steps)."""
    model = build_model(design, spec, with_rf=False)
    start = model.initial_point()
    intercept, slopes = link_start(spec, design, float(theta[0]), {"baseline_level": np.cumsum(theta[1:])})
    start["intercept"] = np.asarray(intercept)
    set_baseline_start(start, slopes["baseline_level"])
    raw = run_nuts(model, start, draws // BASELINE_CHAINS, DEFAULT_TUNE["nutpie"], BASELINE_CHAINS, seed, "nutpie",
                   progress=False, target_accept=0.8, cores=1,
                   reuse_key=model_key(design, spec, "direct", with_rf=False) if reuse else None)
    posterior = raw["posterior"].to_dataset()
    return xr.DataTree.from_dict({"posterior": posterior, "log_likelihood": pointwise_loglik(posterior, model)})


def rf_evidence(result: xr.DataTree | Any, baseline: xr.DataTree) -> dict[str, float | bool | str]:
    """ELPD-LOO difference (nats) of ``result`` over the baseline-only model, its SE, and the flag.

    ``result`` is a fit, or its pointwise ``arviz_stats.loo`` when that was computed already (then
    it is not computed again). Pareto-k warnings of the LOOs computed here are recorded in
    ``evidence_warnings`` (not silenced).
    """
    table, notes = recorded(lambda: azs.compare({"rf": result, "baseline": baseline}, round_to="none"))
    diff = float(table.loc["rf", "elpd"] - table.loc["baseline", "elpd"])
    se = float(table.loc["baseline" if diff >= 0 else "rf", "dse"])
    return {"elpd_diff": diff, "elpd_diff_se": se,
            "has_rf": bool(diff > EVIDENCE_NATS and diff > EVIDENCE_SE * se),
            "evidence_warnings": notes}


def _energy_stats(posterior: xr.Dataset) -> xr.Dataset:
    """Per draw: centre (y, x, pixels) and size (pixels) of the RF.

    ``local`` priors: the envelope's own ``rf_center`` and the geometric mean of ``rf_width``.
    Otherwise the centroid and RMS radius of each draw's energy map ``sum_lag w^2`` over the
    support of the posterior mean's energy (pixels above :data:`SUPPORT` of its peak): over
    all pixels, the noise energy of the background pulls every centre towards the grid's middle.
    """
    if "rf_center" in posterior:
        center, width = posterior["rf_center"], posterior["rf_width"]
        return xr.Dataset({"center_y": center.isel(space_axis=0, drop=True), "center_x": center.isel(space_axis=1, drop=True),
                           "size": np.sqrt(width.prod("space_axis"))})
    rf = posterior["rf"]
    mean_energy = (rf.mean(SAMPLE_DIMS) ** 2).sum("lag")
    energy = ((rf**2).sum("lag")).where(mean_energy >= SUPPORT * mean_energy.max(), 0.0)
    weight = energy / energy.sum(("y", "x"))
    cy, cx = (weight * rf["y"]).sum(("y", "x")), (weight * rf["x"]).sum(("y", "x"))
    radius = np.sqrt((weight * ((rf["y"] - cy) ** 2 + (rf["x"] - cx) ** 2)).sum(("y", "x")))
    return xr.Dataset({"center_y": cy, "center_x": cx, "size": radius})


def time_course_draws(rf: xr.DataArray) -> xr.DataArray:
    """Per draw, the RF (chain, draw, lag, y, x) projected on its posterior mean's spatial map at the
    strongest lag, signed so that the map's strongest pixel is positive: (chain, draw, lag)."""
    mean = rf.mean(SAMPLE_DIMS)
    peak_pixel = (mean**2).sum("lag").argmax(...)
    spatial = mean.isel(lag=int(np.abs(mean.isel(peak_pixel)).argmax("lag")))
    spatial = spatial * np.sign(float(spatial.isel(peak_pixel)) or 1.0)
    return (rf * spatial).sum(("y", "x"))


def _course_stats(rf: xr.DataArray) -> xr.Dataset:
    """Per draw: peak latency (frames), biphasic index and ON polarity of the time course."""
    course = time_course_draws(rf)
    strongest = np.abs(course).argmax("lag")
    peak = course.isel(lag=strongest)
    opposite = xr.where(peak > 0, course.min("lag"), course.max("lag"))
    return xr.Dataset({"latency": course["lag"].isel(lag=strongest).drop_vars("lag", errors="ignore").astype(float),
                       "biphasic_index": -opposite / peak, "on": (peak > 0).astype(float)})


def rf_features(result: xr.DataTree, prob: float) -> dict[str, float]:
    """Mean and ``prob`` HDI of the centre, size, latency and biphasic index; ``p_on`` and the
    centre's covariance over draws (for a credible ellipse)."""
    rf = result["posterior"]["rf"]
    per_draw = xr.merge([_energy_stats(result["posterior"].to_dataset()), _course_stats(rf)])
    out: dict[str, float] = {}
    for name in ("center_y", "center_x", "size", "latency", "biphasic_index"):
        values = per_draw[name]
        out[name] = float(values.mean(SAMPLE_DIMS))
        if values.sizes["chain"] * values.sizes["draw"] > 1 and np.isfinite(values).all():
            lower, upper = hdi_bounds(values, prob)
            out[f"{name}_lower"], out[f"{name}_upper"] = float(lower), float(upper)
        else:
            out[f"{name}_lower"] = out[f"{name}_upper"] = np.nan
    centre = np.stack([per_draw["center_y"].values.ravel(), per_draw["center_x"].values.ravel()])
    cov = np.cov(centre) if centre.shape[1] > 1 and np.isfinite(centre).all() else np.full((2, 2), np.nan)
    out.update(center_cov_yy=float(cov[0, 0]), center_cov_yx=float(cov[0, 1]), center_cov_xx=float(cov[1, 1]),
               p_on=float(per_draw["on"].mean(SAMPLE_DIMS)))
    out["polarity"] = "ON" if out["p_on"] >= 0.5 else "OFF"
    return out
