"""MAP, Laplace-approximate and NUTS posteriors, all in one DataTree schema.

* :func:`fit_map` — the posterior mode. For fixed-scale priors it solves the
  same convex problem as :func:`bayesrf.fit_ml` (Newton for Normal/flat,
  proximal Newton for Laplace, which handles the kink at 0) on the PyMC
  model's exact log-posterior; for hierarchical priors it maximises the
  model's log-density in its unconstrained, non-centred parameters with
  L-BFGS. That joint mode of a hierarchical model tends to large scales
  (the weights' prior is N(0, 1) on ``rf_z``), unlike the posterior: on the
  real neuron it gives ``rf_scale`` ~0.2 where NUTS gives 0.002-0.012. Use
  :func:`sample` for hierarchical priors.
* :func:`sample` — NUTS with nutpie (default) or PyMC's sampler, started at
  the MAP (nutpie's default U(-1, 1) jitter makes the log-rate overflow);
  Laplace priors are sampled in their smooth exponential-difference form
  (see :func:`bayesrf.build_model`), log-densities use ``pm.Laplace``; or
  ``method="laplace"``: a Gaussian at the MAP with the exact Hessian.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import xarray as xr
from scipy.linalg import cho_factor, solve_triangular
from scipy.optimize import minimize

from .design import Design, make_design
from .errors import FitError, SpecError
from .ml import Penalty, Solution, smooth_derivatives, solve_penalized, with_intercept
from .model import VAR_DIMS, build_model, intercept_mu
from .priors import PriorSpec, load_prior
from .results import assemble, check_diagnostics
from .svd import align_signs

__all__ = [
    "DEFAULT_TUNE", "METHODS", "SAMPLERS", "STANDARDISED", "as_dataset", "data_checksum", "fit_map",
    "full_design", "gaussian_draws", "map_values", "pointwise_loglik", "prior_penalty", "sample",
    "scaled_penalty"
]

SAMPLERS = ("nutpie", "pymc")
DEFAULT_TUNE = {"nutpie": 300, "pymc": 1000}
"""Tuning steps per chain when ``tune`` is not given. nutpie's adaptation (started at the MAP or a
sensible point) needs few: real neuron, 4 x 1000 draws, ridge-hier / lasso-hier: max R-hat 1.011 / 1.005 and
min bulk ESS 801 / 676 after 300 tuning steps, 1.008 / 1.005 and 823 / 931 after 1,000, in about half the time;
smooth, rank1 and local pass the checks after 300 too (see the README's speed table). PyMC's sampler: PyMC's default."""
POSTERIOR_VARS = tuple(VAR_DIMS)
STANDARDISED = ("rf_z", "rf_time_z")
"""Non-centred standard-normal variables: kept in results, left out of the convergence checks."""
METHODS = ("nuts", "laplace")
PRUNED_SCALE = 1e-6
"""Prior scale given to a lag pruned by :func:`evidence_scales` (log-rate per unit contrast)."""
PRUNE_RATIO = 0.05
"""A lag is pruned when its type-II ML scale falls below this fraction of the largest."""


def _prepare(data: xr.Dataset, prior: str | PriorSpec, lags: int, keep: np.ndarray | None = None) -> tuple[Design, PriorSpec, str]:
    spec = prior if isinstance(prior, PriorSpec) else load_prior(prior)
    return make_design(data, lags, keep), spec, data_checksum(data)


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


def _n_baseline(spec: PriorSpec) -> int:
    return spec.baseline_n_basis - 1 if spec.baseline_kind == "spline" else 0


def prior_penalty(spec: PriorSpec, design: Design, n_weights: int) -> Penalty:
    """Negative log-prior of a fixed-scale spec as a :class:`Penalty` on ``[intercept, w, baseline_coef]``."""
    if spec.hierarchical:
        raise SpecError(f"prior {spec.name!r} is hierarchical; its log-prior is not a fixed penalty.")
    p = 1 + n_weights + _n_baseline(spec)
    quad, center, l1 = np.zeros(p), np.zeros(p), np.zeros(p)
    weights = slice(1, 1 + n_weights)
    if spec.intercept_family == "normal":
        quad[0], center[0] = spec.intercept_sigma**-2, intercept_mu(spec, design)
    if spec.family == "normal":
        quad[weights] = spec.scale**-2
    elif spec.family == "laplace":
        l1[weights] = 1.0 / spec.scale
    quad[1 + n_weights :] = spec.baseline_scale**-2
    return Penalty(quad=quad, center=center, l1=l1)


def full_design(design: Design, spec: PriorSpec, X: np.ndarray) -> np.ndarray:
    """``[1, X, Z]``: intercept column, stimulus design, spline baseline basis (if any)."""
    A = with_intercept(X)
    return np.hstack([A, design.spline_basis(spec.baseline_n_basis)]) if _n_baseline(spec) else A


def _split(theta: np.ndarray, design: Design, spec: PriorSpec) -> dict[str, np.ndarray]:
    """``theta`` (..., 1 + D + K) -> ``intercept``, ``rf`` (..., lag, y, x), ``baseline_coef`` (..., K)."""
    D = design.n_weights
    out = {"intercept": theta[..., 0],
           "rf": theta[..., 1 : 1 + D].reshape(*theta.shape[:-1], design.n_lags, design.ny, design.nx)}
    if _n_baseline(spec):
        out["baseline_coef"] = theta[..., 1 + D :]
        out["baseline_level"] = np.cumsum(out["baseline_coef"], axis=-1)
    return out


def _solve_blocks(design: Design, spec: PriorSpec, per_lag: bool) -> list[tuple[np.ndarray, Solution]]:
    blocks = [design.lagged[:, lag, :] for lag in range(design.n_lags)] if per_lag else [design.matrix()]
    out = []
    for X in blocks:
        A = full_design(design, spec, X)
        pen = prior_penalty(spec, design, X.shape[1])
        if spec.family == "flat" and spec.intercept_family == "flat" and A.shape[0] < A.shape[1]:
            raise FitError(
                f"flat priors with {A.shape[0]} intervals for {A.shape[1]} parameters give an improper "
                "posterior without a unique mode; use a proper prior (ridge, lasso, ...) or per_lag=True."
            )
        out.append((A, solve_penalized(A, design.counts, design.offset, pen)))
    return out


class _Flat:
    """Ravel/unravel a dict of value-variable arrays to one vector."""

    def __init__(self, point: dict[str, np.ndarray]):
        self.names = list(point)
        self.shapes = [np.shape(point[k]) for k in self.names]
        self.sizes = [int(np.prod(s)) for s in self.shapes]

    def ravel(self, point: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.ravel(point[k]) for k in self.names])

    def unravel(self, x: np.ndarray) -> dict[str, np.ndarray]:
        parts = np.split(x, np.cumsum(self.sizes)[:-1])
        return {k: p.reshape(s) for k, p, s in zip(self.names, parts, self.shapes, strict=True)}


def _hier_start(model: pm.Model, design: Design, spec: PriorSpec, seed: int | None = 0) -> dict[str, np.ndarray]:
    """Start of the hierarchical optimisation or sampler: mean rate and baseline of the ridge MAP at the
    hyperprior scale; per-lag priors start at that ridge RF, structured (``gp``) priors at small random
    ``rf_z`` (seeded; an RF of exactly 0 has no gradient for the envelope, which stops nutpie's start)."""
    ridge = replace(spec, family="normal", hierarchical=False, scale=spec.hyper_scale, hyper_scale=None,
                    smooth=False, local=False, rank=0)
    (_, sol), = _solve_blocks(design, ridge, per_lag=False)
    start = model.initial_point()
    start["intercept"] = np.asarray(sol.theta[0])
    if "baseline_level" in start:
        start["baseline_level"] = np.cumsum(sol.theta[1 + design.n_weights :])
    if spec.structured:
        start["rf_z"] = 0.1 * np.random.default_rng(seed).standard_normal(start["rf_z"].shape)
        if "rf_time_z" in start:  # a smooth positive lobe: the raw time course must not be 0 (it is normalised)
            start["rf_time_z"] = np.ones_like(start["rf_time_z"])
        return start
    tau = np.full(design.n_lags, spec.hyper_scale)
    start["rf_z"] = _split(sol.theta, design, ridge)["rf"] / tau[:, None, None]
    start["rf_scale_log__"] = np.log(tau)
    return start


def _map_pymc(model: pm.Model, start: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], Any]:
    """Maximise a hierarchical model's log-density in its unconstrained space with L-BFGS."""
    flat = _Flat({v.name: start[v.name] for v in model.value_vars})
    logp = model.logp()
    fn = pytensor.function(model.value_vars, [logp, *pt.grad(logp, model.value_vars)])

    def neg(x: np.ndarray) -> tuple[float, np.ndarray]:
        lp, *grads = fn(**flat.unravel(x))
        return -float(lp), -np.concatenate([np.ravel(g) for g in grads])

    res = minimize(neg, flat.ravel(start), jac=True, method="L-BFGS-B",
                   options={"maxiter": 20_000, "maxfun": 40_000, "gtol": 1e-6, "ftol": 1e-14})
    names = [n for n in POSTERIOR_VARS if n in model.named_vars]
    outputs = model.replace_rvs_by_values([model[n] for n in names])
    values = model.compile_fn(outputs, inputs=model.value_vars, point_fn=True)(flat.unravel(res.x))
    return dict(zip(names, values, strict=True)), res


def map_values(design: Design, spec: PriorSpec, per_lag: bool) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Posterior mode of ``design``'s data under ``spec``, as arrays by variable name.

    Fixed-scale priors are solved as the equivalent penalised GLM (one block, or one per
    lag when ``per_lag``); hierarchical and structured priors by L-BFGS-B on the PyMC
    log-density. Returns ``(values, info)``: ``values`` maps ``intercept``, ``rf``
    (lag, y, x) and any hyperparameters to arrays; ``info`` holds the solver's name,
    convergence flag, iteration count and objective.
    """
    if spec.hierarchical:
        if per_lag:
            raise SpecError("per_lag MAP is only defined for fixed-scale priors.")
        model = build_model(design, spec)
        values, res = _map_pymc(model, _hier_start(model, design, spec))
        info = {"solver": "L-BFGS-B on the PyMC log-density", "converged": int(res.success),
                "n_iter": int(res.nit), "log_posterior": float(-res.fun)}
        return values, info
    sols = _solve_blocks(design, spec, per_lag)
    thetas = [s.theta for _, s in sols]
    if per_lag:
        if _n_baseline(spec):
            raise SpecError("per_lag fits take a constant baseline; set baseline.kind = \"constant\".")
        shape = (design.n_lags, design.ny, design.nx)
        values = {"intercept": np.array([t[0] for t in thetas]), "rf": np.stack([t[1:] for t in thetas]).reshape(shape)}
    else:
        values = _split(thetas[0], design, spec)
    info = {"solver": sols[0][1].solver, "converged": int(all(s.converged for _, s in sols)),
            "n_iter": int(sum(s.n_iter for _, s in sols)), "neg_log_posterior_kernel": float(sum(s.objective for _, s in sols))}
    return values, info


def fit_map(
    data: xr.Dataset,
    prior: str | PriorSpec = "ridge",
    lags: int = 5,
    per_lag: bool = False,
    keep: np.ndarray | None = None,
) -> xr.DataTree:
    """Posterior mode (MAP) of the RF model, as a one-chain, one-draw posterior.

    For ``ridge``/``lasso``/``flat`` specs the MAP equals the penalised ML fit
    of :func:`bayesrf.fit_ml` at ``alpha = bayesrf.priors.alpha_for(spec, n_obs)``
    (the intercept prior adds its own small quadratic term; ``flat`` intercepts
    make the match exact).

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

    Returns
    -------
    xarray.DataTree
        Groups ``posterior`` (chain=1, draw=1), ``observed_data``,
        ``constant_data``; attrs include the optimiser info.
    """
    design, spec, sha = _prepare(data, prior, lags, keep)
    values, info = map_values(design, spec, per_lag)
    batched = {k: np.asarray(v)[None, None] for k, v in values.items()}
    return assemble(batched, design, spec, method="map", sampler=str(info["solver"]), seed=None,
                    data_sha256=sha, attrs={k: v for k, v in info.items() if k != "solver"} | {"per_lag": int(per_lag)})


def gaussian_draws(sol: Solution, H: np.ndarray, draws: int, chains: int, seed: int | None) -> np.ndarray:
    """Draws of N(theta_hat, H^-1), shape (chains, draws, p)."""
    chol, _ = cho_factor(H, lower=True)
    z = np.random.default_rng(seed).standard_normal((chains, draws, H.shape[0]))
    return sol.theta + solve_triangular(chol.T, z.reshape(-1, H.shape[0]).T, lower=False).T.reshape(z.shape)


def scaled_penalty(design: Design, spec: PriorSpec, scales: np.ndarray) -> Penalty:
    """Negative log-prior of ``spec`` on ``[intercept, w, baseline_coef]`` with its per-lag scales fixed.

    The weights of lag ``l`` get a Normal(0, scales[l]) or Laplace(0, scales[l]) prior
    (the spec's family); intercept and baseline priors are the spec's.
    """
    fixed = load_prior(spec, {"prior": {"hierarchical": False, "scale": 1.0}})
    pen = prior_penalty(fixed, design, design.n_weights)
    per_weight = np.repeat(np.asarray(scales, dtype=float), design.n_pixels)
    weights = slice(1, 1 + design.n_weights)
    quad, l1 = pen.quad.copy(), pen.l1.copy()
    if spec.family == "normal":
        quad[weights] = per_weight**-2.0
    else:
        l1[weights] = 1.0 / per_weight
    return Penalty(quad=quad, center=pen.center, l1=l1)


def evidence_scales(design: Design, spec: PriorSpec, max_iter: int = 200, tol: float = 1e-3
                    ) -> tuple[np.ndarray, Solution, np.ndarray, np.ndarray]:
    """Per-lag prior SDs of a hierarchical Normal prior by type-II maximum likelihood.

    Maximises the Laplace approximation of the marginal likelihood over the
    per-lag scales with MacKay's fixed-point update: for lag ``l`` with ``P``
    weights, ``gamma_l = P - tr_l(H^-1) / tau_l^2`` ("well-determined weights")
    and ``tau_l^2 <- |w_l|^2 / gamma_l``, each step at the MAP for the current
    scales (warm-started Newton). The HalfNormal hyperprior is not used. A lag
    the data say nothing about has its scale driven to 0 (automatic relevance
    determination): below :data:`PRUNE_RATIO` of the largest scale it is set to
    :data:`PRUNED_SCALE` and stays there.

    Returns
    -------
    tau : ndarray (lag,)
    solution : the MAP at ``tau``
    A : the full design ``[1, X, Z]``
    H : the Hessian of the negative log-posterior at the MAP
    """
    if spec.family != "normal":
        raise SpecError(f"method='laplace' supports hierarchical Normal priors (ridge-hier), not {spec.name!r} "
                        f"(family {spec.family!r}); use NUTS.")
    A = full_design(design, spec, design.matrix())
    weights = slice(1, 1 + design.n_weights)
    P = design.n_pixels
    tau = np.full(design.n_lags, float(spec.hyper_scale))
    theta = None
    for _ in range(max_iter):
        pen = scaled_penalty(design, spec, tau)
        sol = solve_penalized(A, design.counts, design.offset, pen, start=theta)
        theta = sol.theta
        _, H = smooth_derivatives(theta, A, design.counts, design.offset, pen)
        # diag(H^-1) = column sums of squares of L^-1 (H = L L^T): one triangular inverse, no full solve
        L_inv = solve_triangular(cho_factor(H, lower=True)[0], np.eye(H.shape[0]), lower=True)
        cov_diag = np.einsum("ij,ij->j", L_inv, L_inv)[weights].reshape(design.n_lags, P)
        w2 = (theta[weights] ** 2).reshape(design.n_lags, P).sum(axis=1)
        gamma = np.clip(P - cov_diag.sum(axis=1) / tau**2, 1e-9, P)
        new = np.sqrt(w2 / gamma)
        # a lag whose scale falls below 1/20 of the largest is pruned (automatic relevance determination):
        # the evidence is flat there and the fixed point creeps to 0 by ~10 % per step
        new[(new < PRUNE_RATIO * new.max()) | (tau <= PRUNED_SCALE)] = PRUNED_SCALE
        active = new > PRUNED_SCALE
        done = not active.any() or np.max(np.abs(np.log(new[active] / tau[active]))) < tol
        tau = new
        if done:
            break
    return tau, sol, A, H


def _laplace(design: Design, spec: PriorSpec, draws: int, chains: int, seed: int | None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Gaussian approximation N(MAP, H^-1) with H the exact Hessian of the negative log-posterior
    (hierarchical Normal priors: at the type-II ML scales of :func:`evidence_scales`)."""
    if spec.hierarchical:
        tau, sol, _, H = evidence_scales(design, spec)
        values = _split(gaussian_draws(sol, H, draws, chains, seed), design, spec)
        values["rf_scale"] = np.broadcast_to(tau, (chains, draws, tau.size)).copy()
        values["rf_z"] = values["rf"] / tau[:, None, None]
        return values, {"note": (
            "Laplace approximation with empirical-Bayes scales: the per-lag prior SDs maximise the Laplace "
            "approximation of the marginal likelihood (MacKay's updates; the hyperprior is not used) and are "
            "held fixed, so rf_scale has no spread and the weights' uncertainty about their scale is ignored.")}
    ((A, sol),) = _solve_blocks(design, spec, per_lag=False)
    _, H = smooth_derivatives(sol.theta, A, design.counts, design.offset, prior_penalty(spec, design, design.n_weights))
    return _split(gaussian_draws(sol, H, draws, chains, seed), design, spec), {"note": (
        "Laplace approximation: Gaussian at the MAP with the exact Hessian. For Laplace (lasso) priors the "
        "prior has no curvature and a kink at 0, so the Gaussian ignores the prior's shrinkage: its SDs are "
        "too wide for weights at 0 and it never puts mass exactly at 0.")}


def chain_processes(chains: int) -> int:
    """Processes that run the chains in parallel (no more than there are CPUs)."""
    return min(chains, os.cpu_count() or 1)


def checked_variables(posterior: xr.Dataset | xr.DataTree) -> list[str]:
    """Variables of a posterior whose R-hat / ESS are checked (all but the standardised ones)."""
    return [n for n in POSTERIOR_VARS if n in posterior and n not in STANDARDISED]


def _nuts(model: pm.Model, start: dict[str, np.ndarray], draws: int, tune: int, chains: int, seed: int | None,
          sampler: str, progress: bool, target_accept: float, cores: int) -> xr.DataTree:
    if sampler == "nutpie":
        import nutpie

        compiled = nutpie.compile_pymc_model(model, initial_points=start, jitter_rvs=set())
        return nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed, progress_bar=progress,
                             save_warmup=False, cores=cores, target_accept=target_accept)
    return pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, nuts_sampler="pymc",
                     initvals=start, init="adapt_diag", model=model, progressbar=progress, cores=cores,
                     compute_convergence_checks=False, target_accept=target_accept)


def start_point(model: pm.Model, design: Design, spec: PriorSpec, seed: int | None) -> dict[str, np.ndarray]:
    """MAP for fixed-scale priors; for hierarchical ones see :func:`_hier_start`
    (the joint mode of a hierarchical model is not typical of its posterior)."""
    if spec.hierarchical:
        return {k: np.asarray(v, dtype=float) for k, v in _hier_start(model, design, spec, seed).items()}
    values, _ = map_values(design, spec, per_lag=False)
    start = model.initial_point()
    start["intercept"], start["rf"] = values["intercept"], values["rf"]
    if "baseline_level" in values:
        start["baseline_level"] = values["baseline_level"]
    return {k: np.asarray(v, dtype=float) for k, v in start.items()}


def _exponential_start(start: dict[str, np.ndarray], spec: PriorSpec) -> dict[str, np.ndarray]:
    """Start of the exponential-difference form: ``e+ - e- = w / b`` with the smaller one at 0.5."""
    out = dict(start)
    z = out.pop("rf_z") if spec.hierarchical else out.pop("rf") / spec.scale
    out["rf_pos_log__"] = np.log(np.maximum(z, 0.0) + 0.5)
    out["rf_neg_log__"] = np.log(np.maximum(-z, 0.0) + 0.5)
    return out


def sample(
    data: xr.Dataset,
    prior: str | PriorSpec = "ridge-hier",
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
) -> xr.DataTree:
    """Sample the posterior of the RF.

    Parameters
    ----------
    data : xarray.Dataset
        A recording.
    prior : str or PriorSpec, default "ridge-hier"
    lags : int, default 5
    draws, chains : int
        Kept draws per chain, number of chains.
    tune : int, optional
        Tuning steps per chain; default :data:`DEFAULT_TUNE` of the sampler (300 for nutpie, 1000 for PyMC).
    seed : int
        The same seed gives the same draws.
    sampler : {"nutpie", "pymc"}
        NUTS implementation (nutpie is the default; PyMC's own is the fallback).
    method : {"nuts", "laplace"}
        ``laplace``: a Gaussian at the MAP with the exact Hessian, in the same schema
        (about a second for fixed-scale priors; for ``ridge-hier`` the per-lag scales
        are first set by type-II maximum likelihood, see :func:`evidence_scales`).
    progress : bool
        Show the sampler's progress bar.
    keep : ndarray of bool (time,), optional
        Intervals used in the likelihood (default all).
    cores : int, optional
        Chains run in parallel on this many cores, and one after another beyond that;
        default :func:`chain_processes` (one per chain, at most the machine's CPUs). The
        draws do not depend on it.

    Returns
    -------
    xarray.DataTree
        See :mod:`bayesrf.results`. NUTS results carry ``max_rhat``,
        ``min_ess_bulk``, ``min_ess_tail``, ``n_divergent`` in attrs and warn
        (:class:`~bayesrf.BayesRFWarning`) when they fail.
    """
    if sampler not in SAMPLERS:
        raise SpecError(f"sampler must be one of {SAMPLERS}; got {sampler!r}.")
    if method not in METHODS:
        raise SpecError(f"method must be one of {METHODS}; got {method!r}.")
    tune = DEFAULT_TUNE[sampler] if tune is None else tune
    design, spec, sha = _prepare(data, prior, lags, keep)
    started = time.perf_counter()
    model = build_model(design, spec)
    if method == "laplace":
        values, info = _laplace(design, spec, draws, chains, seed)
        tree = assemble(values, design, spec, method="laplace", sampler="laplace", seed=seed, data_sha256=sha, attrs=info)
    else:
        start = start_point(model, design, spec, seed)
        smooth = spec.family == "laplace"  # sampled in the smooth form, with a higher acceptance target
        model_nuts = build_model(design, spec, laplace="exponential-difference") if smooth else model
        # 0.9 removes the smooth Laplace form's rare divergences, and most of the gp priors' (real neuron, local)
        raw = _nuts(model_nuts, _exponential_start(start, spec) if smooth else start, draws, tune, chains, seed,
                    sampler, progress, 0.9 if smooth or spec.structured else 0.8, cores or chain_processes(chains))
        names = [n for n in POSTERIOR_VARS if n in raw["posterior"]]
        values = {n: raw["posterior"][n].values for n in names}
        if smooth and spec.hierarchical:
            values["rf_z"] = (raw["posterior"]["rf_pos"] - raw["posterior"]["rf_neg"]).values
        if spec.rank:
            values.update(align_components(values["rf_time"], values["rf_space"]))
        tree = assemble(values, design, spec, method="nuts", sampler=sampler, seed=seed, data_sha256=sha,
                        sample_stats=raw["sample_stats"].to_dataset(),
                        attrs={"tune": tune} | ({"laplace_form": "exponential-difference"} if smooth else {}))
    tree = _add_log_densities(tree, model)
    tree.attrs["wall_time_s"] = time.perf_counter() - started
    if method == "nuts":
        tree.attrs.update(check_diagnostics(tree, checked_variables(tree["posterior"])))
    return tree


def align_components(time: np.ndarray, space: np.ndarray) -> dict[str, np.ndarray]:
    """Sign the components of a low-rank RF like :func:`bayesrf.posterior_svd` does.

    ``(time[k], space[k])`` and ``(-time[k], -space[k])`` give the same RF. Each
    draw's component is flipped when it disagrees (``u . u_ref + v . v_ref < 0``)
    with the component of the mean over draws, itself signed so its largest spatial
    pixel is positive (the mean is taken after aligning to the first draw); the rule is
    :func:`bayesrf.svd.align_signs`'s.

    Parameters
    ----------
    time : ndarray (chain, draw, component, lag)
    space : ndarray (chain, draw, component, y, x)

    Returns
    -------
    dict with the aligned ``rf_time`` and ``rf_space``.
    """
    comps = xr.Dataset({"spatial": (("chain", "draw", "component", "y", "x"), space),
                        "temporal": (("chain", "draw", "component", "lag"), time)})
    to_first = align_signs(comps, reference=comps.isel(chain=0, draw=0))
    aligned = align_signs(comps, reference=align_signs(to_first.mean(("chain", "draw"))))
    return {"rf_time": aligned["temporal"].values, "rf_space": aligned["spatial"].values}


def as_dataset(obj: xr.Dataset | xr.DataTree, group: str) -> xr.Dataset:
    """The ``group`` of a DataTree as a Dataset; a Dataset is returned as it is (it is taken to be that group)."""
    if isinstance(obj, xr.DataTree):
        return (obj[group] if group in obj.children else obj).to_dataset()
    return obj


def _probe(posterior: xr.Dataset, model: pm.Model) -> xr.DataTree:
    return xr.DataTree.from_dict({"posterior": posterior[[rv.name for rv in model.free_RVs]]})


def pointwise_loglik(posterior: xr.Dataset, model: pm.Model) -> xr.Dataset:
    """``log p(counts_t | draw)`` of ``model``'s observed intervals for every posterior draw.

    Returns
    -------
    xarray.Dataset
        ``counts`` (chain, draw, time), in nats.
    """
    loglik = pm.compute_log_likelihood(_probe(posterior, model), model=model, extend_inferencedata=False, progressbar=False)
    return as_dataset(loglik, "log_likelihood")


def _add_log_densities(tree: xr.DataTree, model: pm.Model) -> xr.DataTree:
    """Pointwise log-likelihood and log-prior (ArviZ's groups) computed by PyMC."""
    posterior = tree["posterior"].to_dataset()
    logprior = pm.stats.compute_log_prior(_probe(posterior, model), model=model, extend_inferencedata=False, progressbar=False)
    loglik = pointwise_loglik(posterior, model)
    tree["log_likelihood"] = xr.DataTree(loglik.assign_coords(time=tree["observed_data"]["time"]))
    tree["log_prior"] = xr.DataTree(as_dataset(logprior, "log_prior"))
    return tree
