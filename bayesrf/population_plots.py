"""Figures of a population fit (:func:`bayesrf.population_fit.load_population_result`); they only draw.

- **atlas**: each unit's posterior-mean RF at its strongest lag, ordered by evidence, pixels whose
  credible interval includes 0 greyed;
- **retinotopy**: RF centres on the stimulus grid with their credible ellipses;
- **time courses**: every unit's time course (projected on its own spatial map) with its band;
- **evidence**: the distribution of the ELPD gain over the baseline-only model, with the threshold.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import scipy.stats
import xarray as xr
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse
from matplotlib.ticker import MaxNLocator

from .plots import CMAP, save_figures
from .posterior import SAMPLE_DIMS, ci_prob, hdi_bounds
from .unit_features import EVIDENCE_NATS, time_course_draws

__all__ = [
    "plot_atlas", "plot_evidence", "plot_population_timecourses", "plot_retinotopy",
    "write_population_figures"
]


def _fitted(result: xr.DataTree) -> tuple[xr.Dataset, list[str]]:
    """The summary of the fitted units, ordered by evidence (strongest first; MAP fits by id)."""
    summary = result["summary"].to_dataset()
    done = summary.where(summary["status"] == "done", drop=True)
    if "elpd_diff" in done:
        done = done.sortby("elpd_diff", ascending=False)
    return done, [str(u) for u in done["unit"].values]


def _has_rf(summary: xr.Dataset, unit: str) -> bool:
    return "has_rf" in summary and bool(summary["has_rf"].sel(unit=_key(summary, unit)))


def _key(summary: xr.Dataset, unit: str):
    """The summary's own unit value for a unit's name in the tree (ids may be int or str)."""
    return next(u for u in summary["unit"].values if str(u) == unit)


def plot_atlas(result: xr.DataTree, prob: float | None = None, columns: int = 6) -> Figure:
    """Grid of RF maps at each unit's strongest lag, strongest evidence first; grey where the HDI includes 0."""
    prob = ci_prob(prob)
    summary, units = _fitted(result)
    rows = max(1, int(np.ceil(len(units) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(1.9 * columns, 1.9 * rows + 0.6), squeeze=False,
                             layout="constrained")
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, unit in zip(axes.ravel(), units, strict=False):
        rf = result["units"][unit]["posterior"]["rf"]
        mean = rf.mean(SAMPLE_DIMS)
        lag = int((mean**2).sum(("y", "x")).argmax("lag"))
        low, high = hdi_bounds(rf.isel(lag=lag), prob) if rf.sizes["draw"] > 1 else (mean.isel(lag=lag),) * 2
        image = mean.isel(lag=lag).values
        limit = float(np.abs(image).max()) or 1.0
        ax.imshow(image, cmap=CMAP, norm=TwoSlopeNorm(0.0, -limit, limit))
        unsure = ((low.values <= 0) & (high.values >= 0)).astype(float)
        ax.imshow(np.where(unsure > 0, 0.75, np.nan), cmap="Greys", vmin=0, vmax=1, alpha=0.7)
        gain = f"{float(summary['elpd_diff'].sel(unit=_key(summary, unit))):.0f} nats" if "elpd_diff" in summary else ""
        ax.set_title(f"unit {unit}, lag {lag}\n{gain}{' RF' if _has_rf(summary, unit) else ''}", fontsize=8)
    fig.suptitle(f"RF atlas: posterior mean at the strongest lag; grey: {int(round(100 * prob))} % HDI includes 0",
                 fontsize=10)
    return fig


def plot_retinotopy(result: xr.DataTree, prob: float | None = None) -> Figure:
    """RF centres of the units with an RF on the stimulus grid, with their ``prob`` credible ellipses."""
    prob = ci_prob(prob)
    summary, units = _fitted(result)
    first = result["units"][units[0]]["posterior"]["rf"] if units else None
    fig, ax = plt.subplots(figsize=(6.0, 5.0), layout="constrained")
    scale = np.sqrt(scipy.stats.chi2.ppf(prob, 2))
    shown = [u for u in units if _has_rf(summary, u) or "has_rf" not in summary]
    colors = plt.get_cmap("tab20").colors
    for i, unit in enumerate(shown):
        row = summary.sel(unit=_key(summary, unit))
        cov = np.array([[row["center_cov_xx"], row["center_cov_yx"]], [row["center_cov_yx"], row["center_cov_yy"]]],
                       dtype=float)
        values, vectors = np.linalg.eigh(cov)
        angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
        width, height = 2 * scale * np.sqrt(np.clip(values[::-1], 0, None))
        color = colors[i % len(colors)]
        ax.add_patch(Ellipse((float(row["center_x"]), float(row["center_y"])), width, height, angle=angle,
                             fill=False, color=color))
        ax.plot(float(row["center_x"]), float(row["center_y"]), "o", color=color, ms=4)
        ax.annotate(unit, (float(row["center_x"]), float(row["center_y"])), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    if first is not None:
        ax.set(xlim=(-0.5, first.sizes["x"] - 0.5), ylim=(first.sizes["y"] - 0.5, -0.5))
    ax.set(xlabel="x (pixel)", ylabel="y (pixel)", aspect="equal",
           title=f"RF centres with {int(round(100 * prob))} % credible ellipses ({len(shown)} units with an RF)")
    return fig


def plot_population_timecourses(result: xr.DataTree, prob: float | None = None) -> Figure:
    """Time courses (on each unit's own spatial map, strongest pixel positive) with HDI bands."""
    prob = ci_prob(prob)
    summary, units = _fitted(result)
    fig, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
    colors = plt.get_cmap("tab20").colors
    for i, unit in enumerate(u for u in units if _has_rf(summary, u) or "has_rf" not in summary):
        course = time_course_draws(result["units"][unit]["posterior"]["rf"])
        course = course / float(np.abs(course.mean(SAMPLE_DIMS)).max() or 1.0)
        color = colors[i % len(colors)]
        if course.sizes["draw"] > 1:
            low, high = hdi_bounds(course, prob)
            ax.fill_between(course["lag"].values, low.values, high.values, color=color, alpha=0.15)
        ax.plot(course["lag"].values, course.mean(SAMPLE_DIMS).values, "o-", color=color, ms=3, label=f"unit {unit}")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="lag (frames before the count)", ylabel="time course (peak |mean| = 1)",
           title=f"Time courses of the units with an RF ({int(round(100 * prob))} % HDI bands)")
    if ax.lines[1:]:
        ax.legend(fontsize=7, ncols=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_evidence(result: xr.DataTree) -> Figure:
    """Histogram of the ELPD gain of each unit's RF model over its baseline-only model."""
    summary, _ = _fitted(result)
    fig, ax = plt.subplots(figsize=(6.0, 3.8), layout="constrained")
    if "elpd_diff" in summary:
        gain = summary["elpd_diff"].values
        ax.hist(np.sign(gain) * np.log10(1 + np.abs(gain)), bins=20, color="0.4")
        ax.axvline(np.log10(1 + EVIDENCE_NATS), color="C3", ls="--", label=f"{EVIDENCE_NATS:g} nats (and 2 SE)")
        ax.legend(fontsize=8, loc="best")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="sign x log10(1 + |ELPD gain|), nats", ylabel="units",
           title=f"Evidence of an RF: {int(summary.get('has_rf', xr.DataArray([])).sum())} of {summary.sizes['unit']} units")
    return fig


def write_population_figures(result: xr.DataTree, out_dir: str | Path, prob: float | None = None, dpi: int = 110) -> list[Path]:
    """Write the atlas, retinotopy, time courses and evidence figures as PNG; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = {"population_atlas": plot_atlas(result, prob), "population_retinotopy": plot_retinotopy(result, prob),
               "population_timecourses": plot_population_timecourses(result, prob),
               "population_evidence": plot_evidence(result)}
    return save_figures(figures, out, dpi)
