"""Posterior analysis: SVD of every draw, credible RF maps, summaries.

All functions take the DataTree returned by :func:`bayesrf.sample` (or
:func:`bayesrf.fit_map`) and return xarray objects with named dims.
Intervals are highest-density intervals from arviz-stats; their probability
``prob`` defaults to ArviZ's ``arviz_base.rcParams["stats.ci_prob"]`` (0.89 unless
you set it; :func:`ci_prob`).
"""

from __future__ import annotations

import json
from typing import Any

import arviz_base
import arviz_stats as azs
import numpy as np
import xarray as xr

from .diagnostics import DIAGNOSTIC_STATS
from .errors import DataError
from .inference import point_estimates
from .observation import DISPERSIONS
from .model import HYPERPARAMETERS
from .priors import SUPPORT_SHORTFALL, PriorSpec
from .results import design_from_result
from .svd import rf_svd

__all__ = [
    "ci_prob",    "SAMPLE_DIMS", "compare_estimates", "format_summary", "hdi_bounds", "posterior_svd", "rf_summary",
    "summary", "support_caution", "svd_summary"
]

SAMPLE_DIMS = ("chain", "draw")


def posterior_svd(
    result: xr.DataTree, n_components: int = 2, center: str = "space", reference: xr.Dataset | None = None
) -> xr.Dataset:
    """Space-time SVD of the RF on every posterior draw, signs aligned across draws.

    Each draw's (lag x pixel) RF is centred (default: each lag's mean over
    pixels, see :mod:`bayesrf.svd`) and decomposed with numpy's batched SVD.
    Signs are aligned to the decomposition of the **posterior-mean RF**
    (itself signed so its largest spatial pixel is positive): component k
    of a draw is flipped when ``u.u_ref + v.v_ref < 0``.

    Parameters
    ----------
    result : DataTree
        A fit with ``posterior.rf`` (chain, draw, lag, y, x).
    n_components : int
    center : {"space", "time", "none"}
    reference : xarray.Dataset, optional
        A decomposition (from :func:`bayesrf.rf_svd`, no batch dims) that the
        posterior-mean decomposition is first signed to agree with, e.g. another
        fit's, so that several fits are comparable.

    Returns
    -------
    xarray.Dataset
        ``spatial`` (chain, draw, component, y, x), ``temporal`` (chain, draw,
        component, lag), ``singular_value`` and ``explained_variance`` (chain,
        draw, component); ``attrs["reference"] = "posterior mean"``.
    """
    rf = result["posterior"]["rf"]
    mean_svd = rf_svd(rf.mean(SAMPLE_DIMS), n_components, center, reference=reference)
    out = rf_svd(rf, n_components, center, reference=mean_svd)
    out.attrs["reference"] = "posterior mean" + ("" if reference is None else ", signed to agree with the given reference")
    return out


def compare_estimates(result: xr.DataTree) -> xr.Dataset:
    """ML (one lag at a time), MAP and posterior mean of the RF on the data of a fit.

    The ML and MAP are the fit's stored ``estimates`` group (see :func:`bayesrf.inference.point_estimates`);
    a result without it (fitted with ``estimates=False``) gets them computed here, the MAP of a
    :func:`bayesrf.fit_map` result being its own mode, as if it had been stored.

    Returns
    -------
    xarray.Dataset (lag, y, x)
        ``ml_per_lag``, ``map`` and ``posterior_mean``.
    """
    if "estimates" in result.children:
        stored = result["estimates"].to_dataset()
    else:
        posterior = result["posterior"].to_dataset()
        mode = (posterior["rf"].values[0, 0], dict(result.attrs)) if result.attrs.get("method") == "map" else None
        stored = point_estimates(design_from_result(result), PriorSpec.from_json(result.attrs["bayesrf_spec"]),
                                 posterior, mode)
    return stored.assign(posterior_mean=result["posterior"]["rf"].mean(SAMPLE_DIMS))


def ci_prob(prob: float | None = None) -> float:
    """``prob``, or ArviZ's default interval probability ``arviz_base.rcParams["stats.ci_prob"]`` when None.

    Examples
    --------
    >>> ci_prob(0.5), ci_prob() == arviz_base.rcParams["stats.ci_prob"]
    (0.5, True)
    """
    prob = float(arviz_base.rcParams["stats.ci_prob"] if prob is None else prob)
    if not 0.0 < prob < 1.0:
        raise DataError(f"an interval probability must be between 0 and 1 (exclusive); got {prob!r}.")
    return prob


def hdi_bounds(da: xr.DataArray, prob: float | None = None) -> tuple[xr.DataArray, xr.DataArray]:
    """Lower and upper bounds of ``da``'s HDI of probability ``prob`` over the sample dims."""
    bounds = azs.hdi(da, prob=ci_prob(prob), dim=list(SAMPLE_DIMS))
    return bounds.sel(ci_bound="lower", drop=True), bounds.sel(ci_bound="upper", drop=True)


def rf_summary(result: xr.DataTree, prob: float | None = None) -> xr.Dataset:
    """Per pixel and lag: mean, SD, HDI, probability of direction, credibility.

    Returns
    -------
    xarray.Dataset (lag, y, x)
        ``mean``, ``sd``, ``hdi_lower``, ``hdi_upper``, ``p_direction`` (posterior
        probability of the sign of the mean, 0.5-1) and ``credible`` (the HDI
        excludes 0).
    """
    prob = ci_prob(prob)
    rf = result["posterior"]["rf"]
    lower, upper = hdi_bounds(rf, prob)
    mean = rf.mean(SAMPLE_DIMS)
    positive = (rf > 0).mean(SAMPLE_DIMS)
    out = xr.Dataset({
        "mean": mean,
        "sd": rf.std(SAMPLE_DIMS, ddof=1) if rf.sizes["draw"] * rf.sizes["chain"] > 1 else xr.zeros_like(mean),
        "hdi_lower": lower,
        "hdi_upper": upper,
        "p_direction": np.maximum(positive, 1 - positive),
        "credible": (lower > 0) | (upper < 0),
    })
    out.attrs["hdi_prob"] = prob
    return out


def svd_summary(svd: xr.Dataset, prob: float | None = None) -> xr.Dataset:
    """Posterior summaries of :func:`posterior_svd`: means, SDs and HDIs.

    Returns
    -------
    xarray.Dataset
        ``temporal_mean``, ``temporal_lower``, ``temporal_upper`` (component, lag);
        ``spatial_mean``, ``spatial_sd`` (component, y, x);
        ``explained_mean``, ``explained_lower``, ``explained_upper`` (component).
    """
    prob = ci_prob(prob)
    t_lo, t_hi = hdi_bounds(svd["temporal"], prob)
    e_lo, e_hi = hdi_bounds(svd["explained_variance"], prob)
    out = xr.Dataset({
        "temporal_mean": svd["temporal"].mean(SAMPLE_DIMS),
        "temporal_lower": t_lo,
        "temporal_upper": t_hi,
        "spatial_mean": svd["spatial"].mean(SAMPLE_DIMS),
        "spatial_sd": svd["spatial"].std(SAMPLE_DIMS),
        "explained_mean": svd["explained_variance"].mean(SAMPLE_DIMS),
        "explained_lower": e_lo,
        "explained_upper": e_hi,
    })
    out.attrs["hdi_prob"] = prob
    return out


def summary(result: xr.DataTree, prob: float | None = None) -> dict[str, Any]:
    """A report of a fit: settings, diagnostics, scalars, RF and SVD summaries.

    Returns
    -------
    dict
        JSON-serialisable: ``fit`` (prior, method, sampler, draws, wall time),
        ``diagnostics`` (max R-hat, min bulk/tail ESS, divergences, tree depth hits, min E-BFMI and
        the verdict of :func:`bayesrf.diagnostics.check_diagnostics`; NUTS only),
        ``parameters`` (mean, sd, HDI, R-hat, ESS of intercept, hyperparameters
        and baseline coefficients, from ``arviz_stats.summary``), ``rf`` (number
        of credible weights per lag, peak weight and where), ``svd`` (time course
        mean and HDI per lag, explained variance with HDI, per component); for a ``steps`` baseline,
        ``baseline``: ``n_segments`` and the ``largest_jump`` (posterior mean, log-rate, with its HDI ``lower``
        and ``upper``) with its ``segment`` (1-based) and ``start_s`` (s).
    """
    prob = ci_prob(prob)
    post = result["posterior"]
    attrs = result.attrs
    spec = attrs.get("bayesrf_spec", "{}")
    n_samples = post.sizes["chain"] * post.sizes["draw"]
    report: dict[str, Any] = {
        "fit": {
            "prior": json.loads(spec).get("name"),
            "method": attrs.get("method"),
            "sampler": attrs.get("sampler"),
            "chains": post.sizes["chain"],
            "draws": post.sizes["draw"],
            "wall_time_s": attrs.get("wall_time_s"),
            "n_obs": attrs.get("n_obs"),
            "hdi_prob": prob,
        },
    }
    if caution := support_caution(report["fit"]["prior"]):
        report["fit"]["caution"] = caution
    if attrs.get("method") == "nuts":
        report["diagnostics"] = {k: attrs[k] for k in DIAGNOSTIC_STATS if k in attrs}
    scalars = [v for v in ("intercept", *HYPERPARAMETERS, *DISPERSIONS.values(), "history", "rf_time", "baseline_coef") if v in post]
    if n_samples > 3:
        scalar_post = post.to_dataset()[scalars]
        table = azs.summary(xr.DataTree.from_dict({"posterior": scalar_post}), ci_prob=prob, ci_kind="hdi")
        report["parameters"] = {
            str(idx): {str(col): float(val) for col, val in row.items()} for idx, row in table.iterrows()
        }
        rfs = rf_summary(result, prob)
        svd = svd_summary(posterior_svd(result), prob)
        report["rf"] = _rf_report(rfs)
        report["svd"] = _svd_report(svd)
        if json.loads(spec).get("baseline_kind") == "steps":
            report["baseline"] = _jump_report(report["parameters"], post.sizes["knot"] + 1, attrs)
    else:
        report["parameters"] = {v: np.asarray(post[v].values).ravel().tolist() for v in scalars}
    return _plain(report)


def support_caution(prior: str | None) -> str | None:
    """What :data:`bayesrf.priors.SUPPORT_SHORTFALL` says about the shipped prior ``prior`` (None if nothing).

    Examples
    --------
    >>> support_caution("my-own-spec") is None  # not a shipped prior, or one that never fell short
    True
    """
    truths = SUPPORT_SHORTFALL.get(prior or "")
    if not truths:
        return None
    return (f"on simulated {', '.join(truths)} RFs the {prior} prior's intervals on the RF's own weights were too "
            f"narrow (more than 5 points below their level; README, 'Truths no prior assumes' and 'Why the priors "
            f"fall short on truths they assume'): compare it with other priors (bayesrf sensitivity) before trusting "
            f"them")


def _plain(obj: Any) -> Any:
    """numpy scalars (e.g. attrs read back from NetCDF) -> Python numbers, recursively."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj.item() if isinstance(obj, np.generic) else obj


def _rf_report(rfs: xr.Dataset) -> dict[str, Any]:
    peak = abs(rfs["mean"]).argmax(("lag", "y", "x"))
    where = {d: int(peak[d]) for d in ("lag", "y", "x")}
    return {
        "n_credible_per_lag": [int(v) for v in rfs["credible"].sum(("y", "x")).values],
        "peak": where | {"mean": float(rfs["mean"].isel(where)), "sd": float(rfs["sd"].isel(where))},
    }


def _jump_report(parameters: dict[str, dict[str, float]], n_segments: int, attrs: dict[str, Any]) -> dict[str, Any]:
    """The largest jump (posterior mean, log-rate) of a steps baseline: its segment, start time (s) and HDI."""
    jumps = {int(name[len("baseline_coef["):-1]): row for name, row in parameters.items()
             if name.startswith("baseline_coef[")}
    knot = max(jumps, key=lambda k: abs(jumps[k]["mean"]))
    start, stop = float(attrs["session_start_s"]), float(attrs["session_stop_s"])
    lower, upper = _interval(jumps[knot])
    return {"kind": "steps", "n_segments": n_segments, "largest_jump": {
        "segment": knot + 1, "start_s": start + knot * (stop - start) / n_segments, "mean": jumps[knot]["mean"],
        "lower": lower, "upper": upper}}


def _interval(row: dict[str, float]) -> tuple[float | None, float | None]:
    """Lower and upper HDI bounds of an ``arviz_stats.summary`` row (None when it has none)."""
    lo = next((v for k, v in row.items() if k.endswith("lb") or k.startswith("hdi_") and "low" in k), None)
    hi = next((v for k, v in row.items() if k.endswith("ub") or k.startswith("hdi_") and "up" in k), None)
    return lo, hi


def _svd_report(svd: xr.Dataset) -> list[dict[str, Any]]:
    return [
        {
            "component": int(k),
            "explained": [float(svd[f"explained_{s}"].sel(component=k)) for s in ("mean", "lower", "upper")],
            "temporal_mean": svd["temporal_mean"].sel(component=k).values.round(4).tolist(),
            "temporal_hdi": np.stack([svd["temporal_lower"].sel(component=k).values,
                                      svd["temporal_upper"].sel(component=k).values], axis=1).round(4).tolist(),
        }
        for k in svd.component.values
    ]


def format_summary(report: dict[str, Any]) -> str:
    """Plain-text rendering of :func:`summary` for the terminal."""
    fit = report["fit"]
    lines = [f"prior {fit['prior']} | {fit['method']} ({fit['sampler']}) | {fit['chains']} chains x {fit['draws']} "
             f"draws | {fit['n_obs']} intervals"] + ([f"caution: {fit['caution']}"] if fit.get("caution") else [])
    if "diagnostics" in report:
        d = report["diagnostics"]
        lines.append(f"diagnostics: max R-hat {d['max_rhat']:.3f}, min bulk ESS {d['min_ess_bulk']:.0f}, "
                     f"min tail ESS {d['min_ess_tail']:.0f}, divergences {d['n_divergent']}"
                     + (f", max tree depth hit {d['n_max_treedepth']}" if d.get("n_max_treedepth") else "")
                     + (f", min E-BFMI {d['min_bfmi']:.2f}" if "min_bfmi" in d else "")
                     + ("" if d.get("diagnostics_ok") else "  << CHECK"))
    pct = int(round(100 * fit["hdi_prob"]))
    lines.append(f"{'parameter':22s} {'mean':>9s} {'sd':>8s} {pct:>3d}% HDI")
    for name, row in report["parameters"].items():
        if isinstance(row, dict):
            lo, hi = _interval(row)
            interval = f"[{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
            lines.append(f"{name:22s} {row.get('mean', np.nan):9.4f} {row.get('sd', np.nan):8.4f} {interval}")
        else:
            lines.append(f"{name:22s} {', '.join(f'{v:.4f}' for v in row)}")
    if "baseline" in report:
        jump, n = report["baseline"]["largest_jump"], report["baseline"]["n_segments"]
        lines.append(f"largest baseline jump: rate x {np.exp(jump['mean']):.2f} ({jump['mean']:+.3f} "
                     f"[{jump['lower']:+.3f}, {jump['upper']:+.3f}] log-rate) at {jump['start_s']:.1f} s, the start "
                     f"of segment {jump['segment']} of {n}")
    if "rf" in report:
        rf = report["rf"]
        lines.append(f"credible weights per lag ({pct}% HDI excludes 0): {rf['n_credible_per_lag']}")
        p = rf["peak"]
        lines.append(f"peak weight {p['mean']:+.4f} +/- {p['sd']:.4f} at lag {p['lag']}, y {p['y']}, x {p['x']}")
    for comp in report.get("svd", []):
        ev = comp["explained"]
        lines.append(f"SVD component {comp['component'] + 1}: explains {100 * ev[0]:.0f}% "
                     f"[{100 * ev[1]:.0f}, {100 * ev[2]:.0f}]; time course by lag:")
        lines.append("   " + "  ".join(f"{m:+.2f} [{lo:+.2f}, {hi:+.2f}]"
                                       for m, (lo, hi) in zip(comp["temporal_mean"], comp["temporal_hdi"], strict=True)))
    return "\n".join(lines)
