"""The PyMC backend: NUTS (nutpie or PyMC), the mode of a hierarchical model, log densities.

Every log density here is PyMC's own: the model's joint log-density for the L-BFGS mode
(:func:`map_pymc`), ``pm.compute_log_likelihood`` and ``pm.stats.compute_log_prior`` for the
pointwise groups of a result.
"""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import xarray as xr
from scipy.optimize import approx_fprime, minimize
from threadpoolctl import threadpool_limits

from .design import Design
from .errors import BayesRFWarning, SpecError
from .families import family_of
from .model import VAR_DIMS, frames_form, link_start, set_baseline_start
from .ml import solve_penalized
from .penalized import baseline_problem, solve_blocks, split_theta
from .priors import PriorSpec
from .results import as_dataset

if TYPE_CHECKING:
    from .structured import Coordinates

__all__ = [
    "COMPILED_KEPT", "CURVATURE_STEP", "DEFAULT_TUNE", "POSTERIOR_VARS", "SAMPLERS", "STANDARDISED",
    "add_log_densities", "chain_processes", "checked_variables", "compile_nutpie", "curvature_scale",
    "hierarchical_start", "log_density_gradient", "map_pymc", "model_key", "model_values", "pilot_disagreement",
    "pointwise_loglik", "run_nuts", "sampler_tune", "values_function",
]

SAMPLERS = ("nutpie", "pymc")
DEFAULT_TUNE = {"nutpie": 300, "pymc": 1000}
"""Tuning steps per chain when ``tune`` is not given. nutpie's adaptation (started at the MAP or a
sensible point) needs few: real neuron, 4 x 1000 draws, ridge-hier / lasso-hier: max R-hat 1.011 / 1.005 and
min bulk ESS 801 / 676 after 300 tuning steps, 1.008 / 1.005 and 823 / 931 after 1,000, in about half the time;
smooth, rank1 and local pass the checks after 300 too (see the README's speed table). PyMC's sampler: PyMC's default."""


def sampler_tune(sampler: str, tune: int | None) -> int:
    """``tune``, or ``sampler``'s default tuning steps (:data:`DEFAULT_TUNE`) when it is None.

    Raises
    ------
    SpecError
        When ``sampler`` is not one of :data:`SAMPLERS`.
    """
    if sampler not in SAMPLERS:
        raise SpecError(f"sampler must be one of {SAMPLERS}; got {sampler!r}.")
    return DEFAULT_TUNE[sampler] if tune is None else tune


POSTERIOR_VARS = tuple(VAR_DIMS)
STANDARDISED = ("rf_z", "rf_time_z")
"""Non-centred standard-normal variables: kept in results, left out of the convergence checks."""


LBFGS_MEMORY = 50
"""Correction pairs of :func:`map_pymc`'s L-BFGS. Measured on 40 x 40 px x 8 lags from 20,000 frames (fit_map, 2
cores), scipy's default 10 -> 50: ``smooth`` 33.6 -> 24.7 s (700 -> 432 iterations), ``local`` 34.8 -> 27.3 s,
``rank1`` 27.2 -> 19.6 s (1,942 -> 1,083), each reaching an equal or higher log posterior; 10 x 10 px ``local`` 7.5 -> 6.8 s.
At 40 x 40 px ``local``'s log posterior has (at least) two modes 6.4 nats apart: from the start of the model without an RF
(:func:`hierarchical_start`), 50 and 100 pairs reach the higher one (950 and 917 iterations), 20 pairs the lower one
(649), as did 50 pairs from the ridge fit's intercept (515)."""
LBFGS_RESTARTS = 20
LBFGS_RESTART_GAIN = 1e-7
LBFGS_FTOL = 1e-14
LBFGS_OUT_OF_BUDGET = 1
""":func:`map_pymc` restarts L-BFGS-B from where it stopped (at most ``LBFGS_RESTARTS`` times, never after it ran
out of iterations, status ``LBFGS_OUT_OF_BUDGET``) until a restart gains no more than ``LBFGS_RESTART_GAIN`` in log
posterior: that point is the mode (converged), also when the last run ended in a failed line search (each run stops
at scipy's ``gtol`` 1e-6 or at a relative reduction ``LBFGS_FTOL`` of the negative log-density in one step). A
hierarchical Laplace prior's joint mode lies on kinks of ``|rf_z|``, where one run stalls at a point that depends
on the last bits of the compiled gradient: on the regression-test simulation ``lasso-hier`` stopped 3.0e-3 below
the mode with a warm PyTensor cache and at it with a cold one (rf 3.4e-4 apart); restarted, both reach it (to
1e-8, rf within 3e-7). Restarts do not always suffice: with a flat intercept and a cold cache, the first run ended
in a failed line search and the restarts gained nothing 2.2e-4 (rf) from the mode (``tests/test_map.py``). The
smooth priors gain < 1e-9 from the one restart that checks them."""

COMPILED_KEPT = (8, 2**28)
"""At most this many nutpie models, holding at most this many bytes of data copies, are kept by a process for
reuse (:func:`compile_nutpie`), the least recently used dropped first (the last one always kept): eight covers a
sensitivity sweep's priors and scales on recordings of one size."""
_COMPILED: dict[str, Any] = {}
"""The nutpie models this process compiled with a reuse key, most recently used last."""


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


def hierarchical_start(model: pm.Model, design: Design, spec: PriorSpec, seed: int | None = 0) -> dict[str, np.ndarray]:
    """Start of the hierarchical optimisation or sampler: intercept and baseline of the ridge MAP at the
    hyperprior scale, the weights and hyperparameters as the family starts them from that ridge RF
    (:meth:`bayesrf.families.Family.start`). For a family whose start ignores the ridge RF
    (:attr:`~bayesrf.families.Family.start_reads_ridge_rf`), the intercept and baseline of the model without an RF
    instead (its RF starts near 0)."""
    family = family_of(spec)
    ridge = replace(spec, family="normal", hierarchical=False, scale=spec.hyper_scale, hyper_scale=None,
                    smooth=False, local=False, rank=0, likelihood="poisson", history_lags=0, nonlinearity="exp",
                    rate_unit="auto")
    if family.start_reads_ridge_rf:
        sol, = solve_blocks(design, ridge, per_lag=False)
        rf, n_weights = split_theta(sol.theta, design, ridge)["rf"], design.n_weights
    else:
        A, penalty = baseline_problem(design, ridge)
        sol = solve_penalized(A, design.counts, design.offset, penalty)
        rf, n_weights = np.zeros((design.n_lags, design.ny, design.nx)), 0
    slopes = {"rf": rf, "baseline_level": np.cumsum(sol.theta[1 + n_weights :])}
    start = model.initial_point()
    intercept, slopes = link_start(spec, design, float(sol.theta[0]), slopes)
    start["intercept"] = np.asarray(intercept)
    set_baseline_start(start, slopes["baseline_level"])
    return family.start(start, slopes["rf"], spec, seed)


def log_density_gradient(model: pm.Model) -> Callable[..., list[np.ndarray]]:
    """``model``'s log density and its gradient in each value variable, compiled once (keyword arguments: the value
    variables by name). Its data variables stay shared: ``model.set_data`` changes what it computes without a
    recompilation (about 4 s for a structured prior at 12,800 weights)."""
    logp = model.logp()
    return pytensor.function(model.value_vars, [logp, *pt.grad(logp, model.value_vars)])


def map_pymc(model: pm.Model, start: dict[str, np.ndarray], compiled: Callable[..., list[np.ndarray]] | None = None,
             ftol: float = LBFGS_FTOL, restart_gain: float = LBFGS_RESTART_GAIN,
             scale: dict[str, np.ndarray] | None = None) -> tuple[dict[str, np.ndarray], Any]:
    """Maximise a hierarchical model's log-density in its unconstrained space with L-BFGS.

    L-BFGS keeps ``LBFGS_MEMORY`` correction pairs (scipy's default is 10) and is restarted from where it stops
    until a restart gains no more than ``restart_gain`` nats (``LBFGS_RESTARTS``), each run stopping at a relative
    reduction ``ftol`` per step. ``compiled`` is :func:`log_density_gradient` of ``model``, to reuse over several calls
    (default: compiled here). ``scale`` (value variables by name, each broadcast to its shape; 1 for one left out) is
    the unit L-BFGS measures each variable in, a guess of its posterior SD: it runs on ``value / scale``, a diagonal
    preconditioner that leaves the mode where it is (:func:`bayesrf.structured.mode_scale`, :func:`curvature_scale`).
    Returns the mode (value variables by name, like ``start``) and scipy's result (``success``, ``nit`` summed over
    restarts, ``fun`` the negative log-density).
    """
    flat = _Flat({v.name: start[v.name] for v in model.value_vars})
    fn = compiled or log_density_gradient(model)
    steps = flat.ravel({name: np.broadcast_to((scale or {}).get(name, 1.0), shape)
                        for name, shape in zip(flat.names, flat.shapes, strict=True)})  # x = y * steps

    def neg(y: np.ndarray) -> tuple[float, np.ndarray]:
        lp, *grads = fn(**flat.unravel(y * steps))
        return -float(lp), -np.concatenate([np.ravel(g) for g in grads]) * steps

    options = {"maxiter": 20_000, "maxfun": 40_000, "gtol": 1e-6, "ftol": ftol, "maxcor": LBFGS_MEMORY}
    res = minimize(neg, flat.ravel(start) / steps, jac=True, method="L-BFGS-B", options=options)
    for _ in range(0 if res.status == LBFGS_OUT_OF_BUDGET else LBFGS_RESTARTS):
        again = minimize(neg, res.x, jac=True, method="L-BFGS-B", options=options)
        gain, nit = res.fun - again.fun, res.nit + again.nit
        if gain <= restart_gain:  # a fresh curvature memory gets no further: a mode, however the last run ended
            res.update(success=True, status=0, nit=nit, message=f"a restart gained {max(gain, 0):.1e}")
            break
        res = again
        res.nit = nit
    return flat.unravel(res.x * steps), res


CURVATURE_STEP = 1e-3
""":func:`curvature_scale`'s forward-difference step in the unconstrained coordinates (log scales, logits, pixels of
an envelope's centre, log rates): a big model's log density multiplies single-precision frames
(:meth:`bayesrf.design.Design.single_precision`), so a much smaller step would difference its round-off."""


def curvature_scale(model: pm.Model, compiled: Callable[..., list[np.ndarray]], point: dict[str, np.ndarray],
                    skip: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """``1 / sqrt(h_ii)`` for every value variable of ``model`` not in ``skip``, ``h_ii`` the diagonal of the Hessian
    of the negative log density at ``point`` (value variables by name) in those variables, by forward differences
    of ``compiled``'s gradient (:func:`log_density_gradient`; :data:`CURVATURE_STEP`, one gradient per coordinate),
    and 1 where ``h_ii`` is not positive: :func:`map_pymc`'s ``scale`` for variables with few coordinates."""
    names = [v.name for v in model.value_vars]
    chosen = _Flat({name: point[name] for name in names if name not in skip})

    def gradient(x: np.ndarray) -> np.ndarray:
        grads = dict(zip(names, compiled(**(point | chosen.unravel(x)))[1:], strict=True))
        return -chosen.ravel(grads)

    x = chosen.ravel(point)
    curvature = np.diag(np.atleast_2d(approx_fprime(x, gradient, CURVATURE_STEP)))
    return chosen.unravel(np.where(curvature > 0, 1 / np.sqrt(np.maximum(curvature, 1e-300)), 1.0))


def values_function(model: pm.Model) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """The values of :data:`POSTERIOR_VARS` in ``model`` as a function of a point (value variables by name), compiled
    once; variables added to ``model`` later (a potential, data) do not change it."""
    names = [n for n in POSTERIOR_VARS if n in model.named_vars]
    outputs = model.replace_rvs_by_values([model[n] for n in names])
    # evaluated a few times: FAST_COMPILE builds it in 0.2 s, not 0.3-1.6 s (structured priors, 12,800 weights; same
    # values)
    fn = model.compile_fn(outputs, inputs=model.value_vars, mode="FAST_COMPILE")
    return lambda point: dict(zip(names, fn(point), strict=True))


def model_values(model: pm.Model, point: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The values of :data:`POSTERIOR_VARS` in ``model`` at ``point`` (value variables by name)."""
    return values_function(model)(point)


def chain_processes(chains: int) -> int:
    """Processes that run the chains in parallel (no more than there are CPUs)."""
    return min(chains, os.cpu_count() or 1)


def checked_variables(posterior: xr.Dataset | xr.DataTree) -> list[str]:
    """Variables of a posterior whose R-hat / ESS are checked (all but the standardised ones)."""
    return [n for n in POSTERIOR_VARS if n in posterior and n not in STANDARDISED]


def model_key(design: Design, spec: PriorSpec, laplace: str, *, with_rf: bool = True,
              coordinates: Coordinates | None = None) -> str:
    """sha256 of what a compiled model depends on besides its data variables (frames, counts, durations, spline basis,
    intercept prior mean, rate unit, a fixed prior scale where :attr:`bayesrf.families.Family.scale_is_data`:
    ``pm.Data``, swapped on reuse): spec (without that scale), Laplace form, number of lags, the frames' shape and
    the form they enter the model in (:func:`bayesrf.model.frames_form`: a float32 model must not take float64
    frames that float32 does not hold exactly, and a bit-packed one is compiled for its frames' two values), the
    fitted intervals, and the counts too when more than the data variables depend on them (spike history, the
    COM-Poisson normaliser's support); ``with_rf=False`` for the baseline-only model, ``coordinates`` for a model built
    with them (their values are data; a ``local`` prior's always hold a shear; the number of whitened coefficients is
    part of the key)."""
    if not spec.hierarchical and family_of(spec).scale_is_data:
        spec = replace(spec, scale=None)
    centring = "" if coordinates is None else "|centred"
    if coordinates is not None and coordinates.block is not None:
        centring += f"|{coordinates.block.index.size}"
    digest = hashlib.sha256(
        f"{spec.to_json()}|{laplace}|{with_rf}|{design.n_lags}|{design.frames.shape}{centring}"
        f"|{frames_form(design, spec)}".encode())
    arrays = [design.rows]
    if spec.history_lags or spec.likelihood == "com-poisson":
        arrays.append(design.counts if design.all_counts is None else design.all_counts)
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def compile_nutpie(model: pm.Model, start: dict[str, np.ndarray], reuse_key: str | None = None) -> Any:
    """nutpie's compiled ``model``, started exactly at ``start`` (value variables; no jitter).

    With ``reuse_key`` (:func:`model_key`), a model this process compiled under that key (one of the last
    :data:`COMPILED_KEPT`) is reused: only ``model``'s data variables (nutpie's ``with_data``) and the start
    change. That saves the compilation, 7.4 s of a 65 s unit fit on one core (20 x 15 px, 5 lags, 3,000 frames,
    ridge, 2 x (300 + 500) draws), and 8-9 s of a 10 s fit of a 6 x 6 px, 2-lag simulation. The draws equal a
    fresh compile's bit for bit, for another unit of a population and for another recording of the same size
    (``tests/test_sampling.py``).
    """
    import nutpie

    cached = _COMPILED.get(reuse_key) if reuse_key else None
    # the coordinates' lengths are shared variables too (the key fixes them)
    data = {var.name: var.get_value() for var in model.data_vars} | {
        name: length.get_value() for name, length in model.dim_lengths.items() if hasattr(length, "get_value")}
    read = set() if cached is None else {var.name for var in cached.shared_var_keys}
    if cached is None or not read <= data.keys():
        cached = compiled = nutpie.compile_pymc_model(model, initial_points=start, jitter_rvs=set())
    else:
        flat = np.zeros(cached.n_dim)
        for name, where in zip(cached.shape_info[0], cached.shape_info[1], strict=True):
            if where.stop <= cached.n_dim:  # a free value variable, not a deterministic nutpie expands
                flat[where] = np.ravel(start[name])
        compiled = replace(cached.with_data(**{name: data[name] for name in read}),
                           initial_point_func=lambda seed=None: flat.copy())
    if reuse_key:
        _keep_compiled(reuse_key, cached)
    return compiled


def _keep_compiled(key: str, compiled: Any) -> None:
    """Keep ``compiled`` as the most recently used model under ``key``; drop the least recently used ones beyond
    :data:`COMPILED_KEPT` (the last one always stays)."""
    _COMPILED.pop(key, None)
    _COMPILED[key] = compiled
    count, size = COMPILED_KEPT
    while len(_COMPILED) > 1 and (len(_COMPILED) > count or sum(map(_data_bytes, _COMPILED.values())) > size):
        del _COMPILED[next(iter(_COMPILED))]


def _data_bytes(compiled: Any) -> int:
    return sum(value.nbytes for value in compiled.shared_data.values())


@threadpool_limits.wrap(limits=1)
def run_nuts(model: pm.Model, start: dict[str, np.ndarray], draws: int, tune: int, chains: int, seed: int | None,
             sampler: str, progress: bool, target_accept: float, cores: int, reuse_key: str | None = None) -> xr.DataTree:
    """NUTS draws of ``model`` from ``start`` with nutpie (``reuse_key``: see :func:`compile_nutpie`) or PyMC.

    Chains run with one BLAS thread each, whatever the environment asks for: on the real neuron's ridge-hier
    (4 chains on 2 cores) the machine's default BLAS threads made warm-up and draws 1.6 times slower, and their
    summation order changed the draws of a given seed (``docs/real_speed.json`` was run with one thread).

    When nutpie cannot start from ``start`` although the model's log-density is finite there (nutpie 0.16.11
    also refuses a gradient component that is exactly 0: :data:`bayesrf.families.SMALLER_START`), the chains run
    with PyMC's NUTS from the same start, with a :class:`~bayesrf.BayesRFWarning` that says so (and
    ``attrs["sampler"] = "pymc"`` on the returned tree).

    An interrupted run (Ctrl-C, SIGINT) raises ``KeyboardInterrupt``: nutpie and PyMC would return its partial draws.

    The returned tree's attrs hold ``time_sampling_s`` (warm-up and draws; with PyMC also its compilation) and,
    with nutpie, ``time_compile_s`` (nutpie's compilation, or the swap of a reused model's data), in seconds.
    """
    timing = {}
    if sampler == "nutpie":
        import nutpie

        began = time.perf_counter()
        compiled = compile_nutpie(model, start, reuse_key)
        timing["time_compile_s"] = time.perf_counter() - began
        began = time.perf_counter()
        try:
            tree = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed, progress_bar=progress,
                                 save_warmup=False, cores=cores, target_accept=target_accept)
            tree.attrs.update(timing, time_sampling_s=time.perf_counter() - began)
            return _whole(tree, draws)
        except RuntimeError as exc:
            if "initialization points failed" not in str(exc) or not np.isfinite(model.compile_logp()(start)):
                raise
            warnings.warn("nutpie could not start from the MAP although the log-density is finite there (nutpie: "
                          f"{str(exc).splitlines()[0]}); sampling with PyMC's NUTS from the same start instead "
                          "(slower).", BayesRFWarning, stacklevel=3)
    began = time.perf_counter()
    tree = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, nuts_sampler="pymc",
                     initvals=start, init="adapt_diag", model=model, progressbar=progress, cores=cores,
                     compute_convergence_checks=False, target_accept=target_accept)
    tree.attrs.update(timing, sampler="pymc", time_sampling_s=time.perf_counter() - began)
    return _whole(tree, draws)


def _whole(tree: xr.DataTree, draws: int) -> xr.DataTree:
    """``tree`` if it holds all ``draws`` draws per chain. Interrupted (Ctrl-C, or SIGINT from ``timeout``), nutpie
    and PyMC return the draws they have, none if still tuning (a pilot's hyperparameters were then NaN, which
    failed later with an error about masked arrays); bayesrf keeps no partial run and passes the interrupt on.
    The draws a chain has are its finite energies: nutpie returns every chain at the longest one's length, the
    shorter ones padded with NaN (session 58: a run of 4 chains on 2 cores stopped after its first 2 chains had all
    their draws was kept, and its NaN R-hat and ESS passed every check)."""
    energy = tree["sample_stats"]["energy"]
    done = int(np.isfinite(energy).sum("draw").min())  # 0 for a run of no draws (interrupted while tuning)
    if done < draws:
        raise KeyboardInterrupt(f"sampling was interrupted after {done} of {draws} draws per chain; bayesrf keeps no "
                                "partial run (run again to sample, with fewer draws for a shorter run).")
    return tree


def pilot_disagreement(pilot: xr.DataTree, names: tuple[str, ...]) -> float:
    """The largest R-hat (arviz-stats, rank-normalised split) of ``names`` among a run's chains; NaN with one chain
    or none of ``names`` in its posterior.

    Session 47 read only a pilot's chain of highest mean log-density when this exceeded 1.1 (``local``, 10 x 10 px
    x 8 lags, 30,000 frames: one pilot chain had put the envelope outside the image, R-hat of ``rf_center`` 1.9 and
    2.3, and the medians of both chains chose coordinates in which the sampled model took 234 leapfrog steps per draw;
    the better chain alone, 31). Session 48 removed that rule: it also fired on pilots whose chains differ only by
    slow mixing (all six pilots of ``benchmarks/bench_mixing.py``'s data-rich fits, largest R-hat 1.25 to 1.87,
    ``docs/mixing_pilots.json``), where its effect on mixing was not measured; the benchmark's fits
    (``docs/mixing.json``) are for the code without it.
    """
    import arviz_stats as azs

    posterior = pilot["posterior"].to_dataset()
    names = [name for name in names if name in posterior]
    if posterior.sizes["chain"] < 2 or not names:
        return float("nan")
    rhat = azs.rhat(posterior[names])
    return max(float(rhat[name].max()) for name in names)


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


def add_log_densities(tree: xr.DataTree, model: pm.Model) -> xr.DataTree:
    """Pointwise log-likelihood and log-prior (ArviZ's groups) computed by PyMC."""
    posterior = tree["posterior"].to_dataset()
    logprior = pm.stats.compute_log_prior(_probe(posterior, model), model=model, extend_inferencedata=False, progressbar=False)
    loglik = pointwise_loglik(posterior, model)
    tree["log_likelihood"] = xr.DataTree(loglik.assign_coords(time=tree["observed_data"]["time"]))
    tree["log_prior"] = xr.DataTree(as_dataset(logprior, "log_prior"))
    return tree
