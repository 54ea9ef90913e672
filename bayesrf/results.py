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
``estimates``      ``ml_per_lag`` and ``map`` (lag, y, x): the point estimates the figures
                   compare with the posterior mean (unless fitted with ``estimates=False``)

and root attrs ``bayesrf_spec`` (the prior spec as JSON), ``bayesrf_version``, ``stack_versions`` (JSON: the versions
of Python and the numerical packages, bayesrf's commit when it runs from a git checkout, the CPU and the BLAS kernels,
:func:`stack_versions`), ``data_sha256``,
``seed``, ``method``, ``sampler``, ``n_lags``; a sampled fit adds where its time went (``wall_time_s`` and
``time_*_s``, see :func:`bayesrf.sample`). A MAP fit is a posterior with one chain and one draw.
"""

from __future__ import annotations

import json
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import arviz_base
import numpy as np
import xarray as xr

from .design import Design, baseline_basis, count_history, shift_sum
from .errors import DataError
from .families import family_of
from .observation import CountModel, count_model
from .model import VAR_DIMS, rate_unit
from .nonlinearity import log_rate
from .priors import PriorSpec

__all__ = [
    "STACK", "SWEEP_KIND", "as_dataset", "assemble", "check_result", "data_groups", "design_from_result",
    "count_locations", "load", "log_rate_draws", "package_version", "posterior_predictive", "predict", "read_tree",
    "save", "softplus_unit", "source_commit", "stack_versions"
]


SWEEP_KIND = "bayesrf-sensitivity"
"""``attrs["kind"]`` of a prior-sensitivity file (:mod:`bayesrf.sensitivity`)."""


def as_dataset(obj: xr.Dataset | xr.DataTree, group: str) -> xr.Dataset:
    """The ``group`` of a DataTree as a Dataset; a Dataset is returned as it is (it is taken to be that group)."""
    if isinstance(obj, xr.DataTree):
        return (obj[group] if group in obj.children else obj).to_dataset()
    return obj


def package_version() -> str:
    """bayesrf's version (imported late: the package defines it after importing its modules)."""
    from . import __version__

    return __version__


STACK = ("pymc", "pytensor", "nutpie", "numba", "numpy", "scipy", "arviz-base", "arviz-stats", "xarray", "glum",
         "distributed")
"""The packages whose versions :func:`stack_versions` records: those that compute a fit's numbers or run it."""


def source_commit() -> str:
    """The commit of bayesrf's source (``git describe --always --dirty``, tags excluded: the abbreviated hash) when it
    runs from a git checkout of its own repository, else "not a git checkout": bayesrf's version does not change
    between commits, so this is what tells two checkouts' code apart."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=30)

    try:  # the file must be tracked here, or the enclosing repository is someone else's (a venv inside a project)
        if git("ls-files", "--error-unmatch", Path(__file__).name).returncode == 0:
            described = git("describe", "--always", "--dirty", "--exclude=*")
            if described.returncode == 0:
                return described.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):  # no git on this machine
        pass
    return "not a git checkout"


def stack_versions() -> dict[str, str]:
    """The versions of Python, bayesrf (and its :func:`source_commit`, as ``bayesrf_commit``) and :data:`STACK`, by
    name ("not installed" for a missing one), and what they ran on: ``cpu`` (the CPU that numba compiles for, LLVM's
    name) and ``blas`` (each BLAS library loaded, with the kernels it chose for this CPU). Stored with every result
    (``attrs["stack_versions"]``, JSON) and benchmark, because another sampler or compiler version, or another CPU
    (other BLAS kernels and compiled code sum in another order), can give other draws from the same seed."""
    import llvmlite.binding
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS, which threadpoolctl lists only once it is loaded)
    from threadpoolctl import threadpool_info

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    blas = sorted({f"{lib['internal_api']} {lib['version']} ({lib.get('architecture', '?')})"
                   for lib in threadpool_info() if lib["user_api"] == "blas"})
    versions = {name: installed(name) for name in STACK}
    return {"python": platform.python_version(), "bayesrf": package_version(), "bayesrf_commit": source_commit()
            } | versions | {
        "cpu": f"{platform.machine()} {llvmlite.binding.get_host_cpu_name()}", "blas": "; ".join(blas)}


def _posterior_dataset(values: dict[str, np.ndarray], design: Design, spec: PriorSpec) -> xr.Dataset:
    """Arrays with leading (chain, draw) axes -> posterior Dataset with named dims (arviz-base's converter)."""
    family = family_of(spec)
    dims_of = VAR_DIMS | family.var_dims(spec)
    dims = {name: ["lag"] if np.ndim(arr) - 2 != len(dims_of[name]) else list(dims_of[name])  # per-lag intercepts
            for name, arr in values.items()}
    used = {dim for names in dims.values() for dim in names}
    coords = {dim: coord for dim, coord in family.coords(spec).items() if dim in used}
    if "baseline_coef" in values or "baseline_level" in values:
        coords["knot"] = np.arange(1, spec.baseline_n_basis)
    data = {name: np.asarray(arr, dtype=np.float64) for name, arr in values.items()}
    ds = arviz_base.dict_to_dataset(data, dims=dims, coords=coords, inference_library=None)
    return ds.assign_coords(**{k: v for k, v in design.lag_coords().items() if k in ds.dims})


def data_groups(design: Design, spec: PriorSpec) -> dict[str, xr.Dataset]:
    """``observed_data`` and ``constant_data`` of a fit (everything needed to refit or predict).

    ``constant_data`` holds every frame (``stim`` (frame, y, x)), each fitted interval's
    ``duration`` and ``row`` (index among the intervals with a full history), and the
    ``baseline_basis`` (time, knot) of a spline or steps baseline, with spike history the counts of every
    interval, ``frame_counts`` (frame), and with the softplus nonlinearity its ``rate_unit`` (spikes/s).
    """
    t_all = design.frames.shape[0]
    observed = xr.Dataset({"counts": ("time", design.counts)}, coords={"time": design.time})
    extra = {}
    if spec.baseline_kind != "constant":
        extra["baseline_basis"] = (("time", "knot"), design.baseline_basis(spec.baseline_kind, spec.baseline_n_basis))
    if spec.history_lags:
        extra["frame_counts"] = ("frame", design.all_counts)
    if spec.nonlinearity == "softplus":
        extra["rate_unit"] = ((), rate_unit(spec, design), {"units": "spikes/s"})
    constant = xr.Dataset(
        {
            "stim": (("frame", "y", "x"), design.frames.reshape(t_all, design.ny, design.nx)),
            "duration": ("time", np.exp(design.offset)),
            "row": ("time", design.rows),
            **extra,
        },
        coords={"time": design.time, "y": np.arange(design.ny), "x": np.arange(design.nx)},
        attrs={"note": "stim holds every frame; interval time[k] uses frames k .. k + n_lags - 1 (oldest first)"},
    )
    return {"observed_data": observed, "constant_data": constant}


def assemble(
    values: dict[str, np.ndarray] | xr.Dataset,
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
    """Build the result DataTree (see the module docstring).

    ``values``: a sampler's posterior group (kept as it is, with the lag's units added to its coordinate), or
    arrays by variable name with leading (chain, draw) axes (converted by arviz-base).
    """
    if isinstance(values, xr.Dataset):
        posterior = values.assign_coords({k: v for k, v in design.lag_coords().items() if k in values.dims})
    else:
        posterior = _posterior_dataset(values, design, spec)
    groups = {"posterior": posterior, **data_groups(design, spec)}
    if sample_stats is not None:
        groups["sample_stats"] = sample_stats
    groups.update(extra_groups or {})
    tree = xr.DataTree.from_dict(groups)
    tree.attrs.update(
        bayesrf_spec=spec.to_json(),
        bayesrf_version=package_version(),
        stack_versions=json.dumps(stack_versions()),
        data_sha256=data_sha256,
        seed=-1 if seed is None else int(seed),
        method=method,
        sampler=sampler,
        n_lags=design.n_lags,
        n_obs=design.n_obs,
        n_dropped=design.n_dropped,
        frame_duration_s=design.frame_duration,
        session_start_s=design.session[0],
        session_stop_s=design.session[1],
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


def read_tree(path: str | Path) -> xr.DataTree:
    """Read any NetCDF DataTree into memory; a missing or unreadable file is a :class:`DataError`."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"no result file at {file}.")
    try:
        with xr.open_datatree(file, engine="h5netcdf") as tree:
            return tree.load()
    except Exception as exc:  # h5py/h5netcdf raise OSError, ValueError, KeyError...
        raise DataError(f"{file} could not be read as a NetCDF result ({type(exc).__name__}: {exc}).") from exc


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
    return check_result(read_tree(path), path, prior)


def check_result(result: xr.DataTree, where: str | Path, prior: PriorSpec | None = None) -> xr.DataTree:
    """Return ``result`` if it is a bayesrf fit (fitted with ``prior``, if given); else raise :class:`DataError`."""
    if result.attrs.get("kind") == SWEEP_KIND:
        raise DataError(f"{where} is a prior-sensitivity study; read it with bayesrf.sensitivity.load_sweep.")
    if "bayesrf_spec" not in result.attrs or "posterior" not in result.children:
        raise DataError(f"{where} is not a bayesrf result (no bayesrf_spec attribute or posterior group).")
    if prior is not None and PriorSpec.from_json(result.attrs["bayesrf_spec"]) != prior:
        raise DataError(
            f"{where} was fitted with prior spec {result.attrs['bayesrf_spec']}, not with {prior.to_json()}; "
            "refit or load without prior=."
        )
    return result


def predict(
    result: xr.DataTree,
    stim: xr.DataArray,
    duration: float | xr.DataArray | None = None,
    kind: str = "rate",
    seed: int | None = 0,
    baseline: str = "time",
) -> xr.DataArray:
    """Posterior predictive rates or counts for stimulus frames.

    Parameters
    ----------
    result : DataTree
        A fit (MAP, Laplace or NUTS).
    stim : DataArray (time, y, x)
        Frames, centred like the fitted ones; the first ``n_lags - 1``
        have no full history and get no prediction.
    duration : float or DataArray (time), seconds
        Needed for ``kind="counts"``; default the median fitted frame duration.
    kind : {"rate", "counts"}
        ``rate``: expected firing rate in spikes/s per draw; ``counts``: one
        Poisson draw of the count per posterior draw.
    seed : int
        Seed of the Poisson draws.
    baseline : {"time", "mean"}
        For fits with a spline or steps baseline: ``"time"`` evaluates the fitted drift at
        ``stim``'s ``time`` coordinate (seconds on the fit's clock; it must lie within
        the fitted session); ``"mean"`` uses its session average (the intercept), for
        frames from another session. Ignored for a constant baseline.

    Returns
    -------
    DataArray (chain, draw, time)
    """
    if kind not in ("rate", "counts"):
        raise DataError(f"kind must be 'rate' or 'counts'; got {kind!r}.")
    if baseline not in ("time", "mean"):
        raise DataError(f"baseline must be 'time' or 'mean'; got {baseline!r}.")
    post = result["posterior"].to_dataset()
    rf = post["rf"]
    L = rf.sizes["lag"]
    if stim.sizes.get("y") != rf.sizes["y"] or stim.sizes.get("x") != rf.sizes["x"]:
        raise DataError(f"stim must have y, x sizes {rf.sizes['y']}, {rf.sizes['x']}; got {dict(stim.sizes)}.")
    if stim.sizes["time"] < L:
        raise DataError(f"need at least {L} frames to predict with {L} lags; got {stim.sizes['time']}.")
    if post["intercept"].ndim == 3:
        raise DataError("predictions need a joint fit (per-lag fits have one intercept per lag).")
    if "history" in post:
        raise DataError("this fit has spike history: its rate depends on the counts before each interval, which new "
                        "frames do not have. Use bayesrf.posterior_predictive (one step ahead on the fitted data), or "
                        "fit without [history] to predict new frames.")
    frames = stim.transpose("time", "y", "x").values.reshape(stim.sizes["time"], -1)
    time = stim["time"].values[L - 1 :] if "time" in stim.coords else np.arange(L - 1, frames.shape[0])
    basis = _baseline_basis(result, time, "time" in stim.coords) if baseline == "time" else None
    rate = np.exp(log_rate_draws(post, frames, basis, unit=softplus_unit(result)))
    out = xr.DataArray(rate, dims=("chain", "draw", "time"), coords={"time": time},
                       attrs={"units": "spikes/s", "long_name": "predicted rate"})
    if kind == "rate":
        return out
    d = result.attrs["frame_duration_s"] if duration is None else duration
    d = np.asarray(d.values[L - 1 :] if isinstance(d, xr.DataArray) else d, dtype=float)
    loc = (rate * d).reshape(-1, rate.shape[-1])  # (chain * draw, time), as count_model() flattens
    counts = count_model(post).draw(loc, np.random.default_rng(seed)).reshape(rate.shape)
    return out.copy(data=counts).assign_attrs(units="spikes", long_name="predicted counts")


def _baseline_basis(result: xr.DataTree, time: np.ndarray, has_time: bool) -> np.ndarray | None:
    """The fit's baseline basis (spline or steps) at ``time`` (s), or None for a constant baseline."""
    if "baseline_coef" not in result["posterior"]:
        return None
    start, stop = float(result.attrs["session_start_s"]), float(result.attrs["session_stop_s"])
    kind = PriorSpec.from_json(result.attrs["bayesrf_spec"]).baseline_kind
    if not has_time or time.min() < start or time.max() > stop:
        where = "have no time coordinate" if not has_time else f"span {time.min():.3f}-{time.max():.3f} s"
        raise DataError(
            f"this fit has a {kind} baseline over {start:.3f}-{stop:.3f} s, and the frames {where}; pass frames "
            "with a time coordinate inside the fitted session, or baseline='mean' for the session-average rate."
        )
    n_basis = int(result["posterior"].sizes["knot"]) + 1
    return baseline_basis(time, (start, stop), kind, n_basis)


def softplus_unit(result: xr.DataTree) -> float | None:
    """The rate unit (spikes/s) of a softplus fit, None for the exp nonlinearity."""
    const = result["constant_data"]
    return float(const["rate_unit"]) if "rate_unit" in const else None


def log_rate_draws(post: xr.Dataset, frames: np.ndarray, basis: np.ndarray | None = None,
                   rows: np.ndarray | None = None, history: np.ndarray | None = None,
                   unit: float | None = None) -> np.ndarray:
    """The log-rate per second of every draw: ``intercept + sum_l rf_l . s_{t-l} + baseline + history``
    (exp nonlinearity), or the log of ``unit`` times its softplus.

    Parameters
    ----------
    post : Dataset
        Posterior with ``intercept`` (chain, draw), ``rf`` (chain, draw, lag, y, x) and,
        with a spline or steps baseline, ``baseline_coef`` (chain, draw, knot).
    frames : ndarray, shape (n_frames, n_pixels)
        Consecutive frames.
    basis : ndarray, shape (n_intervals, knot), optional
        Baseline basis (spline or steps) at the predicted intervals; None leaves the baseline at its mean.
    rows : ndarray of int, optional
        Which of the ``n_frames - n_lags + 1`` intervals with a full history to
        predict (default all of them).
    history : ndarray, shape (n_intervals, history_lag), optional
        Counts before each predicted interval (:func:`bayesrf.design.count_history`), for fits with spike history.
    unit : float, optional
        A softplus fit's rate unit (spikes/s, :func:`softplus_unit`); None for the exp nonlinearity.

    Returns
    -------
    ndarray, shape (chain, draw, n_intervals)
        Add the log frame durations to get the log expected counts.
    """
    rf = post["rf"]
    L = rf.sizes["lag"]
    W = rf.transpose("chain", "draw", "lag", "y", "x").values.reshape(rf.sizes["chain"], rf.sizes["draw"], L, -1)
    eta = post["intercept"].values[:, :, None] + shift_sum(np.einsum("tp,cdlp->cdtl", frames, W), L)
    if rows is not None:
        eta = eta[:, :, rows]
    if basis is not None:
        eta = eta + np.einsum("tk,cdk->cdt", basis, post["baseline_coef"].values)
    if history is not None:
        eta = eta + np.einsum("tk,cdk->cdt", history, post["history"].values)
    return eta if unit is None else log_rate(eta, "softplus", unit)


def design_from_result(result: xr.DataTree) -> Design:
    """Rebuild the :class:`~bayesrf.design.Design` a result was fitted on (no recording needed)."""
    const, obs, attrs = result["constant_data"], result["observed_data"], result.attrs
    stim = const["stim"].values
    return Design(
        frames=np.ascontiguousarray(stim.reshape(stim.shape[0], -1)),
        counts=obs["counts"].values.astype(np.int64),
        offset=np.log(const["duration"].values),
        n_lags=int(attrs["n_lags"]),
        ny=stim.shape[1],
        nx=stim.shape[2],
        time=obs["time"].values,
        frame_duration=float(attrs["frame_duration_s"]),
        rows=const["row"].values,
        session=(float(attrs["session_start_s"]), float(attrs["session_stop_s"])),
        all_counts=const["frame_counts"].values if "frame_counts" in const else None,
    )


def count_locations(result: xr.DataTree, max_draws: int = 500) -> tuple[xr.DataArray, CountModel]:
    """Location of every fitted interval's count per draw, ``exp(eta_t) d_t`` (spikes; the expected count for
    Poisson and negative binomial fits), with everything the fit used (frames, durations, baseline basis), and
    the fit's count distribution at the same draws; at most ``max_draws`` evenly thinned draws per chain.

    Returns
    -------
    (DataArray (chain, draw, time), CountModel)
        The CountModel's dispersion is flattened over (chain, draw) in the DataArray's order.
    """
    const = result["constant_data"]
    if "stim" not in const:
        raise DataError("this result has no stimulus (a stored population unit): restore it with "
                        "bayesrf.unit_result(store, unit, population).")
    post = result["posterior"].to_dataset()
    post = post.isel(draw=slice(None, None, max(1, post.sizes["draw"] // max_draws)))
    stim = const["stim"].values
    basis = const["baseline_basis"].values if "baseline_coef" in post else None
    history = None
    if "history" in post:  # one step ahead: given the observed counts before each interval
        history = count_history(const["frame_counts"].values, const["row"].values + int(result.attrs["n_lags"]) - 1,
                                post.sizes["history_lag"])
    eta = log_rate_draws(post, stim.reshape(stim.shape[0], -1), basis, const["row"].values, history,
                         softplus_unit(result))
    loc = xr.DataArray(np.exp(eta + np.log(const["duration"].values)), dims=("chain", "draw", "time"),
                       coords={"chain": post.chain, "draw": post.draw, "time": const["time"]},
                       attrs={"units": "spikes", "long_name": "count location"})
    return loc, count_model(post)


def posterior_predictive(result: xr.DataTree, seed: int | None = 0, max_draws: int = 500) -> xr.DataTree:
    """Add a ``posterior_predictive`` group: simulated counts of the fitted intervals.

    Uses everything the fit used (frames, durations, baseline basis; with spike history, the observed counts
    before each interval: the replicates are one step ahead). At most
    ``max_draws`` evenly thinned draws per chain are used.

    Returns
    -------
    DataTree
        A new tree (the input is not modified) with ``posterior_predictive.counts``
        (chain, draw, time).
    """
    loc, counts_model = count_locations(result, max_draws)
    draws = counts_model.draw(loc.values.reshape(-1, loc.sizes["time"]), np.random.default_rng(seed))
    counts = loc.copy(data=draws.reshape(loc.shape)).assign_attrs(long_name="counts")
    out = result.copy()
    ppc = xr.Dataset({"counts": counts.reset_coords(drop=True)})
    out["posterior_predictive"] = xr.DataTree(ppc)
    return out
