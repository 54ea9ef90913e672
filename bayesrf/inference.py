"""MAP, Laplace-approximate and NUTS posteriors, all in one DataTree schema.

* :func:`fit_map` — the posterior mode. For fixed-scale priors it solves the
  same convex problem as :func:`bayesrf.fit_ml` (Newton for Normal/flat,
  proximal Newton for Laplace, which handles the kink at 0) on the PyMC
  model's exact log-posterior; for hierarchical priors it maximises the
  model's log-density in its unconstrained, non-centred parameters with
  L-BFGS. That joint mode of a hierarchical model tends to large scales
  (the weights' prior is N(0, 1) on ``rf_z``), unlike the posterior: on the
  real neuron it gives ``rf_scale`` ~0.2 where NUTS gives 0.002-0.012 (and
  ``ridge-hier``'s type-II MAP, below, 0.001-0.007). Use
  :func:`sample` for ``lasso-hier`` and ``horseshoe``. Structured (``gp``) priors
  and ``ridge-hier`` add the log-determinant of the Laplace-approximate evidence,
  so their hyperparameters are at their type-II MAP (empirical Bayes, as ASD/ALD
  fit them) and the weights at their mode given those
  (:meth:`bayesrf.families.Family.evidence_term`).
* :func:`sample` — NUTS with nutpie (default) or PyMC's sampler, started at
  the MAP (nutpie's default U(-1, 1) jitter makes the log-rate overflow);
  Laplace priors are sampled in their smooth exponential-difference form
  (see :func:`bayesrf.build_model`), log-densities use ``pm.Laplace``; or
  ``method="laplace"``: a Gaussian at the MAP with the exact Hessian.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from .design import Design, make_design
from .errors import BayesRFWarning, FitError, SpecError
from .families import FAMILIES, NutsForm, family_of
from .laplace import laplace_draws
from .model import build_model, link_start, set_baseline_start
from .nuts import (POSTERIOR_VARS, add_log_densities, chain_processes, checked_variables, curvature_scale,
                   hierarchical_start, log_density_gradient, map_pymc, model_key, pilot_disagreement, run_nuts,
                   sampler_tune, values_function)
from .ml import fit_block
from .observation import truncation_warning
from .penalized import n_baseline, scaled_penalty, solve_blocks, solve_full, split_theta
from .priors import DEFAULT_PRIOR, PriorSpec, load_prior
from .diagnostics import check_diagnostics
from .results import assemble

__all__ = ["METHODS", "data_checksum", "fit_map", "map_values", "pilot", "point_estimates", "poisson_only", "sample",
           "start_point"]

METHODS = ("nuts", "laplace")


def _prepare(data: xr.Dataset, prior: str | PriorSpec, lags: int, keep: np.ndarray | None = None) -> tuple[Design, PriorSpec, str]:
    spec = prior if isinstance(prior, PriorSpec) else load_prior(prior)
    return make_design(data, lags, keep), spec, data_checksum(data)


def poisson_only(spec: PriorSpec, what: str, instead: str = "bayesrf.sample(..., method='nuts')") -> None:
    """Laplace fits use penalised Poisson ML's Hessian: refuse other likelihoods, the softplus, spike history and
    the Student-t jumps of a steps baseline, naming what to call ``instead``."""
    if not spec.penalized_glm:
        raise SpecError(f"{what} fits the Poisson likelihood with the exp nonlinearity, without spike history and "
                        f"without a steps baseline only (penalised Poisson ML); prior {spec.name!r} has likelihood "
                        f"{spec.likelihood!r}, nonlinearity {spec.nonlinearity!r}, {spec.history_lags} history lag(s) "
                        f"and baseline {spec.baseline_kind!r}: sample its posterior with {instead}.")


def data_checksum(data: xr.Dataset) -> str:
    """sha256 of the source file, or of the stim/counts/duration arrays of an in-memory recording.

    A unit of a population file (a ``unit`` coordinate of size 1) gets the sha256 of the file's
    checksum and its unit id, so that every unit of one file has its own checksum.
    """
    if "sha256" in data.attrs:
        unit = data.coords.get("unit")
        if unit is None or unit.size != 1:
            return str(data.attrs["sha256"])
        return hashlib.sha256(f"{data.attrs['sha256']}:unit={unit.values.ravel()[0]!r}".encode()).hexdigest()
    digest = hashlib.sha256()
    for name in ("stim", "counts", "duration"):
        digest.update(np.ascontiguousarray(data[name].values).tobytes())
    return digest.hexdigest()


def map_values(design: Design, spec: PriorSpec, per_lag: bool) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Posterior mode of ``design``'s data under ``spec``, as arrays by variable name.

    Fixed-scale priors with the Poisson likelihood are solved as the equivalent penalised GLM (one
    block, or one per lag when ``per_lag``); hierarchical and structured priors, other likelihoods
    (:mod:`bayesrf.observation`) and spike history, by L-BFGS-B on the PyMC log-density in its unconstrained parameters
    (a dispersion's mode is that of its log, the sampler's coordinate). Returns ``(values, info)``: ``values`` maps ``intercept``, ``rf``
    (lag, y, x) and any hyperparameters to arrays; ``info`` holds the solver's name,
    convergence flag, iteration count and objective.
    """
    if spec.hierarchical or not spec.penalized_glm:
        if per_lag:
            raise SpecError("per_lag MAP is only defined for fixed-scale priors, the Poisson likelihood, the exp "
                            "nonlinearity and no spike history.")
        model = build_model(design, spec)
        start, values_of = _mode_start(model, design, spec), values_function(model)
        information = family_of(spec).mode_information(design, spec, values_of(start))
        if information is None:
            point, res = map_pymc(model, start)
            values, info = values_of(point), {"solver": "L-BFGS-B on the PyMC log-density"}
        else:
            values, res, info = _evidence_mode(model, design, spec, start, information, values_of)
        if not res.success:
            warnings.warn(f"L-BFGS-B on the log-posterior stopped before converging after {res.nit} iterations "
                          f"({res.message}); the MAP may be inaccurate. Compare with bayesrf.sample's posterior.",
                          BayesRFWarning, stacklevel=3)
        objective = "log_posterior" if information is None else "log_posterior_plus_evidence_term"
        info |= {"converged": int(res.success), "n_iter": int(res.nit), objective: float(-res.fun)}
        return values, info
    sols = solve_blocks(design, spec, per_lag)
    thetas = [s.theta for s in sols]
    if per_lag:
        if n_baseline(spec):
            raise SpecError("per_lag fits take a constant baseline; set baseline.kind = \"constant\".")
        shape = (design.n_lags, design.ny, design.nx)
        values = {"intercept": np.array([t[0] for t in thetas]), "rf": np.stack([t[1:] for t in thetas]).reshape(shape)}
    else:
        values = split_theta(thetas[0], design, spec)
    info = {"solver": sols[0].solver, "converged": int(all(s.converged for s in sols)),
            "n_iter": int(sum(s.n_iter for s in sols)), "neg_log_posterior_kernel": float(sum(s.objective for s in sols))}
    return values, info


EVIDENCE_ROUNDS = 4
"""At most this many rounds of :func:`_evidence_mode` (each an L-BFGS run from the last one's mode)."""
EVIDENCE_TOL = 0.01
""":func:`_evidence_mode` stops when a round moves the RF by less than this fraction of its norm."""
EVIDENCE_ROUND_STOP = (1e-8, 1e-2)
"""``ftol`` and ``restart_gain`` (nats) of :func:`bayesrf.nuts.map_pymc` in the rounds of :func:`_evidence_mode`,
whose modes only set the next information; its last run, at the last information, converges with the defaults.
With the log density compiled once for all rounds, at 40 x 40 px x 8 lags from 20,000 frames on 2 cores (seed 0,
medians of 3 runs, ``docs/map_scaling.json``'s ``type2_session64``): ``smooth`` 34.0 -> 25.5 s, ``local`` 50.0 ->
31.0 s, ``rank1`` 25.2 -> 23.2 s; the RF within 0.03 %, 0.5 % and 0.1 % of that of rounds each run to convergence,
its error against the truth 0.0347 -> 0.0347, 0.0034 -> 0.0036, 0.0047 -> 0.0047."""


def _evidence_mode(model: pm.Model, design: Design, spec: PriorSpec, start: dict[str, np.ndarray],
                   information: np.ndarray, values_of: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
                   ) -> tuple[dict[str, np.ndarray], Any, dict[str, Any]]:
    """The mode of ``model``'s log density plus its family's evidence term
    (:meth:`bayesrf.families.Family.evidence_term`): the hyperparameters at
    their Laplace-approximate type-II MAP, the weights at their mode given them.

    A structured prior's information ``t_k`` depends on the envelope and a rank-k time course, so it is held fixed in
    each round (``information``, at ``start``, in the first) and recomputed at the round's mode
    (:meth:`bayesrf.families.Family.mode_information`) until it does not change (``ridge-hier``'s never does), a round
    moves the RF by less than :data:`EVIDENCE_TOL` of its norm, or :data:`EVIDENCE_ROUNDS` rounds; warns if it
    still moves. The rounds stop L-BFGS early (:data:`EVIDENCE_ROUND_STOP`); a last run from the last round's mode, at
    its information, converges. Every run after the first is preconditioned by the family's
    :meth:`~bayesrf.families.Family.mode_scale` at the last mode and its information.
    ``values_of`` is :func:`bayesrf.nuts.values_function` of ``model``. Returns the values, that run's L-BFGS result
    (``nit`` summed over all runs) and info (``solver``, ``evidence_rounds``).
    """
    with model:
        data = pm.Data("rf_information", information)
        pm.Potential("rf_evidence", family_of(spec).evidence_term(spec, data, information.shape))
    point, rf, n_iter, compiled = start, None, 0, log_density_gradient(model)
    ftol, restart_gain = EVIDENCE_ROUND_STOP
    family, scale = family_of(spec), None  # the first round's information is a guess at the start: no preconditioner
    for rounds in range(1, EVIDENCE_ROUNDS + 1):
        point, res = map_pymc(model, point, compiled, ftol=ftol, restart_gain=restart_gain, scale=scale)
        values, n_iter = values_of(point), n_iter + res.nit
        moved = np.inf if rf is None else np.linalg.norm(values["rf"] - rf) / max(np.linalg.norm(values["rf"]), 1e-300)
        if moved < EVIDENCE_TOL or rounds == EVIDENCE_ROUNDS:
            break
        rf, information = values["rf"], family.mode_information(design, spec, values)
        if np.array_equal(information, model["rf_information"].get_value()):  # ridge-hier's: fixed, nothing to settle
            moved = 0.0
            break
        model.set_data("rf_information", information)
        scale = _preconditioner(model, compiled, spec, point, values, information, scale)
    if moved >= EVIDENCE_TOL:
        warnings.warn(f"the type-II MAP's hyperparameters had not settled after {EVIDENCE_ROUNDS} rounds (the last "
                      f"moved the RF by {moved:.1%} of its norm); compare with bayesrf.sample's posterior.",
                      BayesRFWarning, stacklevel=4)
    scale = _preconditioner(model, compiled, spec, point, values, information, scale)
    point, res = map_pymc(model, point, compiled, scale=scale)
    res.nit += n_iter
    return values_of(point), res, {
        "solver": "L-BFGS-B on the PyMC log-density + Laplace evidence (type-II MAP)", "evidence_rounds": rounds}


def _preconditioner(model: pm.Model, compiled: Callable[..., list[np.ndarray]], spec: PriorSpec,
                    point: dict[str, np.ndarray], values: dict[str, np.ndarray], information: np.ndarray,
                    last: dict[str, np.ndarray] | None) -> dict[str, np.ndarray] | None:
    """The units of :func:`_evidence_mode`'s L-BFGS after its first round (:func:`bayesrf.nuts.map_pymc`'s
    ``scale``): the family's coefficients at their posterior SD given ``values`` and the ``information`` there
    (:meth:`~bayesrf.families.Family.mode_scale`), the other variables as ``last`` had them or, the first time, at
    their curvature at ``point`` (:func:`bayesrf.nuts.curvature_scale`). None when the family gives no scale.

    Measured at 40 x 40 px x 8 lags from 20,000 frames (seed 0, 2 cores, one run each, session 67), log-density and
    gradient evaluations after the first round (which it leaves as it was: 308, 414 and 1,254): ``local`` 487 -> 130,
    ``smooth`` 239 -> 158, ``rank1`` 56 -> 59 (+ 18, 13 and 20 for the curvature); the second round, whose objective
    is the same with and without, ended 0.07, 0.06 and 0.17 nats higher with it (without it ``rank1``'s stopped in a
    failed line search); the RF moved by 0.05 %, 0.02 % and 0.22 % of its norm, its error against the truth 0.00343 ->
    0.00342, 0.03475 -> 0.03475, 0.00476 -> 0.00473; on a 6 x 5 px neuron fitted with 2 lags (``tests/conftest.py``'s
    ``small_sim``) ``local`` 160 -> 109. Two variants did worse: ``rf_z`` alone in these units (the other variables as
    they are) needed 314 evaluations after ``local``'s first round at 40 x 40 px but 412 on the small neuron, where
    its final run crawled along a length scale the data do not determine; preconditioned from the first round,
    whose information is a guess at the start, ``local`` at 40 x 40 px stopped early and ended at another mode
    (error 0.194)."""
    coefficients = family_of(spec).mode_scale(spec, values, information)
    if coefficients is None:
        return None
    return (last if last is not None else curvature_scale(model, compiled, point, skip=coefficients)) | coefficients


def _mode_start(model: pm.Model, design: Design, spec: PriorSpec) -> dict[str, np.ndarray]:
    """Start of L-BFGS on the PyMC log-density: :func:`bayesrf.nuts.hierarchical_start`, or for a fixed-scale
    prior with another likelihood or spike history, the Poisson MAP (:func:`start_point`)."""
    if spec.hierarchical:
        return hierarchical_start(model, design, spec)
    return start_point(model, design, spec, seed=None)


def fit_map(
    data: xr.Dataset,
    prior: str | PriorSpec = "ridge",
    lags: int = 5,
    per_lag: bool = False,
    keep: np.ndarray | None = None,
    estimates: bool = True,
) -> xr.DataTree:
    """Posterior mode (MAP) of the RF model, as a one-chain, one-draw posterior.

    For ``ridge``/``lasso``/``flat`` specs the MAP equals the penalised ML fit
    of :func:`bayesrf.fit_ml` at ``alpha = bayesrf.priors.alpha_for(spec, n_obs)``
    (the intercept prior adds its own small quadratic term; ``flat`` intercepts
    make the match exact). ``lasso-hier`` and ``horseshoe`` give the joint mode over
    weights and scales, which overfits; structured (``gp``) priors and ``ridge-hier`` give
    the type-II MAP: their hyperparameters maximise the Laplace-approximate evidence (its
    Hessian taken as diagonal in the prior's cosine basis, :func:`bayesrf.structured.evidence_term`,
    or in the pixels for ``ridge-hier``), the weights are the mode given them (attrs
    ``evidence_rounds``: how often the information was recomputed at the mode, see
    :data:`EVIDENCE_ROUNDS`).

    Parameters
    ----------
    data : xarray.Dataset
        A recording.
    prior : str or PriorSpec
        Spec name, path or object (see :mod:`bayesrf.priors`).
    lags : int
    per_lag : bool
        One lag at a time, each with its own intercept (``intercept`` then has dim ``lag``).
    keep : ndarray of bool (time,), optional
        Intervals used in the likelihood (default all), e.g. to hold out a test set.
    estimates : bool, default True
        Store the ML per lag next to the MAP (group ``estimates``, :func:`point_estimates`) for
        :func:`bayesrf.compare_estimates` and ``bayesrf plot``.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior`` (chain=1, draw=1), ``observed_data``,
        ``constant_data`` (and ``estimates``); attrs include the optimiser info.
    """
    design, spec, sha = _prepare(data, prior, lags, keep)
    values, info = map_values(design, spec, per_lag)
    batched = {k: np.asarray(v)[None, None] for k, v in values.items()}
    tree = assemble(batched, design, spec, method="map", sampler=str(info["solver"]), seed=None,
                    data_sha256=sha, attrs={k: v for k, v in info.items() if k != "solver"} | {"per_lag": int(per_lag)})
    if estimates:
        mode = (values["rf"], info)
        tree["estimates"] = xr.DataTree(point_estimates(design, spec, tree["posterior"].to_dataset(), mode))
    return tree


def start_point(model: pm.Model, design: Design, spec: PriorSpec, seed: int | None) -> dict[str, np.ndarray]:
    """Poisson exp-link MAP without spike history for fixed-scale priors (whatever their likelihood; dispersion
    and history start at the model's initial point; a softplus start by :func:`bayesrf.model.link_start`); for
    hierarchical ones see :func:`bayesrf.nuts.hierarchical_start` (the joint mode of a hierarchical model is not
    typical of its posterior)."""
    if spec.hierarchical:
        return {k: np.asarray(v, dtype=float) for k, v in hierarchical_start(model, design, spec, seed).items()}
    glm = replace(spec, likelihood="poisson", history_lags=0, nonlinearity="exp", rate_unit="auto")
    sol, = solve_blocks(design, glm, per_lag=False)  # a steps baseline's Student-t jumps as Normal ones
    values = split_theta(sol.theta, design, glm)
    slopes = {name: values[name] for name in ("rf", "baseline_level") if name in values}
    start = model.initial_point()
    start["intercept"], slopes = link_start(spec, design, values["intercept"], slopes)
    levels = slopes.pop("baseline_level", None)
    return {k: np.asarray(v, dtype=float) for k, v in set_baseline_start(start | slopes, levels).items()}


def sample(
    data: xr.Dataset,
    prior: str | PriorSpec = DEFAULT_PRIOR,
    lags: int = 5,
    draws: int = 1000,
    tune: int | None = None,
    chains: int = 4,
    seed: int | None = 0,
    sampler: str = "nutpie",
    method: str = "nuts",
    progress: bool = False,
    keep: np.ndarray | None = None,
    cores: int | None = None,
    estimates: bool = True,
    reuse_compiled: bool = True,
) -> xr.DataTree:
    """Sample the posterior of the RF.

    Parameters
    ----------
    data : xarray.Dataset
        A recording.
    prior : str or PriorSpec, default :data:`bayesrf.priors.DEFAULT_PRIOR`
    lags : int, default 5
    draws, chains : int
        Kept draws per chain, number of chains.
    tune : int, optional
        Tuning steps per chain; default :data:`bayesrf.nuts.DEFAULT_TUNE` of the sampler (300 for nutpie, 1000 for
        PyMC).
    seed : int
        The same seed gives the same draws.
    sampler : {"nutpie", "pymc"}
        NUTS implementation (nutpie is the default; PyMC's own is the fallback).
    method : {"nuts", "laplace"}
        ``laplace``: a Gaussian at the MAP with the exact Hessian, in the same schema
        (about a second for fixed-scale priors; for ``ridge-hier`` the per-lag scales
        are first set by type-II maximum likelihood, see :func:`bayesrf.laplace.evidence_scales`).
    progress : bool
        Show the sampler's progress bar.
    keep : ndarray of bool (time,), optional
        Intervals used in the likelihood (default all).
    cores : int, optional
        Chains run in parallel on this many cores, and one after another beyond that;
        default :func:`chain_processes` (one per chain, at most the machine's CPUs). The
        draws do not depend on it.
    estimates : bool, default True
        Store the ML per lag and the MAP (group ``estimates``, :func:`point_estimates`) for
        :func:`bayesrf.compare_estimates` and ``bayesrf plot``, which then do not refit.
    reuse_compiled : bool, default True
        nutpie only: reuse a model this process compiled for the same prior, number of lags, frame-grid shape,
        number of frames and fitted intervals, with this recording's frames, counts and durations swapped in
        (:func:`bayesrf.nuts.compile_nutpie`); saves the compilation (about 7 s) per call when fitting many
        units of one population or many simulations of one size in one process. The draws are the same either way.
        ``gp`` priors reuse their pilot's model and the centred one (the centring, shear and whitened block are
        data too; ``local``'s centred model once per size of that block, :data:`bayesrf.structured.BLOCK_SIZES`).

    Returns
    -------
    xarray.DataTree
        See :mod:`bayesrf.results`. NUTS results carry the diagnostics of
        :func:`bayesrf.diagnostics.check_diagnostics` (``max_rhat``, ``min_ess_bulk``,
        ``min_ess_tail``, ``n_divergent``, ``n_max_treedepth``, ``min_bfmi``,
        ``diagnostics_ok``) in attrs and warn (:class:`~bayesrf.BayesRFWarning`) when
        ``arviz_stats.diagnose`` or the tail-ESS floor fails. Where the time went, in seconds:
        ``wall_time_s`` (all but ``estimates``), ``time_log_densities_s`` (pointwise log-likelihood
        and log-prior) and, for NUTS, ``time_start_s`` (the start point), ``time_compile_s`` (nutpie's
        compilation; near 0 for a reused model) and ``time_sampling_s`` (warm-up and draws). ``gp`` priors
        first run a pilot (:attr:`bayesrf.families.NutsForm.pilot_draws` draws per chain, at most ``draws``, after the
        same warm-up, on ``NutsForm.pilot_chains`` chains whatever the cores; not kept) whose hyperparameters choose
        how far the sampled coordinates are centred (:func:`bayesrf.structured.centring`; ``local`` priors are also
        sheared along the envelope, :func:`bayesrf.structured.shear`, with their data-determined coefficients
        whitened, :func:`bayesrf.structured.data_block`; :func:`pilot` runs it alone): attrs ``time_pilot_s`` (the
        pilot, its compilation and the choice), ``pilot_draws``, ``pilot_disagreement`` (the largest R-hat of its
        hyperparameters, :func:`bayesrf.nuts.pilot_disagreement`), ``centred_fraction`` (mean centring, 0 =
        non-centred, 1 = centred) and ``whitened`` (how many coefficients :func:`bayesrf.structured.data_block`
        whitened). Every chain, the pilot's too, starts at :func:`start_point`.

    Raises
    ------
    SpecError
        When ``method``, ``sampler`` or the prior is unknown or invalid.
    DataError
        When ``data`` is not a valid recording.
    KeyboardInterrupt
        When sampling is interrupted (Ctrl-C, SIGINT): no partial run is returned (:func:`bayesrf.nuts.run_nuts`).
    """
    tune = sampler_tune(sampler, tune)
    if method not in METHODS:
        raise SpecError(f"method must be one of {METHODS}; got {method!r}.")
    design, spec, sha = _prepare(data, prior, lags, keep)
    started = time.perf_counter()
    model = build_model(design, spec)
    if method == "laplace":
        poisson_only(spec, "method='laplace'")
        values, info = laplace_draws(design, spec, draws, chains, seed)
        tree = assemble(values, design, spec, method="laplace", sampler="laplace", seed=seed, data_sha256=sha, attrs=info)
    else:
        tree = _sample_nuts(model, design, spec, sha, draws=draws, tune=tune, chains=chains, seed=seed,
                            sampler=sampler, progress=progress, cores=cores or chain_processes(chains),
                            reuse=reuse_compiled)
    began = time.perf_counter()
    tree = add_log_densities(tree, model)
    tree.attrs["time_log_densities_s"] = time.perf_counter() - began
    tree.attrs["wall_time_s"] = time.perf_counter() - started
    if method == "nuts":
        tree.attrs.update(check_diagnostics(tree, checked_variables(tree["posterior"])))
    if note := truncation_warning(tree["posterior"]):
        warnings.warn(note, BayesRFWarning, stacklevel=2)
    if estimates:  # after the timing: not part of sampling
        tree["estimates"] = xr.DataTree(point_estimates(design, spec, tree["posterior"].to_dataset()))
    return tree


def pilot(
    data: xr.Dataset,
    prior: str | PriorSpec = DEFAULT_PRIOR,
    lags: int = 5,
    draws: int = 1000,
    tune: int | None = None,
    chains: int = 4,
    seed: int | None = 0,
    sampler: str = "nutpie",
    cores: int | None = None,
    keep: np.ndarray | None = None,
) -> xr.DataTree:
    """The pilot run that :func:`sample` with the same arguments makes first for a prior whose family has one
    (:attr:`bayesrf.families.NutsForm.pilot_draws`: ``gp`` priors), alone: what chose the fit's coordinates, at the
    pilot's cost only.

    Parameters
    ----------
    data, prior, lags, draws, tune, chains, seed, sampler, cores, keep
        As in :func:`sample` (``draws`` and ``chains`` bound the pilot's, as there).

    Returns
    -------
    xarray.DataTree
        The sampler's result in its own coordinates (``posterior``, ``sample_stats``; chain, draw), every chain, with
        attrs ``pilot_disagreement`` (:func:`bayesrf.nuts.pilot_disagreement` of ``NutsForm.pilot_agree``; NaN with
        one chain).

    Raises
    ------
    SpecError
        When the prior's family runs no pilot, or ``sampler`` is unknown.
    """
    tune = sampler_tune(sampler, tune)
    design, spec, _ = _prepare(data, prior, lags, keep)
    family = family_of(spec)
    form = family.nuts_form
    if not form.pilot_draws:
        with_pilot = ", ".join(name for name, other in FAMILIES.items() if other.nuts_form.pilot_draws)
        raise SpecError(f"bayesrf.sample runs no pilot for prior family {spec.family!r}; pass a prior of a family "
                        f"that does ({with_pilot}).")
    tree = _run_pilot(*_nuts_start(build_model(design, spec), design, spec, seed), form, draws=draws, tune=tune,
                      chains=chains, seed=seed, sampler=sampler, progress=False, cores=cores or chain_processes(chains),
                      key=None)
    tree.attrs["pilot_disagreement"] = pilot_disagreement(tree, form.pilot_agree)
    return tree


def _sample_nuts(model: pm.Model, design: Design, spec: PriorSpec, sha: str, *, draws: int, tune: int, chains: int,
                 seed: int | None, sampler: str, progress: bool, cores: int, reuse: bool) -> xr.DataTree:
    """NUTS in the family's parametrisation (:attr:`bayesrf.families.Family.nuts_form`), started at
    :func:`start_point`, as a result. With a pilot run (``nuts_form.pilot_draws``: ``gp`` priors,
    :func:`_run_pilot`), its posterior chooses the sampled model's coordinates
    (:meth:`bayesrf.families.Family.recentre`); its draws are not kept."""
    family = family_of(spec)
    form = family.nuts_form
    began = time.perf_counter()
    model_nuts, start = _nuts_start(model, design, spec, seed)
    timing = {"time_start_s": time.perf_counter() - began}
    key = model_key(design, spec, form.laplace) if reuse else None
    if form.pilot_draws:
        began = time.perf_counter()
        raw_pilot = _run_pilot(model_nuts, start, form, draws=draws, tune=tune, chains=chains, seed=seed,
                               sampler=sampler, progress=progress, cores=cores, key=key)
        read = family.from_nuts(raw_pilot["posterior"].to_dataset(), spec)
        coordinates, start = family.recentre(design, spec, read, start)
        model_nuts = build_model(design, spec, laplace=form.laplace, coordinates=coordinates)
        key = model_key(design, spec, form.laplace, coordinates=coordinates) if reuse else None
        timing |= {"time_pilot_s": time.perf_counter() - began, "pilot_draws": raw_pilot["posterior"].sizes["draw"],
                   "pilot_disagreement": pilot_disagreement(raw_pilot, form.pilot_agree),
                   "centred_fraction": float(np.mean(coordinates.centring)),
                   "whitened": 0 if coordinates.block is None else int(coordinates.block.index.size)}
    raw = run_nuts(model_nuts, start, draws, tune, chains, seed, sampler, progress, form.target_accept, cores, key)
    posterior = family.from_nuts(raw["posterior"].to_dataset(), spec)  # the sampler's group, its dims and attrs kept
    return assemble(posterior[[n for n in POSTERIOR_VARS if n in posterior]], design, spec, method="nuts",
                    sampler=raw.attrs.get("sampler", sampler), seed=seed, data_sha256=sha,
                    sample_stats=raw["sample_stats"].to_dataset(),
                    attrs={"tune": tune} | timing | {k: v for k, v in raw.attrs.items() if k.startswith("time_")}
                    | ({"laplace_form": form.laplace} if form.laplace != "direct" else {}))


def _nuts_start(model: pm.Model, design: Design, spec: PriorSpec, seed: int | None) -> tuple[pm.Model, dict]:
    """The model NUTS samples first in the family's ``nuts_form.laplace`` form (``model`` itself when ``direct``) and
    its start, :func:`start_point` in that family's sampled variables."""
    family = family_of(spec)
    start = family.to_nuts_start(start_point(model, design, spec, seed), spec)
    laplace = family.nuts_form.laplace
    return (model if laplace == "direct" else build_model(design, spec, laplace=laplace)), start


def _run_pilot(model: pm.Model, start: dict[str, np.ndarray], form: NutsForm, *, draws: int, tune: int,
               chains: int, seed: int | None, sampler: str, progress: bool, cores: int, key: Any) -> xr.DataTree:
    """The pilot run that a sampled run of ``draws`` draws on ``chains`` chains of a family with ``form.pilot_draws``
    makes first, on ``model`` from ``start`` (:func:`_nuts_start`): :func:`bayesrf.nuts.run_nuts`'s result, every
    chain."""
    return run_nuts(model, start, min(form.pilot_draws, draws), tune, min(chains, form.pilot_chains), seed, sampler,
                    progress, form.target_accept, cores, key)


def point_estimates(design: Design, spec: PriorSpec, posterior: xr.Dataset,
                    mode: tuple[np.ndarray, dict[str, Any]] | None = None) -> xr.Dataset:
    """The point estimates a fit is compared with: plain ML of each lag alone and the MAP.

    Parameters
    ----------
    design : Design
    spec : PriorSpec
    posterior : xarray.Dataset
        The fit's posterior (its ``rf_scale``, if any, sets the scales of the MAP).
    mode : (ndarray (lag, y, x), dict), optional
        The MAP and its :func:`map_values` info when they are known already (a :func:`fit_map` result).

    Returns
    -------
    xarray.Dataset (lag, y, x)
        ``ml_per_lag`` (each lag alone: the joint ML is often not identifiable; NaN, with the reason in
        ``attrs["ml_per_lag"]``, when even one lag has fewer intervals than parameters) and ``map``: the mode
        under the fit's prior (``mode`` when given); for a sampled fit with per-lag hierarchical priors the mode
        of the weights given the posterior-mean scales, because the joint mode over weights and scales overfits
        (see :func:`fit_map`); for structured ``gp`` priors :func:`fit_map`'s type-II MAP, as their prior
        given the hyperparameters is not a per-weight penalty. Log-rate per unit contrast. ``map.attrs["long_name"]``
        says which mode it is (the figures' row label).
    """
    shape = (design.n_lags, design.ny, design.nx)
    try:
        ml = np.stack([fit_block(design.lag_block(lag), None, 0.0).theta[1:] for lag in range(design.n_lags)])
        note = {}
    except FitError as exc:  # too few intervals for one lag's pixels: there is no ML to compare with
        ml, note = np.full(shape, np.nan), {"ml_per_lag": f"not computed: {exc}"}
    if mode is None and "rf_scale" in posterior:
        scales = posterior["rf_scale"].mean(("chain", "draw")).values
        pen = scaled_penalty(design, spec, scales)
        theta = solve_full(design, spec, pen).theta
        map_rf = theta[1 : 1 + design.n_weights]
        label = f"{'' if spec.penalized_glm else 'Poisson exp-link GLM '}MAP at the mean scales"
    else:
        if mode is None:
            values, info = map_values(design, spec, per_lag=False)
            mode = (values["rf"], info)
        map_rf, info = np.asarray(mode[0]), mode[1]
        label = "type-II MAP" if "evidence_rounds" in info else "joint MAP (overfits)" if spec.hierarchical else "MAP"
    dims = ("lag", "y", "x")
    return xr.Dataset({"ml_per_lag": (dims, ml.reshape(shape)), "map": (dims, map_rf.reshape(shape), {"long_name": label})},
                      coords=design.lag_coords(), attrs=note)
