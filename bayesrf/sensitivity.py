"""Prior-sensitivity studies: one resumable sweep over priors, prior scales and likelihoods.

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
scale (``"ridge@0.01"``), plus ``+family`` for a likelihood other than Poisson (``"local+com-poisson"``), ``+history<k>`` for spike
history (``"local+com-poisson+history3"``) and ``+steps<n>`` for a steps baseline. :func:`fit_result` rebuilds a complete result of one
fit, usable with every function of :mod:`bayesrf.posterior` and :mod:`bayesrf.plots`.

**The held-out split.** By default every fit sees the same 80 % of the
intervals and is scored on the other 20 %: interleaved contiguous blocks of
50 frames (:func:`bayesrf.block_split`), so held-out intervals lie inside the
session and the slow baseline is interpolated, not extrapolated. PSIS-LOO
(arviz-stats) uses the fitted intervals. With ~1,500 weights for ~1,200
intervals many Pareto k values are high and LOO is then unreliable; the
held-out log predictive density is the check that does not depend on it.

The comparison of a sweep's fits is :mod:`bayesrf.comparison`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .errors import DataError, SpecError, recorded
from .families import family_of
from .heldout import block_split, heldout_pointwise
from .inference import data_checksum, sample
from .nuts import sampler_tune
from .posterior import SAMPLE_DIMS
from .priors import PriorSpec, load_prior
from .results import SWEEP_KIND, read_tree, save

__all__ = ["DEFAULT_PRIORS", "DEFAULT_SCALES", "KIND", "cv_alphas", "fit_result", "load_sweep", "sensitivity", "sweep_specs"]

KIND = SWEEP_KIND
DEFAULT_PRIORS = ("ridge", "lasso", "ridge-hier", "lasso-hier", "smooth", "local", "rank1")
DEFAULT_SCALES = (0.003, 0.01, 0.03)


def sweep_specs(priors: Sequence[str | PriorSpec], scales: Sequence[float] | None,
                likelihoods: Sequence[str] | None = None) -> dict[str, PriorSpec]:
    """The fits of a sweep, by label: fixed-scale priors once per scale, the others once; each under every
    count distribution of ``likelihoods`` (default: the spec's own), labelled ``+family`` unless Poisson, and
    ``+softplus`` for that nonlinearity, ``+history<k>`` with ``k`` lags of spike history (``+history<k>rc<m>`` on
    ``m`` raised cosines), ``+steps<n>`` for a baseline of ``n`` Student-t steps (``[baseline] kind = "steps"``).

    Examples
    --------
    >>> list(sweep_specs(["ridge", "ridge-hier"], [0.01, 0.1]))
    ['ridge@0.01', 'ridge@0.1', 'ridge-hier']
    >>> list(sweep_specs(["local"], None, ["poisson", "com-poisson"]))
    ['local', 'local+com-poisson']
    >>> list(sweep_specs([load_prior("ridge", ["history.lags=12", "history.n_basis=4"])], None))
    ['ridge+history12rc4']
    >>> list(sweep_specs(["local", load_prior("local", ["baseline.kind=steps", "baseline.n_basis=32"])], None))
    ['local', 'local+steps32']
    """
    out: dict[str, PriorSpec] = {}
    for prior in priors:
        spec = prior if isinstance(prior, PriorSpec) else load_prior(prior)
        for family in likelihoods or [spec.likelihood]:
            base = load_prior(spec, {"likelihood": {"family": family}})
            history = f"+history{spec.history_lags}" + (f"rc{spec.history_basis}" if spec.history_basis else "")
            suffix = (("" if family == "poisson" else f"+{family}") + ("+softplus" if spec.nonlinearity == "softplus" else "")
                      + (history if spec.history_lags else "")
                      + (f"+steps{spec.baseline_n_basis}" if spec.baseline_kind == "steps" else ""))
            if spec.scale is None or not scales:  # no fixed scale to vary
                out[spec.name + suffix] = base
                continue
            for scale in scales:
                out[f"{spec.name}@{scale:g}{suffix}"] = load_prior(base, {"prior": {"scale": float(scale)}})
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
    if heldout is not None:  # pointwise log-likelihoods stay float64: LOO and lpd sum thousands of them
        out["heldout"] = xr.DataTree(xr.Dataset({"counts": heldout}))
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
    likelihoods: Sequence[str] | None = None,
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
    likelihoods : sequence of str, optional
        Count distributions (:data:`bayesrf.observation.LIKELIHOODS`) to fit every prior under, so that a
        study compares likelihoods as well as priors; default each spec's own.
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
    sampler_tune(sampler, tune)  # refuse an unknown sampler before any fit
    specs = sweep_specs(priors, scales, likelihoods)
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
        tree, notes = recorded(lambda: sample(data, specs[label], lags=lags, draws=draws, tune=tune, chains=chains,
                                              seed=seed, sampler=sampler, keep=~test, estimates=False))
        tree.attrs["warnings"] = notes  # recorded with the fit (diagnostics also as numbers), not silenced
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
    for name, l1_ratio, prior_family in (("ridge", 0.0, "normal"), ("lasso", 1.0, "laplace")):
        alphas = family_of(prior_family).alpha(grid, n)  # the prior scales' MAP-equivalent penalties
        fit = GeneralizedLinearRegressorCV(family="poisson", l1_ratio=[l1_ratio], alphas=alphas,
                                           cv=5).fit(X, design.counts, offset=design.offset)
        index = int(np.argmin(np.abs(alphas - fit.alpha_)))
        out[f"cv_alpha_{name}"] = float(fit.alpha_)
        out[f"cv_scale_{name}"] = float(grid[index])
        out[f"cv_at_edge_{name}"] = int(index in (0, grid.size - 1))
    return out
