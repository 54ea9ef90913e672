"""The result schema shared by MAP, Laplace and NUTS fits, and its NetCDF I/O.

Every fit returns an :class:`xarray.DataTree` with groups

``posterior``      ``intercept`` (chain, draw), ``rf`` (chain, draw, lag, y, x),
                   hyperparameters (``rf_scale`` (chain, draw, lag), ...)
``sample_stats``   sampler or optimiser statistics (``diverging`` for NUTS)
``log_likelihood`` ``counts`` (chain, draw, time), pointwise
``log_prior``      per free variable
``observed_data``  ``counts`` (time)
``constant_data``  ``stim`` (time, y, x) of the fitted intervals and their history,
                   ``duration`` (time)

and root attrs ``bayesrf_spec`` (the prior spec as JSON), ``bayesrf_version``,
``data_sha256``, ``seed``, ``method``, ``sampler``, ``n_lags``. A MAP fit is a
posterior with one chain and one draw.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .design import Design
from .errors import BayesRFWarning, DataError
from .priors import PriorSpec

__all__ = ["assemble", "load", "predict", "save"]


def _version() -> str:
    from . import __version__

    return __version__


def _posterior_dataset(values: dict[str, np.ndarray], design: Design) -> xr.Dataset:
    """Arrays with leading (chain, draw) axes -> posterior Dataset with named dims."""
    dims = {"intercept": (), "rf": ("lag", "y", "x"), "rf_z": ("lag", "y", "x"), "rf_scale": ("lag",)}
    data = {}
    for name, arr in values.items():
        extra = dims[name] if arr.ndim - 2 == len(dims[name]) else ("lag",)  # per-lag intercepts
        data[name] = (("chain", "draw", *extra), np.asarray(arr, dtype=np.float64))
    ds = xr.Dataset(data)
    n_chain, n_draw = next(iter(values.values())).shape[:2]
    return ds.assign_coords(chain=np.arange(n_chain), draw=np.arange(n_draw), **design.lag_coords())


def data_groups(design: Design, recording_sha: str) -> dict[str, xr.Dataset]:
    """``observed_data`` and ``constant_data`` of a fit (everything needed to refit or predict)."""
    t_all = design.frames.shape[0]
    observed = xr.Dataset({"counts": ("time", design.counts)}, coords={"time": design.time})
    constant = xr.Dataset(
        {
            "stim": (("frame", "y", "x"), design.frames.reshape(t_all, design.ny, design.nx)),
            "duration": ("time", np.exp(design.offset)),
        },
        coords={"time": design.time, "y": np.arange(design.ny), "x": np.arange(design.nx)},
        attrs={"note": "stim holds every frame; interval time[k] uses frames k .. k + n_lags - 1 (oldest first)"},
    )
    return {"observed_data": observed, "constant_data": constant}


def assemble(
    values: dict[str, np.ndarray],
    design: Design,
    spec: PriorSpec,
    *,
    method: str,
    sampler: str,
    seed: int | None,
    data_sha256: str,
    sample_stats: xr.Dataset | None = None,
    extra_groups: dict[str, xr.Dataset] | None = None,
    attrs: dict[str, Any] | None = None,
) -> xr.DataTree:
    """Build the result DataTree (see the module docstring)."""
    groups = {"posterior": _posterior_dataset(values, design), **data_groups(design, data_sha256)}
    if sample_stats is not None:
        groups["sample_stats"] = sample_stats
    groups.update(extra_groups or {})
    tree = xr.DataTree.from_dict(groups)
    tree.attrs.update(
        bayesrf_spec=spec.to_json(),
        bayesrf_version=_version(),
        data_sha256=data_sha256,
        seed=-1 if seed is None else int(seed),
        method=method,
        sampler=sampler,
        n_lags=design.n_lags,
        n_obs=design.n_obs,
        n_dropped=design.n_dropped,
        frame_duration_s=design.frame_duration,
        **(attrs or {}),
    )
    return tree


def save(result: xr.DataTree, path: str | Path) -> Path:
    """Write a result to NetCDF-4 (h5netcdf); readable by plain xarray/ArviZ.

    Returns
    -------
    Path
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_netcdf(out, engine="h5netcdf")
    return out


def load(path: str | Path, prior: PriorSpec | None = None) -> xr.DataTree:
    """Read a result written by :func:`save`.

    Parameters
    ----------
    path : str or Path
    prior : PriorSpec, optional
        If given, the file must have been fitted with exactly this spec.

    Raises
    ------
    DataError
        Not a bayesrf result, or fitted with a different spec.
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"no result file at {file}.")
    try:
        with xr.open_datatree(file, engine="h5netcdf") as tree:
            result = tree.load()
    except Exception as exc:  # h5py/h5netcdf raise OSError, ValueError, KeyError...
        raise DataError(f"{file} could not be read as a NetCDF result ({type(exc).__name__}: {exc}).") from exc
    if "bayesrf_spec" not in result.attrs or "posterior" not in result.children:
        raise DataError(f"{file} is not a bayesrf result (no bayesrf_spec attribute or posterior group).")
    if prior is not None and PriorSpec.from_json(result.attrs["bayesrf_spec"]) != prior:
        raise DataError(
            f"{file} was fitted with prior spec {result.attrs['bayesrf_spec']}, not with {prior.to_json()}; "
            "refit or load without prior=."
        )
    return result


def predict(
    result: xr.DataTree,
    stim: xr.DataArray,
    duration: float | xr.DataArray | None = None,
    kind: str = "rate",
    seed: int | None = 0,
) -> xr.DataArray:
    """Posterior predictive rates or counts for new stimulus frames.

    Parameters
    ----------
    result : DataTree
        A fit (MAP, Laplace or NUTS).
    stim : DataArray (time, y, x)
        New frames, centred like the fitted ones; the first ``n_lags - 1``
        have no full history and get no prediction.
    duration : float or DataArray (time), seconds
        Needed for ``kind="counts"``; default the median fitted frame duration.
    kind : {"rate", "counts"}
        ``rate``: expected firing rate in spikes/s per draw; ``counts``: one
        Poisson draw of the count per posterior draw.
    seed : int
        Seed of the Poisson draws.

    Returns
    -------
    DataArray (chain, draw, time)
    """
    if kind not in ("rate", "counts"):
        raise DataError(f"kind must be 'rate' or 'counts'; got {kind!r}.")
    post = result["posterior"]
    rf = post["rf"]
    L = rf.sizes["lag"]
    if stim.sizes.get("y") != rf.sizes["y"] or stim.sizes.get("x") != rf.sizes["x"]:
        raise DataError(f"stim must have y, x sizes {rf.sizes['y']}, {rf.sizes['x']}; got {dict(stim.sizes)}.")
    if stim.sizes["time"] < L:
        raise DataError(f"need at least {L} frames to predict with {L} lags; got {stim.sizes['time']}.")
    frames = stim.transpose("time", "y", "x").values.reshape(stim.sizes["time"], -1)
    W = rf.transpose("chain", "draw", "lag", "y", "x").values.reshape(rf.sizes["chain"], rf.sizes["draw"], L, -1)
    per_lag = np.einsum("tp,cdlp->cdtl", frames, W)
    n = frames.shape[0] - L + 1
    drive = sum(per_lag[:, :, L - 1 - lag : L - 1 - lag + n, lag] for lag in range(L))
    intercept = post["intercept"].values
    if intercept.ndim == 3:
        raise DataError("predictions need a joint fit (per-lag fits have one intercept per lag).")
    rate = np.exp(intercept[:, :, None] + drive)
    time = stim["time"].values[L - 1 :] if "time" in stim.coords else np.arange(L - 1, frames.shape[0])
    out = xr.DataArray(rate, dims=("chain", "draw", "time"), coords={"time": time},
                       attrs={"units": "spikes/s", "long_name": "predicted rate"})
    if kind == "rate":
        return out
    d = result.attrs["frame_duration_s"] if duration is None else duration
    d = np.asarray(d.values[L - 1 :] if isinstance(d, xr.DataArray) else d, dtype=float)
    counts = np.random.default_rng(seed).poisson(rate * d)
    return out.copy(data=counts).assign_attrs(units="spikes", long_name="predicted counts")


def check_diagnostics(result: xr.DataTree, var_names: list[str]) -> dict[str, float]:
    """R-hat, bulk/tail ESS and divergences with ArviZ; warn with advice when they fail.

    Returns the numbers (also stored in ``result.attrs`` by the caller).
    """
    import arviz_stats as azs

    post = result["posterior"].to_dataset()[var_names]
    rhat = azs.rhat(post)
    ess_bulk = azs.ess(post, method="bulk")
    ess_tail = azs.ess(post, method="tail")
    stats = {
        "max_rhat": float(max(rhat[v].max() for v in var_names)),
        "min_ess_bulk": float(min(ess_bulk[v].min() for v in var_names)),
        "min_ess_tail": float(min(ess_tail[v].min() for v in var_names)),
        "n_divergent": int(result["sample_stats"]["diverging"].sum()) if "sample_stats" in result.children else 0,
    }
    problems = []
    n_chains = result["posterior"].sizes["chain"]
    if stats["max_rhat"] > 1.01:
        problems.append(f"max R-hat {stats['max_rhat']:.3f} > 1.01 (chains disagree)")
    if stats["min_ess_bulk"] < 100 * n_chains:
        problems.append(f"min bulk ESS {stats['min_ess_bulk']:.0f} < {100 * n_chains}")
    if stats["min_ess_tail"] < 100 * n_chains:
        problems.append(f"min tail ESS {stats['min_ess_tail']:.0f} < {100 * n_chains}")
    if stats["n_divergent"]:
        problems.append(f"{stats['n_divergent']} divergent transitions")
    stats["diagnostics_ok"] = int(not problems)
    if problems:
        warnings.warn(
            "sampling diagnostics failed: " + "; ".join(problems)
            + ". Try more tune/draws, a non-centred or hierarchical prior, or start from the MAP.",
            BayesRFWarning,
            stacklevel=3,
        )
    return stats
