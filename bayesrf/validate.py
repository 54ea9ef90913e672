"""Simulation-based calibration (SBC) of the Bayesian fits.

SBC (Talts et al. 2018): draw the parameters from the prior, simulate a
recording with them, fit it, and record the rank of each true value among
the posterior draws. If the sampler and model are right, every rank is
uniform on ``0 .. n_draws``. Ranks are binned and tested with a chi-square
test per parameter group (``intercept``, ``rf``).

:func:`coverage` is the check for one fit with a known truth (a simulation):
the share of the true weights inside the central posterior intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import numpy as np
import xarray as xr
from scipy.stats import chisquare

from .errors import DataError, recorded
from .inference import sample
from .priors import PriorSpec, load_prior
from .results import as_dataset
from .simulate import simulate

__all__ = ["coverage", "rank_pvalue", "sbc", "SBCResult"]


@dataclass(frozen=True)
class SBCResult:
    """Ranks of the truth among thinned posterior draws, and uniformity tests.

    Attributes
    ----------
    ranks : xarray.Dataset
        ``intercept`` (sim) and ``rf`` (sim, lag, y, x), integers in ``0 .. n_draws``; ``warnings`` (sim):
        what each fit warned about (short chains' diagnostics, recorded rather than silenced).
    n_draws : int
        Posterior draws each rank is taken among (after thinning).
    pvalues : dict
        Chi-square p-value of the binned rank histogram per parameter group.
    """

    ranks: xr.Dataset
    n_draws: int
    pvalues: dict[str, float]

    def histogram(self, name: str, bins: int = 10) -> np.ndarray:
        """Counts of the ranks of ``name`` in ``bins`` equal bins."""
        return _binned(self.ranks[name].values.ravel(), self.n_draws, bins)


def _binned(ranks: np.ndarray, n_draws: int, bins: int) -> np.ndarray:
    return np.bincount((ranks * bins) // (n_draws + 1), minlength=bins)


def rank_pvalue(ranks: np.ndarray, n_draws: int, bins: int = 10) -> float:
    """Chi-square p-value that ranks in ``0 .. n_draws`` are uniform (binned into ``bins``)."""
    return float(chisquare(_binned(np.ravel(ranks), n_draws, bins)).pvalue)


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
    thin: int = 8,
    bins: int = 10,
    seed: int = 0,
) -> SBCResult:
    """Simulation-based calibration of NUTS under a ridge prior on a small problem.

    Each simulation draws ``intercept ~ Normal(*log_rate)`` and every weight
    ``~ Normal(0, weight_scale)``, simulates ``n_frames`` binary-noise frames
    with constant duration ``dt``, fits the matching prior (constant baseline)
    and ranks the truth among every ``thin``-th draw.

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
    draws, tune, chains, thin : NUTS settings; ranks use ``chains * draws / thin`` draws.
    bins : int
        Bins of the rank histograms for the chi-square test.
    seed : int
        Seeds the prior draws and each fit.

    Returns
    -------
    SBCResult
    """
    if n_sims < 1 or thin < 1 or draws % thin:
        raise DataError(f"need n_sims >= 1 and draws divisible by thin; got {n_sims}, {draws}, {thin}.")
    spec = load_prior("ridge", {"prior": {"scale": weight_scale}, "baseline": {"kind": "constant"},
                                "intercept": {"mu": float(log_rate[0]), "sigma": float(log_rate[1])}})
    rng = np.random.default_rng(seed)
    n_draws = chains * draws // thin
    rank_b, rank_w, notes = [], [], []
    for sim in range(n_sims):
        b = rng.normal(*log_rate)
        w = rng.normal(0.0, weight_scale, size=(lags, *shape))
        rec = simulate(n_frames=n_frames, shape=shape, lags=lags, rf=w, rate=float(np.exp(b)), dt=dt,
                       seed=int(rng.integers(2**31)))
        post = _fit(rec, spec, lags, draws, tune, chains, seed + sim).isel(draw=slice(None, None, thin))
        rank_b.append(int((post["intercept"].values < b).sum()))
        rank_w.append((post["rf"].values < w).sum(axis=(0, 1)))
        notes.append(post.attrs["warnings"])
    ranks = xr.Dataset({"intercept": ("sim", np.array(rank_b)),
                        "rf": (("sim", "lag", "y", "x"), np.array(rank_w)),
                        "warnings": ("sim", np.array(notes, dtype=str))})
    pvalues = {name: rank_pvalue(ranks[name].values, n_draws, bins) for name in ("intercept", "rf")}
    return SBCResult(ranks=ranks, n_draws=n_draws, pvalues=pvalues)


def _fit(rec: xr.Dataset, spec: PriorSpec, lags: int, draws: int, tune: int, chains: int, seed: int) -> xr.Dataset:
    tree, notes = recorded(lambda: sample(rec, spec, lags=lags, draws=draws, tune=tune, chains=chains, seed=seed,
                                          estimates=False))
    return tree["posterior"].to_dataset().assign_attrs(warnings=notes)
