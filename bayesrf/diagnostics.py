"""Convergence diagnostics of a NUTS result: the numbers and the verdict (arviz-stats)."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .errors import BayesRFWarning
from .structured import STRUCTURED_HYPERPARAMETERS

__all__ = ["DIAGNOSTIC_STATS", "ESS_PER_CHAIN", "RHAT_MAX", "advice", "check_diagnostics"]

RHAT_MAX = 1.01
"""Largest acceptable R-hat (rank-normalised, bulk and folded; Vehtari et al. 2021)."""
ESS_PER_CHAIN = 100
"""Smallest acceptable bulk and tail ESS per chain."""
DIAGNOSTIC_STATS = ("max_rhat", "min_ess_bulk", "min_ess_tail", "n_divergent", "n_max_treedepth", "min_bfmi",
                    "diagnostics_ok")
"""The numbers :func:`check_diagnostics` returns, in its order, which a NUTS result keeps in its ``attrs``."""


def advice(failing: set[str]) -> str:
    """What to try when the checks fail on the variables ``failing``: longer runs, and where a structured prior's
    hyperparameters fail, a prior with fewer of them (the MAP start and the centring are already automatic)."""
    text = "Try more tuning steps and draws (tune=, draws=)"
    if hyper := sorted(failing & set(STRUCTURED_HYPERPARAMETERS)):
        text += (f"; {', '.join(hyper)} are the structured prior's hyperparameters, which can mix slowly on data-rich "
                 "fits: compare a prior with fewer of them (smooth has no envelope, fixed-scale priors such as ridge "
                 "have none)")
    return text + "."


def check_diagnostics(result: xr.DataTree, var_names: list[str]) -> dict[str, float]:
    """Convergence verdict with :func:`arviz_stats.diagnose`'s checks and thresholds; warn with advice on failure.

    R-hat (rank-normalised, bulk and folded) and bulk/tail ESS of every variable in ``var_names``
    are computed once by arviz-stats (the warning names the variable behind each failed one) and held to
    ``diagnose``'s thresholds: R-hat <= :data:`RHAT_MAX`,
    bulk ESS >= :data:`ESS_PER_CHAIN` x chains (bayesrf holds tail ESS to the same floor) and ESS
    per draw >= 0.001; a variable whose R-hat or ESS is NaN in every element (NaN or constant draws) fails. The
    sampler's own checks (divergences, tree depth, E-BFMI) are ``diagnose``'s,
    run on the intercept only: over all weights ``diagnose`` would compute R-hat and ESS a second
    time (4 s per real-neuron fit). nutpie's ``maxdepth_reached`` is shown to ``diagnose`` under the
    name it reads (``reached_max_treedepth``).

    Returns
    -------
    dict
        ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``, ``n_divergent``, ``n_max_treedepth``,
        ``min_bfmi`` and ``diagnostics_ok`` (0/1), which the caller stores in ``result.attrs``.
    """
    import arviz_stats as azs

    post = result["posterior"].to_dataset()[var_names]
    n_chains, n_draws = post.sizes["chain"], post.sizes["chain"] * post.sizes["draw"]
    floor = ESS_PER_CHAIN * n_chains
    sample_stats = result["sample_stats"].to_dataset() if "sample_stats" in result.children else xr.Dataset()
    sample_stats = sample_stats.rename({"maxdepth_reached": "reached_max_treedepth"} if "maxdepth_reached" in sample_stats else {})
    view = xr.DataTree.from_dict({"posterior": post[["intercept"]], "sample_stats": sample_stats})
    _, found = azs.diagnose(view, rhat_max=RHAT_MAX, ess_threshold=floor, show_diagnostics=False,
                            return_diagnostics=True)
    rhat, ess_bulk, ess_tail = azs.rhat(post), azs.ess(post, method="bulk"), azs.ess(post, method="tail")
    worst = {"rhat": max(var_names, key=lambda v: float(rhat[v].max())),
             "bulk": min(var_names, key=lambda v: float(ess_bulk[v].min())),
             "tail": min(var_names, key=lambda v: float(ess_tail[v].min()))}
    stats = {
        "max_rhat": float(rhat[worst["rhat"]].max()),
        "min_ess_bulk": float(ess_bulk[worst["bulk"]].min()),
        "min_ess_tail": float(ess_tail[worst["tail"]].min()),
        "n_divergent": found.get("divergent", {}).get("n_divergent", 0),
        "n_max_treedepth": found.get("treedepth", {}).get("n_max", 0),
        "min_bfmi": float(np.min(found["bfmi"]["bfmi_values"])) if "bfmi" in found else float("nan"),
    }
    ratio = found["ess"]["threshold_ratio"]
    # NaN in every element (NaN draws: nutpie pads unfinished chains so) compares false with every threshold below
    undefined = [v for v in var_names if not all(np.isfinite(values[v]).any() for values in (rhat, ess_bulk, ess_tail))]
    problems = [text for bad, text in (
        (undefined, f"R-hat or ESS is NaN for {', '.join(undefined)} (draws that are NaN or constant)"),
        (stats["max_rhat"] > RHAT_MAX, f"max R-hat {stats['max_rhat']:.3f} > {RHAT_MAX} ({worst['rhat']}; chains disagree)"),
        (stats["min_ess_bulk"] < floor, f"min bulk ESS {stats['min_ess_bulk']:.0f} < {floor} ({worst['bulk']})"),
        (stats["min_ess_tail"] < floor, f"min tail ESS {stats['min_ess_tail']:.0f} < {floor} ({worst['tail']})"),
        (min(stats["min_ess_bulk"], stats["min_ess_tail"]) < ratio * n_draws, f"ESS below {ratio} per draw"),
        (stats["n_divergent"], f"{stats['n_divergent']} divergent transitions"),
        (stats["n_max_treedepth"], f"{stats['n_max_treedepth']} transitions hit the maximum tree depth"),
        (found.get("bfmi", {}).get("failed_chains"), f"E-BFMI {stats['min_bfmi']:.2f} < "
                                                      f"{found.get('bfmi', {}).get('threshold')} in some chains"),
    ) if bad]
    stats["diagnostics_ok"] = int(not problems)
    failing = set(undefined) | {
        v for v in var_names
        if float(rhat[v].max()) > RHAT_MAX or min(float(ess_bulk[v].min()), float(ess_tail[v].min())) < floor}
    if problems:
        warnings.warn(
            "sampling diagnostics failed: " + "; ".join(problems) + ". " + advice(failing),
            BayesRFWarning,
            stacklevel=3,
        )
    return stats

