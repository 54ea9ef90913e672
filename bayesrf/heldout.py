"""Held-out log-likelihood on blocks of frames left out of the fit.

The split (:func:`block_split`) takes interleaved contiguous blocks: every
``every``-th block of ``block`` frames is held out. Interleaving keeps the
held-out intervals inside the session, so a slow baseline is interpolated
rather than extrapolated; contiguous blocks keep the stimulus history of
most held-out intervals inside the block. The held-out intervals' frames
still serve as stimulus history for the neighbouring training intervals
(the frames are inputs, only the counts are held out).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr
from scipy.special import logsumexp
from scipy.stats import poisson

from .design import make_design
from .errors import DataError
from .inference import fit_map
from .nuts import pointwise_loglik
from .observation import count_model
from .model import build_model
from .priors import PriorSpec, load_prior
from .results import log_rate_draws, softplus_unit

__all__ = ["block_split", "heldout_log_likelihood", "heldout_pointwise", "lpd", "lpd_difference"]


def block_split(n_time: int, block: int = 50, every: int = 5, offset: int = 2) -> np.ndarray:
    """Boolean test mask (n_time,): blocks ``offset, offset + every, ...`` of ``block`` frames.

    Examples
    --------
    >>> block_split(20, block=2, every=5, offset=1).nonzero()[0].tolist()
    [2, 3, 12, 13]
    """
    if block < 1 or every < 2 or not 0 <= offset < every:
        raise DataError(f"need block >= 1, every >= 2 and 0 <= offset < every; got {block}, {every}, {offset}.")
    return (np.arange(n_time) // block) % every == offset


def heldout_log_likelihood(
    data: xr.Dataset, prior: str | PriorSpec, lags: int = 5, test: np.ndarray | None = None
) -> dict[str, float]:
    """Fit the MAP on the training intervals and score the held-out ones under the spec's count distribution
    (and, with spike history, given the observed counts before each held-out interval).

    Parameters
    ----------
    data : xarray.Dataset
        A recording.
    prior : str or PriorSpec
        A fixed-scale prior (its MAP is the point estimate scored).
    lags : int
    test : ndarray of bool (time,), optional
        Held-out intervals; default :func:`block_split` with its defaults.

    Returns
    -------
    dict
        ``loglik`` (sum over held-out intervals, nats), ``per_interval``
        (its mean), ``n_test``, and ``per_interval_null``: the same for a
        constant rate fitted on the training counts (a reference).
    """
    spec = prior if isinstance(prior, PriorSpec) else load_prior(prior)
    test = block_split(data.sizes["time"]) if test is None else np.asarray(test, dtype=bool)
    tree = fit_map(data, spec, lags=lags, keep=~test, estimates=False)
    design = make_design(data, lags, keep=test)
    post = tree["posterior"].to_dataset()
    basis = design.baseline_basis(spec.baseline_kind, spec.baseline_n_basis) if "baseline_coef" in post else None
    history = design.count_history(spec.history_lags) if spec.history_lags else None
    eta = log_rate_draws(post, design.frames, basis, design.rows, history, softplus_unit(tree))[0, 0] + design.offset
    loglik = float(np.sum(count_model(post).logpmf(design.counts, np.exp(eta)[None])))
    rate = tree["observed_data"]["counts"].sum().item() / tree["constant_data"]["duration"].sum().item()
    null = float(np.sum(poisson.logpmf(design.counts, rate * np.exp(design.offset))))
    return {"loglik": loglik, "per_interval": loglik / design.n_obs, "n_test": design.n_obs,
            "per_interval_null": null / design.n_obs}


def heldout_pointwise(result: xr.DataTree, data: xr.Dataset, test: np.ndarray) -> xr.DataArray:
    """Log-likelihood of held-out intervals under every posterior draw of a fit.

    Parameters
    ----------
    result : DataTree
        A fit (NUTS or Laplace) made with ``keep=~test`` on ``data``.
    data : xarray.Dataset
        The recording the fit was made on.
    test : ndarray of bool (time,)
        Held-out intervals.

    Returns
    -------
    DataArray (chain, draw, time)
        ``log p(counts_t | draw)`` in nats, the baseline (spline or steps) evaluated at the
        held-out times.
    """
    spec = PriorSpec.from_json(result.attrs["bayesrf_spec"])
    if (unit := softplus_unit(result)) is not None:  # the fit's rate unit, not the held-out intervals' mean rate
        spec = dataclasses.replace(spec, rate_unit=unit)
    model = build_model(make_design(data, int(result.attrs["n_lags"]), keep=np.asarray(test, dtype=bool)), spec)
    return pointwise_loglik(result["posterior"].to_dataset(), model)["counts"]


def lpd(pointwise: xr.DataArray, sample_dims: tuple[str, ...] = ("chain", "draw")) -> tuple[float, float]:
    """Log pointwise predictive density of held-out data and its standard error.

    ``sum_t log mean_s p(c_t | theta_s)`` over draws ``s``; the SE is
    ``sqrt(n) * sd_t`` of the per-interval terms (as for ELPD-LOO).

    Examples
    --------
    >>> ll = xr.DataArray(np.log(np.full((2, 3, 4), 0.5)), dims=("chain", "draw", "time"))
    >>> total, se = lpd(ll)
    >>> print(f"{total:.6f} {4 * np.log(0.5):.6f} {se:.1f}")
    -2.772589 -2.772589 0.0
    """
    return _sum_and_se(_lpd_terms(pointwise, sample_dims))


def _sum_and_se(terms: np.ndarray) -> tuple[float, float]:
    return float(terms.sum()), float(np.sqrt(terms.size) * terms.std(ddof=1))


def _lpd_terms(pointwise: xr.DataArray, sample_dims: tuple[str, ...]) -> np.ndarray:
    """``log mean_s p(c_t | theta_s)`` per held-out interval."""
    stacked = pointwise.stack(sample=sample_dims).transpose(..., "sample").values
    return logsumexp(stacked, axis=-1) - np.log(stacked.shape[-1])


def lpd_difference(a: xr.DataArray, b: xr.DataArray, sample_dims: tuple[str, ...] = ("chain", "draw")) -> tuple[float, float]:
    """Held-out log predictive density of fit ``a`` minus fit ``b`` on the same intervals, and its paired
    standard error ``sqrt(n) * sd_t`` of the per-interval differences (as ArviZ's ``dse`` for ELPD-LOO).

    Examples
    --------
    >>> a = xr.DataArray(np.log(np.full((1, 2, 3), 0.5)), dims=("chain", "draw", "time"))
    >>> diff, se = lpd_difference(a, a - np.log(2))
    >>> print(f"{diff:.6f} {3 * np.log(2):.6f} {se:.1f}")
    2.079442 2.079442 0.0
    """
    return _sum_and_se(_lpd_terms(a, sample_dims) - _lpd_terms(b, sample_dims))
