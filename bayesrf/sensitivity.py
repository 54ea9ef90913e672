"""Prior-sensitivity studies: one sweep over priors and prior scales, and its comparison.

:func:`sensitivity` fits every (prior, scale) combination on the same data
(hierarchical priors once each: they learn their scale) and keeps all fits in
one DataTree, written after every fit so an interrupted sweep resumes where it
stopped::

    /                      attrs: kind="bayesrf-sensitivity", settings (JSON), glum CV alphas
    /data                  stim (frame, y, x) shared by all fits; test (time): held-out mask
    /fits/<label>/...      one fit: posterior, sample_stats, log_likelihood, log_prior
                           (summed per variable), observed_data, constant_data (without
                           stim) and heldout (log-likelihood of the held-out intervals)

Labels are the spec name, plus ``@scale`` for a fixed-scale prior at that
scale (``"ridge@0.01"``). :func:`fit_result` rebuilds a complete result of one
fit, usable with every function of :mod:`bayesrf.posterior` and :mod:`bayesrf.plots`.

**The held-out split.** By default every fit sees the same 80 % of the
intervals and is scored on the other 20 %: interleaved contiguous blocks of
50 frames (:func:`bayesrf.block_split`), so held-out intervals lie inside the
session and the slow baseline is interpolated, not extrapolated. PSIS-LOO
(arviz-stats) uses the fitted intervals. With ~1,500 weights for ~1,200
intervals many Pareto k values are high and LOO is then unreliable; the
held-out log predictive density is the check that does not depend on it.

:func:`compare` turns a sweep into one Dataset along dim ``fit``: posterior
mean and SD of the RF, SVD time course and spatial map (signs aligned across
fits), explained variance, distances to a reference fit, ELPD-LOO and held-out
log predictive density with standard errors, power-scaling sensitivity
(arviz-stats ``psense``) of each variable, and the learned scales of the
hierarchical priors. :func:`report` names the best-supported prior.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import arviz_stats as azs
import numpy as np
import xarray as xr

from .errors import BayesRFWarning, DataError, SpecError
from .heldout import block_split, heldout_pointwise, lpd
from .inference import SAMPLERS, data_checksum, sample
from .model import RF_PRIOR_TERMS
from .posterior import SAMPLE_DIMS, hdi_bounds, posterior_svd
from .priors import PriorSpec, load_prior
from .results import SWEEP_KIND, read_tree, save
from .svd import rf_svd

__all__ = [
    "DEFAULT_PRIORS", "DEFAULT_SCALES", "KIND", "compare", "cv_alphas", "fit_result", "format_report",
    "load_sweep", "report", "sensitivity", "sweep_specs"
]

KIND = SWEEP_KIND
DEFAULT_PRIORS = ("ridge", "lasso", "ridge-hier", "lasso-hier", "smooth", "local", "rank1")
DEFAULT_SCALES = (0.003, 0.01, 0.03)
PSENSE_THRESHOLD = 0.05
VARIABLES = ("intercept", "rf", "rf_scale", "baseline_coef")


def sweep_specs(priors: Sequence[str | PriorSpec], scales: Sequence[float] | None) -> dict[str, PriorSpec]:
    """The fits of a sweep, by label: fixed-scale priors once per scale, the others once.

    Examples
    --------
    >>> list(sweep_specs(["ridge", "ridge-hier"], [0.01, 0.1]))
    ['ridge@0.01', 'ridge@0.1', 'ridge-hier']
    """
    out: dict[str, PriorSpec] = {}
    for prior in priors:
        spec = prior if isinstance(prior, PriorSpec) else load_prior(prior)
        if spec.hierarchical or spec.family == "flat" or not scales:
            out[spec.name] = spec
            continue
        for scale in scales:
            out[f"{spec.name}@{scale:g}"] = load_prior(spec, {"prior": {"scale": float(scale)}})
    if not out:
        raise SpecError("a sensitivity study needs at least one prior.")
    return out


def _settings(data: xr.Dataset, test: np.ndarray, **options: Any) -> dict[str, Any]:
    mask = hashlib.sha256(np.packbits(test).tobytes()).hexdigest()
    return {"data_sha256": data_checksum(data), "test_sha256": mask, **options}


def fit_result(sweep: xr.DataTree, label: str) -> xr.DataTree:
    """A complete result (as from :func:`bayesrf.sample`) of one fit of a sweep."""
    if label not in sweep["fits"].children:
        raise DataError(f"no fit {label!r} in this sweep; it has {list(sweep['fits'].children)}.")
    tree = sweep["fits"][label].copy()
    const = tree["constant_data"].to_dataset().assign(stim=sweep["data"]["stim"])
    tree["constant_data"] = xr.DataTree(const)
    return tree


def _compact(tree: xr.DataTree, heldout: xr.DataArray | None) -> xr.DataTree:
    """Drop what the sweep stores once or can recompute: shared frames, ``rf_z``, per-element log-priors."""
    out = tree.copy()
    out["posterior"] = xr.DataTree(tree["posterior"].to_dataset().drop_vars("rf_z", errors="ignore"))
    out["constant_data"] = xr.DataTree(tree["constant_data"].to_dataset().drop_vars("stim"))
    log_prior = tree["log_prior"].to_dataset()
    out["log_prior"] = xr.DataTree(log_prior.map(lambda v: v.sum([d for d in v.dims if d not in SAMPLE_DIMS])))
    out["log_likelihood"] = xr.DataTree(tree["log_likelihood"].to_dataset().astype(np.float32))
    if heldout is not None:
        out["heldout"] = xr.DataTree(xr.Dataset({"counts": heldout.astype(np.float32)}))
    return out


def _write(sweep: xr.DataTree, out: Path) -> None:
    """Atomic write: an interrupted save never corrupts the file of the fits done so far."""
    partial = out.with_name(out.name + ".partial")
    save(sweep, partial)
    os.replace(partial, out)


def load_sweep(path: str | Path) -> xr.DataTree:
    """Read a sweep written by :func:`sensitivity`."""
    tree = read_tree(path)
    if tree.attrs.get("kind") != KIND:
        raise DataError(f"{path} is not a bayesrf sensitivity file (attrs kind != {KIND!r}).")
    return tree


def _resume(out: Path | None, settings: dict[str, Any], data_node: xr.Dataset) -> xr.DataTree:
    if out is not None and out.exists():
        sweep = load_sweep(out)
        stored = json.loads(sweep.attrs["settings"])
        if stored != settings:
            changed = sorted(k for k in settings if stored.get(k) != settings[k])
            raise DataError(f"{out} holds a sweep with other settings ({', '.join(changed)} differ); "
                            "choose another output file or delete it to start over.")
        return sweep
    sweep = xr.DataTree.from_dict({"data": data_node, "fits": xr.Dataset()})
    sweep.attrs.update(kind=KIND, settings=json.dumps(settings, sort_keys=True))
    return sweep


def _say(message: str, progress: bool) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def sensitivity(
    data: xr.Dataset,
    priors: Sequence[str | PriorSpec] = DEFAULT_PRIORS,
    scales: Sequence[float] | None = DEFAULT_SCALES,
    lags: int = 5,
    draws: int = 250,
    tune: int = 500,
    chains: int = 4,
    seed: int | None = 0,
    sampler: str = "nutpie",
    test: np.ndarray | None = None,
    out: str | Path | None = None,
    cv: bool = True,
    progress: bool = True,
) -> xr.DataTree:
    """Fit every (prior, scale) combination on the same data; resumable.

    Parameters
    ----------
    data : xarray.Dataset
        A recording.
    priors : sequence of str or PriorSpec
        Spec names, paths or objects; a study is this list, not new code.
    scales : sequence of float, optional
        Prior scales (sigma of a Normal, b of a Laplace; log-rate per unit contrast)
        for every fixed-scale prior; ``None`` keeps each spec's own scale.
        Hierarchical priors are fitted once.
    lags, draws, tune, chains, seed, sampler
        As for :func:`bayesrf.sample` (smaller draw counts by default: a sweep compares
        priors; refit the chosen one with ``bayesrf fit`` for final numbers).
    test : ndarray of bool (time,), optional
        Held-out intervals, left out of every fit; default :func:`bayesrf.block_split`
        (20 %). An all-False mask fits everything and skips the held-out score.
    out : str or Path, optional
        File to write after every fit. If it exists with the same settings, the
        fits already in it are kept and only the missing ones run.
    cv : bool
        Also record the alphas that glum's 5-fold cross-validation picks for a
        Poisson ridge and lasso on the training intervals (and their prior scales).
    progress : bool
        Print one line per fit to stderr.

    Returns
    -------
    xarray.DataTree
        The sweep (see the module docstring); analyse it with :func:`compare`.
    """
    if sampler not in SAMPLERS:
        raise SpecError(f"sampler must be one of {SAMPLERS}; got {sampler!r}.")
    specs = sweep_specs(priors, scales)
    n_time = data.sizes["time"]
    test = block_split(n_time) if test is None else np.asarray(test, dtype=bool)
    if test.shape != (n_time,):
        raise DataError(f"test must be a boolean mask of shape ({n_time},); got {test.shape}.")
    path = None if out is None else Path(out)
    settings = _settings(data, test, lags=lags, draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler)
    data_node = xr.Dataset({"stim": (("frame", "y", "x"), data["stim"].values), "test": ("time", test)},
                           coords={"time": data["time"].values})
    sweep = _resume(path, settings, data_node)
    todo = [label for label in specs if label not in sweep["fits"].children or _changed(sweep, label, specs[label])]
    if len(todo) < len(specs):
        _say(f"resuming {path}: {len(specs) - len(todo)} of {len(specs)} fits already done", progress)
    for i, label in enumerate(todo, start=len(specs) - len(todo) + 1):
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BayesRFWarning)  # recorded in the fit's attrs and reported below
            tree = sample(data, specs[label], lags=lags, draws=draws, tune=tune, chains=chains, seed=seed,
                          sampler=sampler, keep=~test)
        held = heldout_pointwise(tree, data, test) if test.any() else None
        sweep["fits"][label] = _compact(tree, held)
        if path is not None:
            _write(sweep, path)
        flag = "" if tree.attrs["diagnostics_ok"] else "  (diagnostics failed: see the report)"
        _say(f"[{i}/{len(specs)}] {label}: {time.perf_counter() - started:.1f} s, max R-hat "
             f"{tree.attrs['max_rhat']:.3f}, min bulk ESS {tree.attrs['min_ess_bulk']:.0f}{flag}", progress)
    if cv and "cv_alpha_ridge" not in sweep.attrs:
        _say("glum cross-validation of ridge and lasso alphas ...", progress)
        sweep.attrs.update(cv_alphas(data, lags, keep=~test))
        if path is not None:
            _write(sweep, path)
    return sweep


def _changed(sweep: xr.DataTree, label: str, spec: PriorSpec) -> bool:
    """Whether the stored fit ``label`` was made under another spec (e.g. an edited TOML file): it is refitted."""
    return PriorSpec.from_json(sweep["fits"][label].attrs["bayesrf_spec"]) != spec


def cv_alphas(data: xr.Dataset, lags: int = 5, keep: np.ndarray | None = None,
              scales: np.ndarray | None = None) -> dict[str, float]:
    """Penalties chosen by glum's 5-fold CV (contiguous folds) for Poisson ridge and lasso.

    The model is the constant-baseline LNP of :func:`bayesrf.fit_ml`. The path
    is given as prior scales (default 8 log-spaced from 0.001 to 0.1 log-rate
    per unit contrast; wider priors are slow to fit and far from useful RFs) converted to alphas with :func:`bayesrf.priors.alpha_for`'s
    mapping (``alpha = 1/(n sigma^2)`` for ridge, ``1/(n b)`` for lasso), so the
    choice reads directly as a prior scale. Returns ``cv_alpha_{ridge,lasso}``,
    ``cv_scale_{ridge,lasso}``, and ``cv_at_edge_*`` = 1 when the chosen scale
    is the end of the path.
    """
    from glum import GeneralizedLinearRegressorCV

    from .design import make_design

    design = make_design(data, lags, keep)
    X, n = design.matrix(), design.n_obs
    grid = np.geomspace(1e-3, 0.1, 8) if scales is None else np.sort(np.asarray(scales, dtype=float))
    out: dict[str, float] = {}
    for name, l1_ratio, alphas in (("ridge", 0.0, 1.0 / (n * grid**2)), ("lasso", 1.0, 1.0 / (n * grid))):
        fit = GeneralizedLinearRegressorCV(family="poisson", l1_ratio=[l1_ratio], alphas=alphas,
                                           cv=5).fit(X, design.counts, offset=design.offset)
        index = int(np.argmin(np.abs(alphas - fit.alpha_)))
        out[f"cv_alpha_{name}"] = float(fit.alpha_)
        out[f"cv_scale_{name}"] = float(grid[index])
        out[f"cv_at_edge_{name}"] = int(index in (0, grid.size - 1))
    return out


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


def compare(sweep: xr.DataTree, reference: str | None = None, prob: float = 0.94, n_components: int = 2) -> xr.Dataset:
    """What changes with the prior, and which prior the data support.

    Parameters
    ----------
    sweep : DataTree
        From :func:`sensitivity` or :func:`load_sweep`.
    reference : str, optional
        Label of the fit the others are measured against; default the best-supported
        fit (highest held-out log predictive density, or ELPD-LOO without a held-out set).
    prob : float
        Probability of the HDIs.
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
    lines = [f"{'fit':<14}{'ELPD-LOO':>10}{'±SE':>6}{'ΔELPD':>8}{'±dSE':>6}{'bad k':>6}{'held-out':>10}{'±SE':>6}"
             f"{'Δheld':>7}{'dist':>6}{'EV1':>5}{'R-hat':>7}  prior-sensitive rf"]
    for f in rep["fits"]:
        ps = f["psense"]
        rf = f"{100 * ps['rf']['prior_share']:.0f} %" if "rf" in ps else "-"
        lines.append(
            f"{f['label']:<14}{f['elpd_loo']:>10.1f}{f['elpd_loo_se']:>6.1f}{f['elpd_diff']:>8.1f}{f['elpd_diff_se']:>6.1f}"
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
    failed = [f["label"] for f in rep["fits"] if f["max_rhat"] > 1.01 or f["n_divergent"]]
    if failed:
        lines.append(f"sampling diagnostics failed for {', '.join(failed)} (R-hat > 1.01 or divergences): "
                     "rerun with more draws/tune before relying on them.")
    return "\n".join(lines)
