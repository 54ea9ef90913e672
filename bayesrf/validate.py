"""Simulation-based calibration (SBC) of the Bayesian fits.

SBC (Talts et al. 2018): draw the parameters from the prior, simulate a
recording with them, fit it, and record the rank of each true value among
the posterior draws. If the sampler and model are right, every rank is
uniform on ``0 .. n_draws``. One value per simulation of each test quantity
(:data:`SBC_QUANTITIES`: the intercept, one weight chosen at random, the RF's
norm and the log-likelihood) is ranked among the fit's draws thinned to their
ESS, so the ranks are independent; a chi-square test per quantity checks that
they are uniform.

:func:`coverage` is the check for one fit with a known truth (a simulation):
the share of the true weights inside the central posterior intervals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import arviz as az
import numpy as np
import xarray as xr
from scipy.special import gammaln
from scipy.stats import chisquare

from .design import Design, make_design
from .errors import DataError, recorded
from .inference import sample
from .priors import PriorSpec, load_prior
from .results import as_dataset
from .simulate import simulate

__all__ = ["SBC_QUANTITIES", "coverage", "rank_fractions", "rank_pvalue", "sbc", "SBCResult"]


SBC_QUANTITIES = ("intercept", "weight", "norm", "loglik")
"""The test quantities ranked per simulation: the intercept, one weight chosen at random, the RF's L2 norm and the
log-likelihood of the simulated counts. One value of each per simulation, so their ranks are independent."""


@dataclass(frozen=True)
class SBCResult:
    """Ranks of the truth's test quantities among each fit's draws thinned to their ESS, and uniformity tests.

    Attributes
    ----------
    ranks : xarray.Dataset
        Per simulation (``sim``): for each of :data:`SBC_QUANTITIES` the rank ``<name>`` (draws below the truth,
        ``0 .. n_draws``) and its fraction ``<name>_u = (rank + U) / (n_draws + 1)`` with ``U ~ Uniform(0, 1)``
        breaking ties at random (exactly uniform on (0, 1) when the posterior is calibrated, whatever
        ``n_draws``); ``n_draws`` (the kept draws), ``thin``, ``weight_index`` (flat index into ``rf``) and
        ``warnings`` (what each fit warned about, recorded rather than silenced). ``rf`` (sim, lag, y, x): the
        rank of every weight among the same draws, whose 72 values per simulation share one fit.
    pvalues : dict
        Chi-square p-value of the binned fractions per quantity.
    bins : int
        Bins of those histograms.
    """

    ranks: xr.Dataset
    pvalues: dict[str, float]
    bins: int

    def histogram(self, name: str) -> np.ndarray:
        """Counts of quantity ``name``'s rank fractions in ``bins`` equal bins."""
        return _binned(self.ranks[f"{name}_u"].values, self.bins)


def _binned(fractions: np.ndarray, bins: int) -> np.ndarray:
    return np.bincount(np.minimum((np.ravel(fractions) * bins).astype(int), bins - 1), minlength=bins)


def rank_fractions(ranks: np.ndarray, n_draws: int | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ranks in ``0 .. n_draws`` as fractions ``(rank + U) / (n_draws + 1)``, ``U ~ Uniform(0, 1)`` from ``rng``.

    The random ``U`` breaks the rank's ties with the draws, so the fractions are exactly uniform on (0, 1) under
    calibration, also when ``n_draws`` differs between ranks (draws thinned to each fit's ESS).
    """
    ranks = np.asarray(ranks)
    return (ranks + rng.random(ranks.shape)) / (np.asarray(n_draws) + 1)


def rank_pvalue(ranks: np.ndarray, n_draws: int | np.ndarray, bins: int = 10, seed: int = 0) -> float:
    """Chi-square p-value that ranks in ``0 .. n_draws`` are uniform: their :func:`rank_fractions` (seeded by
    ``seed``) binned into ``bins`` equal bins."""
    return _uniform_pvalue(rank_fractions(ranks, n_draws, np.random.default_rng(seed)), bins)


def _uniform_pvalue(fractions: np.ndarray, bins: int) -> float:
    return float(chisquare(_binned(fractions, bins)).pvalue)


def coverage(
    posterior: xr.DataTree | xr.Dataset, truth: xr.DataArray | np.ndarray, probs: tuple[float, ...] = (0.5, 0.8, 0.95),
    var: str = "rf", where: np.ndarray | None = None,
) -> dict[float, float]:
    """Share of the true values inside the central (equal-tailed) posterior intervals.

    Parameters
    ----------
    posterior : xarray.DataTree or xarray.Dataset
        A fit (``bayesrf.sample``'s tree, or its ``posterior`` group) with dims ``chain``, ``draw`` and the
        variable's own dims, e.g. ``rf`` (chain, draw, lag, y, x).
    truth : xarray.DataArray or numpy.ndarray
        The true values, shaped like one draw of ``var`` (e.g. the ``rf_true`` of :func:`bayesrf.simulate`).
    probs : tuple of float
        Interval probabilities in (0, 1).
    var : str
        The posterior variable.
    where : ndarray of bool, optional
        Count only these values (shaped like ``truth``), e.g. the RF's support ``truth != 0`` or its
        background ``truth == 0``: most true weights of a simulated RF are zero, and their intervals,
        shrunk towards zero, over-cover; on all weights at once that hides how the RF's own weights fare.

    Returns
    -------
    dict
        ``{prob: share of true values inside the central prob interval}``. Calibrated intervals give
        ``share ~= prob``, up to the correlation of the values (neighbouring weights share their errors).

    Raises
    ------
    DataError
        If ``var`` is missing, the shapes differ, a probability is outside (0, 1) or the truth is not finite.
    """
    posterior = as_dataset(posterior, "posterior")
    if var not in posterior:
        raise DataError(f"the posterior has no variable {var!r}; it has {sorted(posterior.data_vars)}.")
    draws = posterior[var]
    if isinstance(truth, xr.DataArray):
        if set(truth.dims) != set(draws.dims[2:]):
            raise DataError(f"truth has dims {truth.dims}, one draw of {var!r} has {draws.dims[2:]}.")
        truth = truth.transpose(*draws.dims[2:])
    truth = np.asarray(truth, dtype=float)
    one_draw = draws.shape[2:] if draws.dims[:2] == ("chain", "draw") else None
    if one_draw != truth.shape:
        raise DataError(f"truth has shape {truth.shape}, but one draw of {var!r} {dict(draws.sizes)} "
                        "(dims chain, draw first) has another; pass the truth in the posterior's shape.")
    if not np.isfinite(truth).all():
        raise DataError("the truth contains NaN or infinite values.")
    if not all(0 < p < 1 for p in probs):
        raise DataError(f"interval probabilities must lie in (0, 1); got {probs}.")
    where = np.ones(truth.shape, dtype=bool) if where is None else np.asarray(where)
    if where.shape != truth.shape or where.dtype != bool or not where.any():
        raise DataError(f"where must be a boolean array shaped like the truth {truth.shape} selecting at least one "
                        f"value; got {where.dtype} {where.shape} with {int(np.count_nonzero(where))} selected.")
    shares = {}
    for prob in probs:
        bounds = az.eti(draws.to_dataset(), prob=prob)[var].transpose(*draws.dims[2:], "ci_bound")
        inside = (bounds.sel(ci_bound="lower").values <= truth) & (truth <= bounds.sel(ci_bound="upper").values)
        shares[float(prob)] = float(inside[where].mean())
    return shares


def sbc(
    n_sims: int = 40,
    shape: tuple[int, int] = (6, 6),
    lags: int = 2,
    n_frames: int = 800,
    weight_scale: float = 0.15,
    log_rate: tuple[float, float] = (np.log(20.0), 0.3),
    dt: float = 0.1,
    draws: int = 400,
    tune: int = 400,
    chains: int = 2,
    bins: int = 10,
    seed: int = 0,
    progress: bool = False,
) -> SBCResult:
    """Simulation-based calibration (Talts et al. 2018) of NUTS under a ridge prior on a small problem.

    Each simulation draws ``intercept ~ Normal(*log_rate)`` and every weight ``~ Normal(0, weight_scale)`` from a
    prior that does not depend on the data, simulates ``n_frames`` binary-noise frames of constant duration
    ``dt``, fits the matching prior (constant baseline) with :func:`bayesrf.sample`, thins each fit's draws to
    their smallest bulk ESS over the test quantities (:data:`SBC_QUANTITIES`) and ranks the truth's quantities
    among the kept draws.

    Parameters
    ----------
    n_sims : int
        Number of simulated data sets.
    shape, lags, n_frames : problem size (default 6 x 6 pixels, 2 lags, 800 frames).
    weight_scale : float
        Prior SD of the weights (log-rate per unit contrast).
    log_rate : (mean, sd)
        Normal prior of the intercept, log(spikes/s).
    dt : float
        Frame duration (s).
    draws, tune, chains : NUTS settings per fit.
    bins : int
        Bins of the rank histograms for the chi-square tests.
    seed : int
        Seeds the prior draws, the chosen weights, the tie-breaking and each fit (fit ``i`` gets ``seed + i``).
    progress : bool
        Print one line per simulation (ranks and wall time).

    Returns
    -------
    SBCResult
    """
    if n_sims < 1 or draws < 1 or chains < 1:
        raise DataError(f"need n_sims, draws and chains >= 1; got {n_sims}, {draws}, {chains}.")
    spec = load_prior("ridge", {"prior": {"scale": weight_scale}, "baseline": {"kind": "constant"},
                                "intercept": {"mu": float(log_rate[0]), "sigma": float(log_rate[1])}})
    rng = np.random.default_rng(seed)
    rows = []
    for sim in range(n_sims):
        b = rng.normal(*log_rate)
        w = rng.normal(0.0, weight_scale, size=(lags, *shape))
        rec = simulate(n_frames=n_frames, shape=shape, lags=lags, rf=w, rate=float(np.exp(b)), dt=dt,
                       seed=int(rng.integers(2**31)))
        pick = int(rng.integers(w.size))
        started = time.perf_counter()
        post = _fit(rec, spec, lags, draws, tune, chains, seed + sim)
        rows.append(_sim_ranks(post, make_design(rec, lags), b, w, pick) | {"warnings": post.attrs["warnings"]})
        if progress:
            print(f"SBC {sim + 1}/{n_sims}: {time.perf_counter() - started:.1f} s, kept {rows[-1]['n_draws']} draws, "
                  f"ranks " + ", ".join(f"{q} {rows[-1][q]}" for q in SBC_QUANTITIES), flush=True)
    ranks = xr.Dataset({name: ("sim", np.array([row[name] for row in rows]))
                        for name in (*SBC_QUANTITIES, "n_draws", "thin", "weight_index", "warnings")})
    ranks["rf"] = (("sim", "lag", "y", "x"), np.array([row["rf"] for row in rows]))
    for name in SBC_QUANTITIES:
        ranks[f"{name}_u"] = ("sim", rank_fractions(ranks[name].values, ranks["n_draws"].values, rng))
    pvalues = {name: _uniform_pvalue(ranks[f"{name}_u"].values, bins) for name in SBC_QUANTITIES}
    return SBCResult(ranks=ranks, pvalues=pvalues, bins=bins)


def _quantities(intercept: np.ndarray, rf: np.ndarray, design: Design, pick: int) -> dict[str, np.ndarray]:
    """The test quantities of parameter values ``intercept`` (...) and ``rf`` (..., lag, y, x)."""
    flat = rf.reshape(*rf.shape[: intercept.ndim], -1)
    log_mu = intercept[..., None] + flat @ design.matrix().T + design.offset
    loglik = (design.counts * log_mu - np.exp(log_mu) - gammaln(design.counts + 1)).sum(-1)
    return {"intercept": intercept, "weight": flat[..., pick], "norm": np.linalg.norm(flat, axis=-1), "loglik": loglik}


def _sim_ranks(post: xr.Dataset, design: Design, b: float, w: np.ndarray, pick: int) -> dict:
    """One simulation's ranks among its draws thinned to the smallest bulk ESS of the test quantities."""
    import arviz_stats as azs

    draws = _quantities(post["intercept"].values, post["rf"].values, design, pick)
    truth = _quantities(np.asarray(b), w, design, pick)
    ess = azs.ess(xr.Dataset({name: (("chain", "draw"), value) for name, value in draws.items()}), method="bulk")
    n_total = post.sizes["chain"] * post.sizes["draw"]
    thin = max(1, int(np.ceil(n_total / min(float(ess[name]) for name in SBC_QUANTITIES))))
    kept = {name: value[:, ::thin].ravel() for name, value in draws.items()}
    rf = post["rf"].values[:, ::thin].reshape(-1, *w.shape)
    return {name: int((kept[name] < truth[name]).sum()) for name in SBC_QUANTITIES} | {
        "n_draws": kept["intercept"].size, "thin": thin, "weight_index": pick, "rf": (rf < w).sum(axis=0)}


def _fit(rec: xr.Dataset, spec: PriorSpec, lags: int, draws: int, tune: int, chains: int, seed: int) -> xr.Dataset:
    tree, notes = recorded(lambda: sample(rec, spec, lags=lags, draws=draws, tune=tune, chains=chains, seed=seed,
                                          estimates=False))
    return tree["posterior"].to_dataset().assign_attrs(warnings=notes)
