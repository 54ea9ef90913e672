"""Why do the structured priors' intervals fall short on a truth they assume? ``docs/support_trace.json`` (issue
#18, item 3).

Question. On the separable truth, which ``smooth``, ``rank1`` and ``local`` all assume, the stored runs fall short of
the calibration goal on the RF's support: with Gaussian frames every structured prior misses some level by 11-13
points (``docs/truth_families_gaussian.json``), and in the equal-budget peer run ``local`` misses by 13 points on a
separable Gabor (``docs/peers_equal.json``). Those runs are short: 2 chains x 500 draws after 500 tuning steps,
max R-hat up to 1.85. Two explanations:

(a) **mixing**: the chains had not converged. Then ``bayesrf.sample``'s defaults (4 chains x 1000 draws after
    ``bayesrf.nuts.DEFAULT_TUNE`` tuning steps) close the gap, with max R-hat near 1.01;
(b) **shrinkage**: for one fixed truth, a prior that shrinks pulls the posterior of the RF's weights towards zero
    (or towards its smooth, low-rank or local shape), so their intervals miss on the side away from zero more often
    than nominal. Bayesian intervals are calibrated on average over truths drawn from the prior (the SBC checks
    that), not for every fixed truth. Then the gap stays with converged chains, and most misses lie beyond the
    interval's end away from zero.

Protocol (session 23, written before its run; nothing is tuned, and no default changes from it):

* recordings, each regenerated from the stored runs' own code and seeds:
  ``bench_truth_families.recording("separable", seed, stimulus)`` for binary and Gaussian frames at seeds 1000 and
  1001 (12 x 12 px, 4 lags, n/D 4; support |w| > 10 % of the largest), and ``peers.dataset("gabor", "binary", 1,
  seed)`` at 20 x 15 px, 5 lags, n/D 1 for seeds 20-22 (support |w| > 5 %, as in ``peers.py``);
* priors: ``smooth``, ``rank1`` and ``local`` on the truth-family recordings; ``smooth`` and ``local`` on the peer
  cells (``rank1`` met the goal there);
* arms, each on the whole recording with ``seed=0`` on 2 cores: ``short`` = 2 chains x 500 draws after 500 tuning
  steps (the stored runs' settings; the truth-family runs had fitted the 80 % training split of
  ``bayesrf.sensitivity``), ``long`` = ``bayesrf.sample``'s defaults;
* scores per fit: the share of the support's true weights inside the central intervals at 10, 20, ..., 90, 95 and
  99 %, the largest shortfall below a level, max R-hat, min bulk ESS, divergences, wall seconds; and on the support
  the standardised error z = (posterior mean - truth) / posterior SD signed so that negative means towards zero
  (its mean is the shrinkage bias in posterior SDs, its RMS is about 1 for intervals as wide as the errors), and
  the share of the 80 % intervals' misses that lie on the far-from-zero side;
* reading, per stimulus and prior (pooled over seeds): (a) where the long arm's largest shortfall is at most 5
  points; (b) where it stays above 5 points and at least two thirds of the misses are away from zero; otherwise
  neither is shown.

Amendment (session 23, written after the first 18 fits and before any spread run): short and default-length chains
gave nearly the same support coverage fit by fit (e.g. ``smooth`` at 80 %: 0.68 and 0.67), so chain length is not
what moves it; what moves it is the recording (``rank1`` at 80 %: 0.85 at seed 1000, 0.71 at 1001). The weights of
one fit share its errors, so the shares of 2-3 seeds are noisy in a way that pooling their weights hides. Step 2
measures that spread: ``--spread`` fits the truth-family cells (binary and Gaussian, ``smooth``, ``rank1``,
``local``) with the defaults only, on 12 fresh seeds ``SPREAD_SEEDS`` (2000-2011, never run), and scores each seed
as one value. Reported per level: the mean support coverage over the seeds, its standard error (seed SD / sqrt(12))
and one seed's SD. The goal is judged on the mean over seeds: met where no level's mean is more than 5 points below
it; where it is missed, the table says whether the gap exceeds 2 standard errors.

Amendment 2 (session 23, written after the Gabor peer fits of seeds 20-21 and before the cell it adds): in
``docs/peers_equal.json`` ``local``'s support shortfall comes from the DoG cells (its 80 % intervals held 56-65 % of
the DoG support at seeds 20-22, against 78-92 % on the Gabor), and the first Gabor fits here held 92-93 %. So cell
``peers-dog`` (``peers.dataset("dog", "binary", 1, seed)``, seeds 20-22, ``smooth`` and ``local``, both arms) is
added, run before step 2, and scored like the others. Nothing else changes.

Amendment 3 (session 24, written before its run): does the held-out comparison rank first a prior that does not
fall short? Step 3 (``--held-out``) fits ``smooth``, ``rank1`` and ``local`` (``HELD_OUT_PRIORS``; ``rank1`` was not
fitted to the peer cells before) to the peer cells ``peers-gabor`` and ``peers-dog`` at seeds 20-22 with
:func:`bayesrf.sensitivity.sensitivity` as ``bench_truth_families.py`` does (its ``FIT``: 2 chains x 500 draws after
500 tuning steps on the 80 % training split, the held-out 20 % in blocks, no CV; the peers' 5 lags), and scores
each fit's support coverage as step 1 does. Per cell: each prior's coverage pooled over the 3 seeds and its largest
shortfall, and per seed the prior with the highest held-out log predictive density. Reading: on a cell where some
prior falls short by more than 5 points, the comparison helps if in at least 2 of the 3 seeds it ranks first a
prior whose pooled shortfall is at most 5 points. Nothing is tuned.

Warnings are recorded in the JSON, not silenced. Run: ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python
benchmarks/bench_support_trace.py [--cells NAME ...] [--spread | --held-out]``; results of other cells are kept, so the run can
be split.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import arviz as az
import numpy as np

import bayesrf
import bench_truth_families as families
import peers
from bayesrf.diagnostics import RHAT_MAX
from bayesrf.comparison import compare
from bayesrf.errors import recorded
from bayesrf.sensitivity import fit_result, sensitivity
from readme_tables import SUPPORT_GOAL, shortfall

DOCS = Path(__file__).resolve().parent.parent / "docs"
OUT = DOCS / "support_trace.json"
LEVELS = peers.COVERAGE
ARMS = {"short": {"draws": 500, "tune": 500, "chains": 2}, "long": {}}
MISS_LEVEL = 0.8
SPREAD_SEEDS = tuple(range(2000, 2012))
SPREAD_CELLS = ("separable-binary", "separable-gaussian")
HELD_OUT_CELLS = ("peers-gabor", "peers-dog")
HELD_OUT_PRIORS = ("smooth", "rank1", "local")
CELLS = {
    "separable-binary": {"seeds": (1000, 1001), "priors": ("smooth", "rank1", "local"), "support": families.SUPPORT,
                         "lags": families.LAGS},
    "separable-gaussian": {"seeds": (1000, 1001), "priors": ("smooth", "rank1", "local"),
                           "support": families.SUPPORT, "lags": families.LAGS},
    "peers-gabor": {"seeds": (20, 21, 22), "priors": ("smooth", "local"), "support": peers.SUPPORT,
                    "lags": peers.LAGS},
    "peers-dog": {"seeds": (20, 21, 22), "priors": ("smooth", "local"), "support": peers.SUPPORT, "lags": peers.LAGS},
}


def recording(cell: str, seed: int):
    """The recording of ``cell`` at ``seed``, drawn by the benchmark that first reported it."""
    if cell.startswith("peers-"):
        return peers.dataset(cell.split("-")[1], "binary", 1, seed)
    return families.recording("separable", seed, cell.split("-")[1])


def truth_of(cell: str, data) -> np.ndarray:
    """The true RF (lag, y, x) of ``cell``."""
    return np.asarray(data["rf_true"]) if cell.startswith("peers-") else families.TRUTHS["separable"]


def support_scores(fit, truth: np.ndarray, threshold: float) -> dict:
    """Coverage at every level on the support, the signed standardised errors and where the misses lie."""
    support = np.abs(truth) > threshold * np.abs(truth).max()
    draws = fit["posterior"]["rf"]
    mean, sd = (draws.mean(("chain", "draw")).values, draws.std(("chain", "draw")).values)
    toward = np.sign(truth)[support]
    z = (mean[support] - truth[support]) / sd[support] * toward
    bounds = az.eti(draws.to_dataset(), prob=MISS_LEVEL)["rf"].transpose(*draws.dims[2:], "ci_bound")
    low, high = bounds.sel(ci_bound="lower").values[support], bounds.sel(ci_bound="upper").values[support]
    value = truth[support]
    missed = (value < low) | (value > high)
    away = ((value > high) & (toward > 0)) | ((value < low) & (toward < 0))
    shares = bayesrf.coverage(fit, truth, probs=LEVELS, where=support)
    return {"coverage": [shares[p] for p in LEVELS], "n_support": int(support.sum()),
            "z_mean": float(z.mean()), "z_rms": float(np.sqrt((z**2).mean())),
            "misses": int(missed.sum()), "misses_away": int(away.sum()),
            "error": float(1 - np.corrcoef(mean.ravel(), truth.ravel())[0, 1])}


def run_fit(cell: str, seed: int, prior: str, arm: str) -> dict:
    """One fit of ``prior`` in ``arm`` to ``cell``'s recording at ``seed``, scored against the truth."""
    spec = CELLS[cell]
    data = recording(cell, seed)
    started = time.perf_counter()
    fit, notes = recorded(lambda: bayesrf.sample(data, prior, lags=spec["lags"], seed=0, cores=2, estimates=False,
                                                 **ARMS[arm]))
    out = support_scores(fit, truth_of(cell, data), spec["support"]) | {
        "max_rhat": float(fit.attrs["max_rhat"]), "min_ess_bulk": float(fit.attrs["min_ess_bulk"]),
        "n_divergent": int(fit.attrs["n_divergent"]), "wall_time_s": time.perf_counter() - started,
        "warnings": notes}
    print(f"{cell} seed {seed} {prior} {arm}: {out['wall_time_s']:.0f} s, R-hat {out['max_rhat']:.3f}, support "
          f"80 % {out['coverage'][LEVELS.index(0.8)]:.2f}, z mean {out['z_mean']:+.2f}, misses away "
          f"{out['misses_away']}/{out['misses']}", flush=True)
    return out


def pooled(fits: list[dict]) -> dict:
    """Coverage pooled over fits (weighted by support size), its largest shortfall, and the misses' side."""
    n = np.array([f["n_support"] for f in fits])
    coverage = (np.array([f["coverage"] for f in fits]) * n[:, None]).sum(0) / n.sum()
    gap, level = shortfall(coverage, LEVELS)
    misses, away = sum(f["misses"] for f in fits), sum(f["misses_away"] for f in fits)
    return {"coverage": coverage.tolist(), "largest_shortfall": gap, "at_level": level, "misses": misses,
            "misses_away": away,
            "z_mean": float(np.average([f["z_mean"] for f in fits], weights=n)),
            "z_rms": float(np.sqrt(np.average([f["z_rms"] ** 2 for f in fits], weights=n))),
            "max_rhat": max(f["max_rhat"] for f in fits), "n_fits": len(fits)}


def reading(short: dict, long: dict) -> str:
    """The protocol's verdict on one stimulus and prior."""
    if long["largest_shortfall"] <= SUPPORT_GOAL:
        return "mixing" if short["largest_shortfall"] > SUPPORT_GOAL else "no shortfall"
    if long["misses"] and long["misses_away"] >= 2 / 3 * long["misses"]:
        return "shrinkage"
    return "neither"


def summary(stored: dict) -> dict:
    """Per cell and prior: both arms pooled over the seeds, and the reading."""
    out = {}
    for cell, runs in stored["cells"].items():
        for prior in CELLS[cell]["priors"]:
            arms = {arm: [runs[seed][prior][arm] for seed in runs if arm in runs[seed].get(prior, {})]
                    for arm in ARMS}
            if all(arms.values()):
                both = {arm: pooled(fits) for arm, fits in arms.items()}
                out[f"{cell} {prior}"] = both | {"reading": reading(both["short"], both["long"])}
    return out


def spread(fits: list[dict]) -> dict:
    """Support coverage with each seed as one value: mean, standard error and one seed's SD per level, the largest
    shortfall of the mean and whether it exceeds 2 standard errors."""
    coverage = np.array([f["coverage"] for f in fits])
    mean, sd = coverage.mean(0), coverage.std(0, ddof=1)
    se = sd / np.sqrt(len(fits))
    gap, level = shortfall(mean, LEVELS)
    return {"mean": mean.tolist(), "se": se.tolist(), "sd": sd.tolist(), "n_seeds": len(fits),
            "largest_shortfall": gap, "at_level": level,
            "beyond_2se": bool(gap > SUPPORT_GOAL and gap - SUPPORT_GOAL > 2 * se[LEVELS.index(level)]),
            "max_rhat": max(f["max_rhat"] for f in fits),
            "rhat_above": sum(f["max_rhat"] > RHAT_MAX for f in fits),
            "n_divergent": sum(f["n_divergent"] for f in fits)}


def spread_summary(stored: dict) -> dict:
    """Per spread cell and prior, :func:`spread` over the seeds run so far (once there are two)."""
    return {f"{cell} {prior}": spread(fits) for cell, seeds in stored.get("spread", {}).items()
            for prior in CELLS[cell]["priors"]
            if len(fits := [runs[prior] for runs in seeds.values() if prior in runs]) > 1}


def held_out_run(cell: str, seed: int) -> dict:
    """Step 3: ``HELD_OUT_PRIORS`` fitted by :func:`bayesrf.sensitivity.sensitivity` to ``cell`` at ``seed``; each
    fit's support scores and held-out and LOO scores, and the prior each comparison ranks first."""
    spec = CELLS[cell]
    data = recording(cell, seed)
    started = time.perf_counter()
    sweep, notes = recorded(lambda: sensitivity(data, priors=HELD_OUT_PRIORS, scales=None, seed=seed, cv=False,
                                                progress=False, **families.FIT | {"lags": spec["lags"]}))
    table, more = recorded(lambda: compare(sweep))
    fits = {label: support_scores(fit_result(sweep, label), truth_of(cell, data), spec["support"])
            | {key: float(table.sel(fit=label)[key]) for key in ("heldout_lpd", "heldout_lpd_se", "elpd_loo",
                                                                 "elpd_loo_se", "max_rhat")}
            for label in HELD_OUT_PRIORS}
    run = {"fits": fits, **families.ranked(fits), "warnings": " | ".join(filter(None, (notes, more))),
           "wall_time_s": time.perf_counter() - started}
    print(f"{cell} seed {seed}: {run['wall_time_s']:.0f} s, held-out best {run['heldout_best']}, "
          + ", ".join(f"{p} support 80 % {fits[p]['coverage'][LEVELS.index(0.8)]:.2f}" for p in fits), flush=True)
    return run


def held_out_summary(stored: dict) -> dict:
    """Per step-3 cell: each prior's support coverage pooled over the seeds, the priors within the goal, the
    held-out winner per seed and how many winners are within the goal."""
    out = {}
    for cell, runs in stored.get("held_out", {}).items():
        by_prior = {prior: pooled([run["fits"][prior] for run in runs.values()]) for prior in HELD_OUT_PRIORS}
        within = [prior for prior, row in by_prior.items() if row["largest_shortfall"] <= SUPPORT_GOAL]
        winners = {seed: run["heldout_best"] for seed, run in runs.items()}
        out[cell] = {"pooled": by_prior, "within_goal": within, "heldout_best": winners,
                     "winners_within_goal": sum(w in within for w in winners.values()), "n_seeds": len(runs)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", choices=list(CELLS), default=list(CELLS))
    parser.add_argument("--spread", action="store_true",
                        help="step 2: the defaults on SPREAD_SEEDS for the truth-family cells, each seed one value")
    parser.add_argument("--held-out", action="store_true",
                        help="step 3: the held-out comparison of HELD_OUT_PRIORS on HELD_OUT_CELLS")
    parser.add_argument("--report", action="store_true", help="only recompute and print the stored summary")
    args = parser.parse_args()
    stored = json.loads(OUT.read_text()) if OUT.exists() else {"cells": {}}
    if args.spread:
        for cell in SPREAD_CELLS:
            for seed in SPREAD_SEEDS:
                for prior in CELLS[cell]["priors"]:
                    stored.setdefault("spread", {}).setdefault(cell, {}).setdefault(str(seed), {})[prior] = \
                        run_fit(cell, seed, prior, "long")
                    OUT.write_text(json.dumps(stored | {"spread_summary": spread_summary(stored)}, indent=1) + "\n")
    elif args.held_out:
        for cell in HELD_OUT_CELLS:
            for seed in CELLS[cell]["seeds"]:
                stored.setdefault("held_out", {}).setdefault(cell, {})[str(seed)] = held_out_run(cell, seed)
                OUT.write_text(json.dumps(stored | {"held_out_summary": held_out_summary(stored)}, indent=1) + "\n")
    elif not args.report:
        stored |= {"levels": list(LEVELS), "arms": ARMS, "miss_level": MISS_LEVEL, "goal": SUPPORT_GOAL,
                   "command": " ".join(["python benchmarks/bench_support_trace.py", *sys.argv[1:]])}
        for cell in args.cells:
            for seed in CELLS[cell]["seeds"]:
                for prior in CELLS[cell]["priors"]:
                    for arm in ARMS:
                        runs = stored["cells"].setdefault(cell, {}).setdefault(str(seed), {}).setdefault(prior, {})
                        runs[arm] = run_fit(cell, seed, prior, arm)
                        OUT.write_text(json.dumps(stored | {"summary": summary(stored)}, indent=1) + "\n")
    stored["summary"], stored["spread_summary"] = summary(stored), spread_summary(stored)
    stored["held_out_summary"] = held_out_summary(stored)
    OUT.write_text(json.dumps(stored, indent=1) + "\n")
    for key, row in stored["summary"].items():
        print(f"{key}: short {row['short']['largest_shortfall']:.2f}, long {row['long']['largest_shortfall']:.2f} "
              f"(R-hat {row['long']['max_rhat']:.3f}), away {row['long']['misses_away']}/{row['long']['misses']}, "
              f"z mean {row['long']['z_mean']:+.2f}, z RMS {row['long']['z_rms']:.2f}: {row['reading']}")
    for key, row in stored["spread_summary"].items():
        print(f"{key}, {row['n_seeds']} seeds: largest shortfall {row['largest_shortfall']:.2f} at "
              f"{row['at_level']:g} (SE {row['se'][LEVELS.index(row['at_level'])]:.2f}), max R-hat {row['max_rhat']:.3f}")
    for cell, row in stored["held_out_summary"].items():
        print(f"{cell} held-out: winners {row['heldout_best']}, within the goal {row['within_goal']}, "
              f"{row['winners_within_goal']} of {row['n_seeds']} winners within it")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
