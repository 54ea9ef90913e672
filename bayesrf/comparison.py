"""The comparison of a prior-sensitivity sweep's fits (:mod:`bayesrf.sensitivity`), and its report.

:func:`compare` turns a sweep into one Dataset along dim ``fit``: posterior
mean and SD of the RF, SVD time course and spatial map (signs aligned across
fits), explained variance, distances to a reference fit, ELPD-LOO and held-out
log predictive density with standard errors, power-scaling sensitivity
(arviz-stats ``psense``) of each variable, and the learned scales of the
hierarchical priors. :func:`report` names the best-supported prior.
"""

from __future__ import annotations

import warnings
from typing import Any

import arviz_stats as azs
import numpy as np
import xarray as xr

from .errors import DataError
from .heldout import lpd
from .model import RF_PRIOR_TERMS
from .posterior import SAMPLE_DIMS, ci_prob, hdi_bounds, posterior_svd
from .priors import PriorSpec
from .sensitivity import fit_result
from .svd import rf_svd

__all__ = ["PSENSE_THRESHOLD", "compare", "format_report", "report"]

PSENSE_THRESHOLD = 0.05
VARIABLES = ("intercept", "rf", "rf_scale", "baseline_coef")


def _learned_scale(post: xr.DataTree, lag: xr.DataArray) -> xr.DataArray:
    """Posterior mean of the prior SD a weight of each lag gets: ``rf_scale`` (per-lag priors),
    ``rf_amplitude`` (gp, at the envelope's peak), ``sqrt(sum_k (rf_amplitude[k] rf_time[k])^2)``
    (rank-k gp); NaN for fixed-scale priors."""
    if "rf_scale" in post:
        return post["rf_scale"].mean(SAMPLE_DIMS)
    if "rf_time" in post:
        return np.sqrt(((post["rf_amplitude"] * post["rf_time"]) ** 2).sum("component")).mean(SAMPLE_DIMS)
    if "rf_amplitude" in post:
        return post["rf_amplitude"].mean(SAMPLE_DIMS) * xr.ones_like(lag, dtype=float)
    return xr.full_like(lag, np.nan, dtype=float)


def _psense(result: xr.DataTree, names: list[str]) -> dict[str, xr.DataArray]:
    """Power-scaling sensitivity per variable: the largest over its elements, and the share of
    elements above :data:`PSENSE_THRESHOLD`, when the RF's prior (not the wide intercept and
    baseline priors) or the likelihood is power-scaled."""
    out = {}
    rf_prior = [v for v in RF_PRIOR_TERMS if v in result["log_prior"]]
    for group in ("prior", "likelihood"):
        ps = azs.psense(result, group=group, var_names=names, group_var_names=rf_prior if group == "prior" else None)
        out[group] = xr.DataArray([float(ps[v].max()) if v in ps else np.nan for v in VARIABLES],
                                  dims="variable", coords={"variable": list(VARIABLES)})
        out[f"{group}_share"] = xr.DataArray(
            [float((ps[v] > PSENSE_THRESHOLD).mean()) if v in ps else np.nan for v in VARIABLES],
            dims="variable", coords={"variable": list(VARIABLES)})
    return out


def _loo(results: dict[str, xr.DataTree]) -> tuple[dict[str, Any], Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pareto-k problems are counted and reported, not just warned
        loos = {label: azs.loo(r, pointwise=True) for label, r in results.items()}
        table = azs.compare(loos, round_to="none") if len(loos) > 1 else None  # None would mean rcParams: 2 digits
    return loos, table


def _fit_table(sweep: xr.DataTree, labels: list[str], results: dict[str, xr.DataTree]) -> xr.Dataset:
    specs = {label: PriorSpec.from_json(results[label].attrs["bayesrf_spec"]) for label in labels}
    loos, table = _loo(results)
    heldout = [lpd(sweep["fits"][label]["heldout"]["counts"]) if "heldout" in sweep["fits"][label].children
               else (np.nan, np.nan) for label in labels]
    k = {label: np.asarray(loos[label].pareto_k) for label in labels}
    columns = {
        "prior": [specs[label].name for label in labels],
        "family": [specs[label].family for label in labels],
        "likelihood": [specs[label].likelihood for label in labels],
        "hierarchical": [specs[label].hierarchical for label in labels],
        "scale": [np.nan if specs[label].scale is None else specs[label].scale for label in labels],
        "elpd_loo": [float(loos[label].elpd) for label in labels],
        "elpd_loo_se": [float(loos[label].se) for label in labels],
        "p_loo": [float(loos[label].p) for label in labels],
        "elpd_diff": [float(table.loc[label, "elpd_diff"]) if table is not None else 0.0 for label in labels],
        "elpd_diff_se": [float(table.loc[label, "dse"]) if table is not None else 0.0 for label in labels],
        "n_bad_pareto_k": [int(np.sum(k[label] > loos[label].good_k)) for label in labels],
        "heldout_lpd": [h[0] for h in heldout],
        "heldout_lpd_se": [h[1] for h in heldout],
        "wall_time_s": [float(results[label].attrs["wall_time_s"]) for label in labels],
        "max_rhat": [float(results[label].attrs["max_rhat"]) for label in labels],
        "min_ess_bulk": [float(results[label].attrs["min_ess_bulk"]) for label in labels],
        "diagnostics_ok": [bool(results[label].attrs["diagnostics_ok"]) for label in labels],
        "n_divergent": [int(results[label].attrs["n_divergent"]) for label in labels],
    }
    return xr.Dataset({name: ("fit", values) for name, values in columns.items()}, coords={"fit": labels})


def _best(table: xr.Dataset) -> str:
    """Best-supported fit: highest held-out log predictive density, else highest ELPD-LOO."""
    score = table["heldout_lpd"] if np.isfinite(table["heldout_lpd"]).all() else table["elpd_loo"]
    return str(score.idxmax("fit").item())


def _distance(a: xr.DataArray, b: xr.DataArray) -> tuple[float, float]:
    """Relative L2 distance ``|a - b| / |b|`` and Pearson correlation of two RFs."""
    x, y = a.values.ravel(), b.values.ravel()
    return float(np.linalg.norm(x - y) / np.linalg.norm(y)), float(np.corrcoef(x, y)[0, 1])


def compare(sweep: xr.DataTree, reference: str | None = None, prob: float | None = None, n_components: int = 2) -> xr.Dataset:
    """What changes with the prior, and which prior the data support.

    Parameters
    ----------
    sweep : DataTree
        From :func:`sensitivity` or :func:`load_sweep`.
    reference : str, optional
        Label of the fit the others are measured against; default the best-supported
        fit (highest held-out log predictive density, or ELPD-LOO without a held-out set).
    prob : float, optional
        Probability of the HDIs; default ArviZ's ``rcParams["stats.ci_prob"]``.
    n_components : int
        SVD components kept (at most the number of lags).

    Returns
    -------
    xarray.Dataset (fit, ...)
        ``rf_mean``, ``rf_sd`` (fit, lag, y, x); ``temporal`` with ``temporal_lower`` /
        ``temporal_upper`` (fit, component, lag); ``spatial`` (fit, component, y, x);
        ``explained_variance`` with HDI bounds (fit, component); ``rf_distance``
        (relative L2 to the reference mean) and ``rf_corr``; ``elpd_loo``, ``elpd_loo_se``,
        ``elpd_diff``, ``elpd_diff_se``, ``p_loo``, ``n_bad_pareto_k``; ``heldout_lpd``,
        ``heldout_lpd_se`` (nats, summed over held-out intervals); ``psense_prior``,
        ``psense_likelihood`` (fit, variable): largest sensitivity over each variable's
        elements, and ``psense_prior_share`` / ``psense_likelihood_share``: the share of
        its elements above :data:`PSENSE_THRESHOLD`; ``learned_scale`` (fit, lag) of hierarchical priors; diagnostics.
        attrs: ``reference``, ``best``, glum CV alphas, settings.
    """
    prob = ci_prob(prob)
    labels = list(sweep["fits"].children)
    if not labels:
        raise DataError("the sweep has no fits yet.")
    results = {label: fit_result(sweep, label) for label in labels}
    table = _fit_table(sweep, labels, results)
    best = _best(table)
    reference = best if reference is None else reference
    if reference not in labels:
        raise DataError(f"reference {reference!r} is not a fit of this sweep ({labels}).")
    ref_rf = results[reference]["posterior"]["rf"].mean(SAMPLE_DIMS)
    n_components = min(n_components, ref_rf.sizes["lag"])
    ref_svd = rf_svd(ref_rf, n_components)
    per_fit = []
    for label in labels:
        result = results[label]
        post = result["posterior"]
        rf = post["rf"]
        svd = posterior_svd(result, n_components, reference=ref_svd)
        t_low, t_high = hdi_bounds(svd["temporal"], prob)
        ev_low, ev_high = hdi_bounds(svd["explained_variance"], prob)
        ps = _psense(result, [v for v in VARIABLES if v in post])
        dist, corr = _distance(rf.mean(SAMPLE_DIMS), ref_rf)
        scale = _learned_scale(post, rf.lag)
        per_fit.append(xr.Dataset({
            "rf_mean": rf.mean(SAMPLE_DIMS), "rf_sd": rf.std(SAMPLE_DIMS),
            "temporal": svd["temporal"].mean(SAMPLE_DIMS), "temporal_lower": t_low, "temporal_upper": t_high,
            "spatial": svd["spatial"].mean(SAMPLE_DIMS),
            "explained_variance": svd["explained_variance"].mean(SAMPLE_DIMS),
            "explained_variance_lower": ev_low, "explained_variance_upper": ev_high,
            "rf_distance": dist, "rf_corr": corr,
            "psense_prior": ps["prior"], "psense_likelihood": ps["likelihood"],
            "psense_prior_share": ps["prior_share"], "psense_likelihood_share": ps["likelihood_share"],
            "learned_scale": scale.drop_vars([c for c in scale.coords if c != "lag"]),
        }))
    out = xr.merge([xr.concat(per_fit, dim=xr.Variable("fit", labels), coords="minimal", compat="override"), table])
    cv = {k: v for k, v in sweep.attrs.items() if k.startswith("cv_")}
    return out.assign_attrs(reference=reference, best=best, settings=sweep.attrs["settings"],
                            psense_threshold=PSENSE_THRESHOLD, prob=prob, **cv)


def _psense_flag(prior: float, likelihood: float) -> str:
    """arviz-stats' diagnosis at :data:`PSENSE_THRESHOLD`."""
    if prior > PSENSE_THRESHOLD and likelihood > PSENSE_THRESHOLD:
        return "prior-data conflict"
    if prior > PSENSE_THRESHOLD:
        return "strong prior / weak likelihood"
    return "ok"


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not np.isfinite(value) else value


def _psense_entry(row: xr.Dataset) -> dict[str, dict[str, Any]]:
    out = {}
    for v in row.variable.values:
        prior, lik = float(row["psense_prior"].sel(variable=v)), float(row["psense_likelihood"].sel(variable=v))
        if np.isfinite(prior):
            out[str(v)] = {"prior": prior, "likelihood": lik, "diagnosis": _psense_flag(prior, lik),
                           "prior_share": float(row["psense_prior_share"].sel(variable=v))}
    return out


def report(comparison: xr.Dataset) -> dict[str, Any]:
    """JSON-able report of :func:`compare`: one entry per fit, the best-supported prior, CV alphas."""
    best = comparison.attrs["best"]
    fits = []
    for label in comparison.fit.values:
        row = comparison.sel(fit=label)
        entry: dict[str, Any] = {name: row[name].item() for name in (
            "prior", "family", "scale", "elpd_loo", "elpd_loo_se", "elpd_diff", "elpd_diff_se", "p_loo",
            "n_bad_pareto_k", "heldout_lpd", "heldout_lpd_se", "rf_distance", "rf_corr", "max_rhat",
            "min_ess_bulk", "n_divergent", "wall_time_s")}
        entry["hierarchical"] = bool(row["hierarchical"])
        entry["diagnostics_ok"] = bool(row["diagnostics_ok"])
        entry["heldout_diff"] = float(row["heldout_lpd"] - comparison["heldout_lpd"].sel(fit=best))
        entry["explained_variance_1"] = float(row["explained_variance"].isel(component=0))
        entry["psense"] = _psense_entry(row)
        if entry["hierarchical"]:
            entry["learned_scale"] = [float(s) for s in row["learned_scale"].values]
        fits.append({"label": str(label)} | {k: _finite(v) for k, v in entry.items()})
    return {"best": best, "reference": comparison.attrs["reference"],
            "cv": {k: v for k, v in comparison.attrs.items() if k.startswith("cv_")}, "fits": fits}


def _num(value: float | None, fmt: str) -> str:
    return format(np.nan if value is None else value, fmt)


def format_report(rep: dict[str, Any]) -> str:
    """The report of :func:`report` as a text table."""
    lines = [f"{'fit':<20}{'ELPD-LOO':>10}{'±SE':>6}{'ΔELPD':>8}{'±dSE':>6}{'bad k':>6}{'held-out':>10}{'±SE':>6}"
             f"{'Δheld':>7}{'dist':>6}{'EV1':>5}{'R-hat':>7}  prior-sensitive rf"]
    for f in rep["fits"]:
        ps = f["psense"]
        rf = f"{100 * ps['rf']['prior_share']:.0f} %" if "rf" in ps else "-"
        lines.append(
            f"{f['label']:<20}{f['elpd_loo']:>10.1f}{f['elpd_loo_se']:>6.1f}{f['elpd_diff']:>8.1f}{f['elpd_diff_se']:>6.1f}"
            f"{f['n_bad_pareto_k']:>6d}{_num(f['heldout_lpd'], '>10.1f')}{_num(f['heldout_lpd_se'], '>6.1f')}"
            f"{_num(f['heldout_diff'], '>7.1f')}{f['rf_distance']:>6.2f}{f['explained_variance_1']:>5.2f}"
            f"{f['max_rhat']:>7.3f}  {rf}")
    lines += [
        f"best-supported prior: {rep['best']} (highest held-out log predictive density, nats). "
        f"dist: relative L2 distance of the posterior-mean RF to {rep['reference']}; EV1: variance explained by SVD "
        "component 1. prior-sensitive: share of weights whose posterior moves by more than "
        f"{PSENSE_THRESHOLD} when the RF prior is power-scaled (arviz-stats psense).",
    ]
    lines += [f"{f['label']}: learned per-lag scales " + ", ".join(f"{s:.4f}" for s in f["learned_scale"])
              for f in rep["fits"] if f["hierarchical"]]
    cv = rep["cv"]
    if cv:
        lines.append("glum 5-fold CV picks: " + "; ".join(
            f"{name} alpha {cv[f'cv_alpha_{name}']:.3g} = prior scale {cv[f'cv_scale_{name}']:.4f}"
            + (" (end of the searched path)" if cv.get(f"cv_at_edge_{name}") else "") for name in ("ridge", "lasso")))
    bad = [f["label"] for f in rep["fits"] if f["n_bad_pareto_k"]]
    if bad:
        lines.append(f"PSIS-LOO has Pareto k > threshold for some intervals in {', '.join(bad)}: "
                     "its ELPD is unreliable there; trust the held-out column.")
    failed = [f["label"] for f in rep["fits"] if not f["diagnostics_ok"]]
    if failed:
        lines.append(f"sampling diagnostics failed for {', '.join(failed)} (arviz_stats.diagnose; the fit's warning "
                     "says which check): rerun with more draws/tune before relying on them.")
    return "\n".join(lines)
