"""Figures of receptive fields and their space-time components.

Every RF map uses one diverging colour scale centred at 0 shared by all
panels of a figure, with a colourbar, pixel axes (x right, y down, as the
frames are shown) and lags labelled in frames and milliseconds.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt  # the backend is the user's (Jupyter's inline; Agg when headless)
import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .design import lag_seconds
from .errors import BayesRFWarning
from .model import HYPERPARAMETERS

__all__ = [
    "CMAP", "plot_check", "plot_compare", "plot_diagnostics", "plot_ppc", "plot_rf_posterior", "plot_rf_rows",
    "plot_support", "plot_svd", "plot_timecourses", "save_figures", "write_figures",
    "write_sensitivity_figures"
]

CMAP = "RdBu_r"


def _lag_label(rf: xr.DataArray, lag: int) -> str:
    seconds = lag_seconds(rf.sel(lag=[lag]))  # by lag value: rf may hold a subset of the lags
    return f"lag {lag}" if seconds is None else f"lag {lag} ({1000 * seconds[0]:.0f} ms)"


def _lag_axis(obj: xr.DataArray | xr.Dataset) -> tuple[np.ndarray, str]:
    """x values and axis label of a time-course plot: milliseconds when the lags carry the frame duration."""
    seconds = lag_seconds(obj)
    if seconds is None:
        return obj["lag"].values, "lag (frames)"
    return 1000 * seconds, "lag (ms before the count)"


def _integer_ticks(ax: plt.Axes) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def plot_rf_rows(
    rows: Sequence[tuple[str, xr.DataArray]],
    title: str = "",
    units: str = "weight (log-rate per unit contrast)",
    vmax: float | None = None,
    cmap: str = CMAP,
    symmetric: bool = True,
) -> Figure:
    """One row of lag maps per RF, all on one colour scale centred at 0.

    Parameters
    ----------
    rows : sequence of (label, DataArray (lag, y, x))
        The RFs to show, top to bottom; NaN pixels are drawn grey.
    title : str
        Figure title.
    units : str
        Colourbar label.
    vmax : float, optional
        Half-range of the colour scale; default the largest |weight| shown.
    cmap : str
        Colour map (diverging by default).
    symmetric : bool
        Centre the scale at 0 (``-vmax .. vmax``); False gives ``0 .. vmax`` (for SDs).

    Returns
    -------
    matplotlib.figure.Figure
    """
    n_lags = rows[0][1].sizes["lag"]
    if vmax is None:
        vmax = max(float(np.nanmax(np.abs(rf.values))) for _, rf in rows) or 1.0
    fig, axes = plt.subplots(
        len(rows), n_lags, figsize=(2.1 * n_lags + 1.2, 2.4 * len(rows) + 0.6), squeeze=False,
        layout="constrained",
    )
    colors = plt.get_cmap(cmap).with_extremes(bad="0.8")
    vmin = -vmax if symmetric else 0.0
    for i, (label, rf) in enumerate(rows):
        for j, lag in enumerate(rf.lag.values):
            ax = axes[i, j]
            image = ax.imshow(rf.sel(lag=lag).values, cmap=colors, vmin=vmin, vmax=vmax, origin="upper")
            ax.set_title(_lag_label(rf, int(lag)) if i == 0 else "", fontsize=9)
            ax.set_xlabel("x (pixel)" if i == len(rows) - 1 else "", fontsize=8)
            ax.set_ylabel(f"{label}\ny (pixel)" if j == 0 else "", fontsize=8)
            ax.tick_params(labelsize=7)
            _integer_ticks(ax)
    fig.colorbar(image, ax=axes, shrink=0.8, label=units)
    if title:
        fig.suptitle(title)
    return fig


def plot_svd(
    svd: xr.Dataset,
    title: str = "",
    band: tuple[xr.DataArray, xr.DataArray] | None = None,
    component: int = 0,
    spatial_sd: xr.DataArray | None = None,
) -> Figure:
    """Spatial map and time course of one SVD component.

    Parameters
    ----------
    svd : xarray.Dataset
        From :func:`bayesrf.rf_svd` (no batch dims), or a posterior mean.
    title : str
    band : (lower, upper), optional
        Credible band of the time course (dims ``lag``), drawn shaded.
    component : int
        Which component to draw.
    spatial_sd : DataArray (component, y, x), optional
        Posterior SD of the spatial map, drawn as a third panel.
    """
    ncols = 2 if spatial_sd is None else 3
    fig, axes = plt.subplots(1, ncols, figsize=(4.6 * ncols + 0.3, 3.8), layout="constrained",
                             gridspec_kw={"width_ratios": [1, 1.4] if ncols == 2 else [1, 1, 1.4]})
    ax_s, ax_t = axes[0], axes[-1]
    if spatial_sd is not None:
        sd = spatial_sd.sel(component=component)
        image_sd = axes[1].imshow(sd.values, cmap="viridis", vmin=0)
        axes[1].set(xlabel="x (pixel)", ylabel="y (pixel)", title="posterior SD of the spatial map")
        _integer_ticks(axes[1])
        fig.colorbar(image_sd, ax=axes[1], label="SD (unit norm)")
    spatial = svd.spatial.sel(component=component)
    vmax = float(np.abs(spatial).max()) or 1.0
    image = ax_s.imshow(spatial.values, cmap=CMAP, vmin=-vmax, vmax=vmax)
    ax_s.set(xlabel="x (pixel)", ylabel="y (pixel)", title=f"spatial component {component + 1}")
    _integer_ticks(ax_s)
    fig.colorbar(image, ax=ax_s, label="spatial weight (unit norm)")
    temporal = svd.temporal.sel(component=component)
    ms, lag_label = _lag_axis(svd)
    if band is not None:
        ax_t.fill_between(ms, band[0].values, band[1].values, alpha=0.3, label="credible band")
    ax_t.plot(ms, temporal.values, "o-", color="k", label="time course")
    ax_t.axhline(0, color="0.5", lw=0.8)
    ax_t.set(xlabel=lag_label,
             ylabel="temporal weight (unit norm)", title=f"temporal component {component + 1}")
    ev = float(svd.explained_variance.sel(component=component))
    ax_t.text(0.98, 0.95, f"explains {100 * ev:.0f} % of variance", transform=ax_t.transAxes,
              ha="right", va="top", fontsize=9)
    if band is not None:
        ax_t.legend(loc="best", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_rf_posterior(rfs: xr.Dataset, title: str = "") -> tuple[Figure, Figure]:
    """Posterior RF maps from :func:`bayesrf.posterior.rf_summary`.

    Returns
    -------
    (Figure, Figure)
        Mean and mean-masked-where-the-HDI-includes-0 on one diverging scale;
        posterior SD on a sequential scale.
    """
    pct = int(round(100 * rfs.attrs["hdi_prob"]))
    masked = rfs["mean"].where(rfs["credible"])
    means = plot_rf_rows([("posterior mean", rfs["mean"]), (f"mean where the\n{pct} % HDI excludes 0", masked)],
                         title=f"{title} (grey: {pct} % HDI includes 0)".strip())
    sds = plot_rf_rows([("posterior SD", rfs["sd"])], title=f"{title}: posterior SD".strip(), cmap="viridis",
                       symmetric=False, units="SD (log-rate per unit contrast)")
    return means, sds


def plot_compare(estimates: xr.Dataset, title: str = "") -> Figure:
    """ML (per lag), MAP and posterior mean side by side on one colour scale (the MAP row is labelled with
    which mode it is, ``estimates["map"].attrs["long_name"]``, when the estimates say)."""
    rows = [("ML, each lag alone", estimates["ml_per_lag"]), (estimates["map"].attrs.get("long_name", "MAP"), estimates["map"]),
            ("posterior mean", estimates["posterior_mean"])]
    return plot_rf_rows(rows, title=title or "Point estimates compared")


def plot_ppc(result: xr.DataTree) -> Figure:
    """Rootogram of observed vs posterior-predictive spike counts (arviz-plots)."""
    import arviz_plots as azp

    pc = azp.plot_ppc_rootogram(result, var_names=["counts"], backend="matplotlib")
    fig = pc.viz["figure"].item()
    fig.suptitle("Posterior predictive check: spike counts per frame interval (dots: observed)")
    fig.subplots_adjust(top=0.8)
    return fig


def plot_check(report: dict) -> Figure:
    """The posterior predictive checks of :func:`bayesrf.criticism.check`, one panel each, titled by verdict."""
    checks = {c["name"]: c for c in report["checks"]}
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), layout="constrained")
    for ax, name, label in ((axes[0, 0], "dispersion", "Pearson dispersion"),
                            (axes[0, 1], "autocorrelation", "lag-1 autocorrelation of Pearson residuals")):
        c = checks[name]
        ax.hist(c["t_replicated"], bins=30, color="0.7", label="replicated (one per draw)")
        ax.hist(c["t_observed"], bins=30, color="C3", alpha=0.6, label="observed (per draw's rate)")
        ax.set(xlabel=label, ylabel="draws")
    for ax, name, xlabel, ylabel in ((axes[1, 0], "rootogram", "spikes per interval (last bin: or more)",
                                      "intervals"), (axes[1, 1], "segments", "session segment", "rate (spikes/s)")):
        c = checks[name]
        ax.fill_between(c["values"], c["lower"], c["upper"], color="0.8", step="mid" if name == "rootogram" else None,
                        label="replicated interval")
        ax.plot(c["values"], c["expected"], color="0.3", label="replicated mean")
        ax.plot(c["values"], c["observed"], "o", color="C3", label="observed")
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[1, 0].set_yscale("function", functions=(np.sqrt, np.square))  # a rootogram: square-root counts
    for ax, name in zip(axes.flat, ("dispersion", "autocorrelation", "rootogram", "segments"), strict=True):
        c = checks[name]
        ax.set_title(f"{'ok' if c['ok'] else 'FAIL'} (p = {c['p']:.3f}): {c['verdict']}", fontsize=8, wrap=True)
        ax.legend(fontsize=7, loc="best")  # explicit, as matplotlib times a default one
    fig.suptitle(f"Does the likelihood fit? Posterior predictive checks ({report['n_draws']} draws)")
    return fig


def plot_diagnostics(result: xr.DataTree) -> dict[str, Figure]:
    """ArviZ diagnostics of the scalar parameters: trace + rank, ESS, energy (NUTS only)."""
    import arviz_plots as azp

    names = [v for v in ("intercept", *HYPERPARAMETERS) if v in result["posterior"]]
    post = result["posterior"].to_dataset()[names]
    tree = xr.DataTree.from_dict({"posterior": post, "sample_stats": result["sample_stats"].to_dataset()})
    figures = {}
    for key, fn in (("trace", azp.plot_trace_dist), ("rank", azp.plot_rank), ("ess", azp.plot_ess),
                    ("energy", azp.plot_energy)):
        fig = fn(tree, backend="matplotlib").viz["figure"].item()
        width, height = fig.get_size_inches()
        fig.set_size_inches(width, height * 1.3)  # room for two-line panel titles
        fig.set_layout_engine("constrained")
        figures[key] = fig
    return figures


def write_figures(result: xr.DataTree, out_dir: str | Path, prob: float | None = None, dpi: int = 110) -> list[Path]:
    """Write every figure of a fit to ``out_dir``; return the paths.

    ``rf_posterior.png`` (mean, credible mean), ``rf_sd.png``, ``svd.png`` (first
    component with credible band and spatial SD), ``compare.png`` (ML per lag,
    MAP, posterior mean; drawn from the fit's stored ``estimates``: nothing is refitted),
    ``ppc.png`` (rootogram), for fits with draws ``check.png`` (:func:`bayesrf.criticism.check`), and for
    NUTS fits ``diagnostics_{trace,rank,ess,energy}.png``.
    """
    from .criticism import check
    from .posterior import ci_prob, compare_estimates, posterior_svd, rf_summary, svd_summary
    from .results import posterior_predictive

    prob = ci_prob(prob)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = json.loads(result.attrs["bayesrf_spec"])["name"]
    figures: dict[str, Figure] = {}
    figures["rf_posterior"], figures["rf_sd"] = plot_rf_posterior(rf_summary(result, prob), title=f"RF, {name} prior")
    svd = svd_summary(posterior_svd(result), prob)
    svd_view = xr.Dataset({"spatial": svd.spatial_mean, "temporal": svd.temporal_mean,
                           "explained_variance": svd.explained_mean})
    figures["svd"] = plot_svd(svd_view, title=f"First space-time component ({name} prior; "
                              f"band: {int(round(100 * prob))} % HDI)",
                              band=(svd.temporal_lower.sel(component=0), svd.temporal_upper.sel(component=0)),
                              spatial_sd=svd.spatial_sd)
    if "estimates" in result.children:  # stored by the fit: plots never refit
        figures["compare"] = plot_compare(compare_estimates(result), title=f"ML vs MAP vs posterior mean ({name} prior)")
    else:
        warnings.warn("this result has no 'estimates' group (it was fitted with estimates=False), so compare.png "
                      "is not drawn; refit with estimates=True, or call bayesrf.compare_estimates (which fits them).",
                      BayesRFWarning, stacklevel=2)
    figures["ppc"] = plot_ppc(posterior_predictive(result))
    if result["posterior"].sizes["draw"] > 1:
        figures["check"] = plot_check(check(result, prob=prob))
    if result.attrs.get("method") == "nuts":
        figures |= {f"diagnostics_{k}": f for k, f in plot_diagnostics(result).items()}
    return save_figures(figures, out, dpi)


def save_figures(figures: dict[str, Figure], out: Path, dpi: int) -> list[Path]:
    """Write each figure as ``out/<name>.png`` (the folder must exist), close it; return the paths."""
    paths = []
    for key, fig in figures.items():
        path = out / f"{key}.png"
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        paths.append(path)
    return paths


def _x_position(row: xr.Dataset) -> tuple[float, tuple[float, float]]:
    """Where a fit sits on the prior-scale axis: its scale, or the geometric mean (and range)
    of the per-lag scales a hierarchical prior learned."""
    if bool(row["hierarchical"]):
        learned = row["learned_scale"].values
        center = float(np.exp(np.log(learned).mean()))  # rounding can put it a hair outside equal scales
        return center, (min(center, float(learned.min())), max(center, float(learned.max())))
    scale = float(row["scale"])
    return scale, (scale, scale)


def plot_support(comparison: xr.Dataset) -> Figure:
    """ELPD-LOO and held-out log predictive density against the prior scale, with SEs.

    Fixed-scale priors are lines over their scales; a hierarchical prior is a
    marker at the geometric mean of its learned per-lag scales, with a
    horizontal bar spanning them; dashed lines mark the scales glum's
    cross-validation picks.
    """
    panels = [("elpd_loo", "elpd_loo_se", "ELPD-LOO (fitted intervals)")]
    if np.isfinite(comparison["heldout_lpd"]).all():
        panels.append(("heldout_lpd", "heldout_lpd_se", "held-out log predictive density"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.4 * len(panels), 4.0), layout="constrained", squeeze=False)
    colors = {name: f"C{i}" for i, name in enumerate(dict.fromkeys(comparison["prior"].values))}
    for ax, (value, se, label) in zip(axes[0], panels, strict=True):
        for name in colors:
            rows = comparison.where(comparison["prior"] == name, drop=True)
            xs = [_x_position(rows.isel(fit=i)) for i in range(rows.sizes["fit"])]
            centre = np.array([x for x, _ in xs])
            spread = np.array([[x - lo, hi - x] for x, (lo, hi) in xs]).T
            hier = bool(rows["hierarchical"].values.any())
            ax.errorbar(centre, rows[value].values, yerr=rows[se].values, xerr=spread if hier else None,
                        fmt="s" if hier else "o-", color=colors[name], capsize=3, label=name)
        for family, style in (("ridge", "--"), ("lasso", ":")):
            if f"cv_scale_{family}" in comparison.attrs:
                ax.axvline(comparison.attrs[f"cv_scale_{family}"], color="0.4", ls=style, lw=1,
                           label=f"glum CV {family} scale")
        ax.set(xscale="log", xlabel="prior scale (sigma or b; log-rate per unit contrast)", ylabel=f"{label} (nats)",
               title=label)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle("Which prior do the data support? (error bars: SE)")
    return fig


def plot_timecourses(comparison: xr.Dataset, component: int = 0) -> Figure:
    """Time courses of one SVD component of every fit, overlaid with their HDI bands (legend beside the axes;
    up to 20 fits get distinct colours: the default cycle repeats after 10, the default study has 11)."""
    fig, ax = plt.subplots(figsize=(8.0, 4.2), layout="constrained")
    ms, lag_label = _lag_axis(comparison)
    colors = plt.get_cmap("tab10" if comparison.sizes["fit"] <= 10 else "tab20").colors
    for i, label in enumerate(comparison.fit.values):
        row = comparison.sel(fit=label, component=component)
        ev = float(row["explained_variance"])
        color = colors[i % len(colors)]
        ax.fill_between(ms, row["temporal_lower"].values, row["temporal_upper"].values, color=color, alpha=0.15)
        ax.plot(ms, row["temporal"].values, "o-", color=color, label=f"{label} ({100 * ev:.0f} %)")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set(xlabel=lag_label,
           ylabel="temporal weight (unit norm)",
           title=f"SVD component {component + 1} by prior (bands: {int(round(100 * comparison.attrs['prob']))} % HDI; "
                 "% variance explained)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def write_sensitivity_figures(comparison: xr.Dataset, out_dir: str | Path, dpi: int = 110) -> list[Path]:
    """Figures of a prior-sensitivity study (:func:`bayesrf.comparison.compare`).

    ``sensitivity_rf_mean.png`` and ``sensitivity_rf_sd.png`` (rows = fits, columns
    = lags, one colour scale), ``sensitivity_support.png`` (:func:`plot_support`),
    ``sensitivity_timecourses.png`` (:func:`plot_timecourses`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = [str(label) for label in comparison.fit.values]
    figures = {
        "sensitivity_rf_mean": plot_rf_rows([(label, comparison["rf_mean"].sel(fit=label)) for label in labels],
                                            title="Posterior-mean RF by prior"),
        "sensitivity_rf_sd": plot_rf_rows([(label, comparison["rf_sd"].sel(fit=label)) for label in labels],
                                          title="Posterior SD of the RF by prior", units="posterior SD",
                                          cmap="viridis", symmetric=False),
        "sensitivity_support": plot_support(comparison),
        "sensitivity_timecourses": plot_timecourses(comparison),
    }
    return save_figures(figures, out, dpi)
