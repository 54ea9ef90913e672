"""Figures of receptive fields and their space-time components.

Every RF map uses one diverging colour scale centred at 0 shared by all
panels of a figure, with a colourbar, pixel axes (x right, y down, as the
frames are shown) and lags labelled in frames and milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

__all__ = ["plot_rf_rows", "plot_svd"]

CMAP = "RdBu_r"


def _lag_label(rf: xr.DataArray, lag: int) -> str:
    if "lag_s" in rf.coords:
        return f"lag {lag} ({1000 * float(rf.lag_s.sel(lag=lag)):.0f} ms)"
    return f"lag {lag}"


def _integer_ticks(ax: plt.Axes) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def plot_rf_rows(
    rows: Sequence[tuple[str, xr.DataArray]],
    title: str = "",
    units: str = "weight (log-rate per unit contrast)",
    vmax: float | None = None,
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
    cmap = plt.get_cmap(CMAP).with_extremes(bad="0.8")
    for i, (label, rf) in enumerate(rows):
        for j, lag in enumerate(rf.lag.values):
            ax = axes[i, j]
            image = ax.imshow(rf.sel(lag=lag).values, cmap=cmap, vmin=-vmax, vmax=vmax, origin="upper")
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
    """
    fig, (ax_s, ax_t) = plt.subplots(1, 2, figsize=(9.5, 3.8), layout="constrained",
                                     gridspec_kw={"width_ratios": [1, 1.4]})
    spatial = svd.spatial.sel(component=component)
    vmax = float(np.abs(spatial).max()) or 1.0
    image = ax_s.imshow(spatial.values, cmap=CMAP, vmin=-vmax, vmax=vmax)
    ax_s.set(xlabel="x (pixel)", ylabel="y (pixel)", title=f"spatial component {component + 1}")
    _integer_ticks(ax_s)
    fig.colorbar(image, ax=ax_s, label="spatial weight (unit norm)")
    temporal = svd.temporal.sel(component=component)
    ms = 1000 * svd.lag_s.values if "lag_s" in svd.coords else svd.lag.values
    if band is not None:
        ax_t.fill_between(ms, band[0].values, band[1].values, alpha=0.3, label="credible band")
    ax_t.plot(ms, temporal.values, "o-", color="k", label="time course")
    ax_t.axhline(0, color="0.5", lw=0.8)
    ax_t.set(xlabel="lag (ms before the count)" if "lag_s" in svd.coords else "lag (frames)",
             ylabel="temporal weight (unit norm)", title=f"temporal component {component + 1}")
    ev = float(svd.explained_variance.sel(component=component))
    ax_t.text(0.98, 0.95, f"explains {100 * ev:.0f} % of variance", transform=ax_t.transAxes,
              ha="right", va="top", fontsize=9)
    if band is not None:
        ax_t.legend(loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
