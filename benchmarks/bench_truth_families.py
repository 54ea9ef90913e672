"""Calibration on truths no shipped prior assumes: ``docs/truth_families.json`` (issue #18, items 2 and 3).

Protocol (session 21, written before any run; nothing is tuned here, every prior runs as shipped):

* truths, written here with numpy (``TRUTHS``; 12 x 12 pixels, 4 lags, L2 norm ``RF_NORM``; one fixed truth per
  family, the seed changes frames and counts):
  ``separable`` (a centred Gaussian times a biphasic time course: what ``smooth``, ``local`` and ``rank1`` assume),
  ``off-centre`` (the same Gaussian, narrower, next to a corner), ``inseparable`` (direction selective: a Gabor
  whose phase drifts by 60 degrees per lag under a fixed envelope), ``sparse`` (6 isolated pixels of random
  sign with the biphasic time course), ``subunits`` (non-smooth: a 6 x 6 checkerboard of 2 x 2-pixel ON and OFF
  blocks with the time course), ``two-subfields`` (an ON and an OFF Gaussian far apart) and ``none`` (no RF);
* data: binary (+-1) frames, n/D = 4 frames per weight (2,307 frames of 0.2 s), 17 spikes/s at zero drive (the
  real neuron's rate); frames and Poisson counts drawn here with numpy (``default_rng(seed)``), reporting seeds
  1000-1002, never used before;
* fits: :func:`bayesrf.sensitivity.sensitivity` with ``PRIORS`` (the hierarchical ridge and lasso and the three
  structured priors, their shipped specs), 4 lags, 2 chains x 500 draws after 500 tuning steps, its default
  held-out split (20 % in blocks), no CV;
* scores per fit: the share of true weights inside the central intervals at every level of ``LEVELS``, on the
  RF's **support** (|w| above 10 % of its largest; issue #18's definition) and on the **background** (the rest),
  1 - corr(posterior mean, truth), and from :func:`bayesrf.comparison.compare` the held-out log predictive
  density and ELPD-LOO (the fit each ranks first per family and seed), max R-hat, divergences;
* the goal (issue #18 item 3): on every family, for every structured prior, no level's support coverage more
  than 0.05 below the level, pooled over the seeds. Where a prior falls short, the comparison should rank another
  prior first on that family: the held-out winner is reported per family and seed.

Amended after the first run (``separable``, seed 1000: 301 s, of which ``lasso-hier`` took 86 s): to fit a
session, ``lasso-hier`` is dropped from ``PRIORS`` (kept in that first run's JSON; not a structured prior, and it
behaved like ``ridge-hier`` there) and the families run on seeds 1000-1001 first, 1002 after them if time allows.
Nothing else changed.

Amended again after seeds 1000-1001 of ``separable`` to ``sparse`` had run: every prior's support intervals fell
short on ``sparse`` (95 % intervals held 4-96 % of its support), so ``lasso-hier``, the shipped prior meant for
sparse RFs, is added back for that family only, on every seed run (``--families sparse --priors lasso-hier``): its
fits join the stored runs of the same recordings and the held-out and LOO winners are taken over all the fits.
Its row is pooled like the others'.

Warnings are recorded in the JSON (each run's messages), not silenced. Run: ``OPENBLAS_NUM_THREADS=1
OMP_NUM_THREADS=1 python benchmarks/bench_truth_families.py [--families NAME ...] [--seeds N ...] [--priors NAME
...]``; results of other families and seeds are kept, so the run can be split (this JSON: separable at seed 1000
with the first ``PRIORS``; then separable at 1001; the other six families at 1000-1001; every family at 1002;
``--families sparse --priors lasso-hier --seeds 1000 1001 1002``). About 2 minutes per family and seed on 2
cores.

Amendment (session 22, written before its run): Gaussian frames (issue #18 item 2 asks for binary and Gaussian).
``--stimulus gaussian`` draws standard normal frames (the same contrast variance as +-1) with everything else as
above, and writes ``docs/truth_families_gaussian.json`` (the binary runs stay in ``docs/truth_families.json``).
Seeds 1000-1001, every family, ``PRIORS``; nothing tuned. Run: ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python
benchmarks/bench_truth_families.py --stimulus gaussian``. ``bayesrf.priors.SUPPORT_SHORTFALL`` (the caution in
``bayesrf summary``) stays tied to the binary run; the README reports the Gaussian run beside it.

Amendment (session 34, written before its runs; nothing else changed): issue #18 item 2 asks for n/D from 1 to
16, and every run above is at n/D 4. ``--nd N`` draws ``N`` frames per weight (everything else as above) and
writes ``docs/truth_families_nd<N>.json``. Binary frames, seeds 1000-1001, every family, ``PRIORS``, then
``--families sparse --priors lasso-hier`` as above; nothing tuned. Order: n/D 1 (seed 1000, then 1001), then
n/D 16 (seed 1000 for every family, then seed 1001 if the session's time allows; a seed not run is absent from
the JSON, never counted). Coverage does not depend on wall time, so other work may share the cores; it is named
here after the runs. Run: ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/bench_truth_families.py
--nd 1``.

Amendment (session 34, after the runs; the protocol above unchanged): n/D 1 ran in full (both seeds, every family,
then ``lasso-hier`` on sparse; 00:35-01:15 UTC). n/D 16 took 9-19 minutes per family, not the ~5 guessed, and was
stopped at 02:11 UTC after seed 1000 of separable, off-centre, inseparable and sparse; subunits, two-subfields,
none, ``lasso-hier`` on sparse and seed 1001 were not run (subunits, restarted alone at 02:13, was stopped
unfinished at 02:33 to leave the cores to the test suite; nothing of it is stored). Beside the runs only edits, ``tests/test_readme.py``,
``tests/test_posterior.py``, pyflakes and ``duplicates`` ran (seconds each). Both runs stored the command of their
last split (``--seeds``/``--priors``) in ``"command"``; that field was set to the command that writes the file,
which the script now stores.

Amendment (session 35, written before its run; the protocol above unchanged): n/D 16 goes on at seed 1000 with
subunits, two-subfields and none (``--nd 16 --seeds 1000 --families subunits two-subfields none``), then
``--nd 16 --seeds 1000 --families sparse --priors lasso-hier``; seed 1001 is not planned this session. Other work
(editing, short tests) shares the cores; it is named here after the run.

Amendment (session 35, written before its runs; the protocol above unchanged): every prior fell short on
``sparse`` at every n/D, ``lasso-hier`` included, so a prior made for sparse RFs was added to the package: the
regularised horseshoe (``models/horseshoe.toml``). Its hyperparameters were set before any run and are not tuned
(global scale HalfCauchy(0.01), slab scale 0.5: a weight of 0.01 log-rate per unit contrast is "near 0", 0.5 is
about the largest plausible one). One fit on a tuning seed (0, sparse, n/D 4, never a reporting seed) chose its
sampler form (scale mixture; the direct half-Cauchy form mixed worse there) and showed its support intervals short
by about 19 points (shrinkage of the weakest support weights, lag 0 and 3); nothing was changed after it. Runs, with
``--priors horseshoe`` (its fits join the stored runs; the held-out and LOO winners are taken over all fits):
``--families sparse`` at n/D 4 (seeds 1000-1002), n/D 1 (1000-1001) and n/D 16 (1000, after the run above); then
the other families at n/D 4, seeds 1000-1001, as the session's time allows (where it should not be used). Other
work shares the cores. Added before seed 1002 ran, once seeds 1000-1001 were under way: :func:`pooled` counts a
prior only where it was fitted in every run of a family, so the other families also get seed 1002
(``--seeds 1002 --families separable ... none --priors horseshoe``), as the session's time allows.

Amendment (session 35, after the runs; the protocol above unchanged): at n/D 16, subunits (31 minutes) and
two-subfields (20 minutes) ran at seed 1000 beside the horseshoe runs; none was stopped unfinished at 04:18 UTC to
leave time for the rest, so none, ``lasso-hier`` and ``horseshoe`` on sparse at n/D 16 were not run (nothing of
them is stored). The horseshoe ran as planned: sparse at n/D 4 (seeds 1000-1002) and n/D 1 (1000-1001), and every
other family at n/D 4 (1000-1002), 03:31-04:38 UTC. Beside the runs: the two benchmarks at once, then editing,
``tests/test_horseshoe.py`` (one 2-minute fit), ``tests/test_readme.py``, pyflakes and ``duplicates``.

Amendment (session 36, written before its runs; the protocol above unchanged): n/D 16 goes on at seed 1000 with what
session 35 left: ``--nd 16 --seeds 1000 --families none``, then ``--nd 16 --seeds 1000 --families sparse --priors
lasso-hier horseshoe``. Seed 1001 is not planned. Other work (editing, short tests) shares the cores; it is named
here after the runs.

Amendment (session 36, after the runs; the protocol above unchanged): both ran, 06:13-06:42 UTC (none 673 s, the two
priors on sparse 645 s). Beside them: for the first five minutes a smoke test of ``bench_contention.py`` (two
processes, one core each), then editing, ``tests/test_wheel.py`` and pyflakes. At n/D 16 every family now has seed
1000, ``lasso-hier`` and ``horseshoe`` on sparse only.

Amendment (session 40, written before its runs; the protocol above unchanged): issue #18 item 2 asks for n/D from 1 to
16, and n/D 8 has never run. ``--nd 8 --seeds 1000`` (every family, ``PRIORS``, in ``TRUTHS`` order), then ``--nd 8
--seeds 1000 --families sparse --priors lasso-hier horseshoe``; seed 1001 is not planned. Runs still going at 20:35
UTC are stopped (a family stopped unfinished is absent from the JSON, never counted). Other work (editing, short
tests) shares the cores; it is named here after the runs.

Amendment (session 40, after the runs; the protocol above unchanged): both ran in full, 18:45-19:26 UTC (the seven
families 208-515 s each, then ``lasso-hier`` and ``horseshoe`` on sparse 249 s). Beside them: editing, pyflakes,
``tests/test_readme.py``, one cold/warm compile-cache probe (two ``fit_map`` processes, twice) and the test made
from it, a 2-unit timing probe of a population task's parts (about 4 minutes) and a 2-unit smoke run of
``bench_cluster_cpu.py``.

Amendment (session 41, written before its runs; the protocol above unchanged): n/D 8 gets its second seed, as the
protocol planned: ``--nd 8 --seeds 1001`` (every family, ``PRIORS``, in ``TRUTHS`` order), then ``--nd 8 --seeds
1001 --families sparse --priors lasso-hier horseshoe``. Runs still going at 23:00 UTC are stopped (a family stopped
unfinished keeps only its seed 1000, never a partial seed 1001). Other work (editing, short tests) shares the cores;
it is named here after the runs.

Amendment (session 41, after the n/D 8 runs; the protocol above unchanged): both ran in full, 21:15-21:48 UTC (the
seven families 183-328 s each, then ``lasso-hier`` and ``horseshoe`` on sparse 232 s). Beside them: editing,
pyflakes, ``tests/test_readme.py`` and two ``tests/test_benchmarks.py`` tests (seconds each). Every n/D 8 truth now has
seeds 1000-1001; pooled over both, ``local`` also falls short on subunits at n/D 8 (added to
``bayesrf.priors.SUPPORT_SHORTFALL``).

Amendment (session 41, written before its run, once the n/D 8 runs above were under way; the protocol above
unchanged): n/D 16 gets its second seed on the first three truths, ``--nd 16 --seeds 1001 --families separable
off-centre inseparable``, after the n/D 8 runs; the other truths keep seed 1000 only (sparse is left out because its
``lasso-hier`` and ``horseshoe`` rows pool only over seeds where they ran too, and both would not fit the session).
A family still running at 23:00 UTC is stopped and keeps only its seed 1000. Other work (editing, short tests)
shares the cores; it is named here after the run.

Amendment (session 41, after the n/D 16 run; the protocol above unchanged): it ran in full, 21:48-22:24 UTC
(separable 836 s, off-centre 584 s, inseparable 508 s). Beside it: editing, pyflakes, a few tests of
``tests/test_readme.py`` and ``tests/test_benchmarks.py`` (seconds each) and a 2-worker LocalCluster started for a
few seconds to check which process its nannies run in (``bench_cluster_cpu.py``'s session-41 amendment).

Amendment (session 41, written before its run; the protocol above unchanged): time was left, so sparse at n/D 16 gets
its second seed too, every prior it has at seed 1000 in one command (``--nd 16 --seeds 1001 --families sparse
--priors ridge-hier smooth rank1 local lasso-hier horseshoe``), so that the seed is stored with all six priors or not
at all. If it is still running at 23:05 UTC it is stopped and sparse keeps only seed 1000. Nothing else computes
beside it except editing.

Amendment (session 41, after that run; the protocol above unchanged): it ran in full, 22:30-22:56 UTC (1,224 s),
with only editing beside it. At n/D 16 subunits, two-subfields and none keep seed 1000 only.

Amendment (session 42, written before its run; the protocol above unchanged): n/D 16 gets its second seed on the
three truths that lack it, ``--nd 16 --seeds 1001 --families subunits two-subfields none`` (``PRIORS``, the only
priors these truths have at seed 1000). A family still running at 01:10 UTC is stopped and keeps only its seed 1000.
Other work (editing, short tests) shares the cores; it is named here after the run.

Amendment (session 42, after that run; the protocol above unchanged): it ran in full, 23:30-00:02 UTC (subunits
835 s, two-subfields 345 s, none 385 s), with only editing and reading beside it. Every n/D 16 truth now has seeds
1000-1001.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import bayesrf
from bayesrf.comparison import compare
from bayesrf.errors import recorded
from bayesrf.sensitivity import fit_result, sensitivity

DOCS = Path(__file__).resolve().parent.parent / "docs"
SHAPE, LAGS, RF_NORM = (12, 12), 4, 0.5
ND, RATE, DT = 4, 17.0, 0.2
SEEDS = (1000, 1001)
PRIORS = ("ridge-hier", "smooth", "rank1", "local")
STRUCTURED = ("smooth", "rank1", "local")
LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
SUPPORT = 0.1
"""A true weight is on the support when |w| exceeds this share of the largest |w| (issue #18)."""
FIT = {"lags": LAGS, "draws": 500, "tune": 500, "chains": 2}
COURSE = np.array([0.3, 1.0, -0.6, -0.2])
"""The biphasic time course of the separable truths (lag 0 .. 3)."""


def _gaussian(cy: float, cx: float, sigma: float) -> np.ndarray:
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))


def _inseparable() -> np.ndarray:
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    envelope = _gaussian(5.5, 5.5, 2.2)
    amplitude = np.array([0.4, 1.0, 0.8, 0.3])
    return np.array([a * envelope * np.cos(2 * np.pi * (xx - 5.5) / 6 + lag * np.pi / 3)
                     for lag, a in enumerate(amplitude)])


def _sparse() -> np.ndarray:
    rng = np.random.default_rng(7)
    spatial = np.zeros(SHAPE)
    cells = rng.choice(spatial.size, size=6, replace=False)
    spatial.flat[cells] = rng.choice([-1.0, 1.0], size=6)
    return spatial


def _subunits() -> np.ndarray:
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    inside = (yy >= 3) & (yy < 9) & (xx >= 3) & (xx < 9)
    return np.where(inside, np.where(((yy - 3) // 2 + (xx - 3) // 2) % 2 == 0, 1.0, -1.0), 0.0)


def _scaled(rf: np.ndarray) -> np.ndarray:
    return rf * RF_NORM / np.linalg.norm(rf)


TRUTHS = {
    "separable": _scaled(COURSE[:, None, None] * _gaussian(5.5, 5.5, 1.8)),
    "off-centre": _scaled(COURSE[:, None, None] * _gaussian(1.0, 10.0, 1.3)),
    "inseparable": _scaled(_inseparable()),
    "sparse": _scaled(COURSE[:, None, None] * _sparse()),
    "subunits": _scaled(COURSE[:, None, None] * _subunits()),
    "two-subfields": _scaled(COURSE[:, None, None] * (_gaussian(2.5, 2.5, 1.2) - _gaussian(8.5, 8.5, 1.2))),
    "none": np.zeros((LAGS, *SHAPE)),
}


def recording(family: str, seed: int, stimulus: str = "binary", nd: int = ND):
    """Binary (+-1) or standard normal frames and Poisson counts of ``family``'s truth, drawn here with numpy,
    ``nd`` frames per weight."""
    rng = np.random.default_rng(seed)
    n = nd * LAGS * SHAPE[0] * SHAPE[1] + LAGS - 1
    frames = rng.choice([-1.0, 1.0], size=(n, *SHAPE)) if stimulus == "binary" else rng.standard_normal((n, *SHAPE))
    w = TRUTHS[family].reshape(LAGS, -1)
    flat = frames.reshape(n, -1)
    drive = sum(np.r_[np.zeros(lag), flat[: n - lag] @ w[lag]] for lag in range(LAGS))  # lag 0 = frame on screen
    counts = rng.poisson(RATE * np.exp(drive) * DT)
    return bayesrf.from_counts(frames, counts, DT)


def _scores(fit, truth: np.ndarray) -> dict:
    support = np.abs(truth) > SUPPORT * np.abs(truth).max() if truth.any() else np.zeros(truth.shape, dtype=bool)
    parts = {"support": support, "background": ~support}
    coverage = {name: bayesrf.coverage(fit, truth, probs=LEVELS, where=where) for name, where in parts.items()
                if where.any()}
    mean = fit["posterior"]["rf"].mean(("chain", "draw")).values
    return {"coverage": {name: [shares[p] for p in LEVELS] for name, shares in coverage.items()},
            "n_support": int(support.sum()),
            "error": float(1 - np.corrcoef(mean.ravel(), truth.ravel())[0, 1]) if truth.any() else None}


def run_one(family: str, seed: int, priors: tuple[str, ...] = PRIORS, stimulus: str = "binary",
            nd: int = ND) -> dict:
    """Fit ``priors`` to ``family``'s recording at ``seed`` (``nd`` frames per weight); each fit's scores, the
    winners, warnings and time."""
    started = time.perf_counter()
    data = recording(family, seed, stimulus, nd)
    sweep, notes = recorded(lambda: sensitivity(data, priors=priors, scales=None, seed=seed,
                                                cv=False, progress=False, **FIT))
    table, more = recorded(lambda: compare(sweep))
    fits = {}
    for label in priors:
        row = table.sel(fit=label)
        fits[label] = _scores(fit_result(sweep, label), TRUTHS[family]) | {
            key: float(row[key]) for key in ("heldout_lpd", "heldout_lpd_se", "elpd_loo", "elpd_loo_se", "max_rhat",
                                             "wall_time_s")} | {"n_divergent": int(row["n_divergent"])}
    run = {"fits": fits, **ranked(fits), "warnings": " | ".join(filter(None, (notes, more))),
           "wall_time_s": time.perf_counter() - started}
    print(f"{family} seed {seed}: {run['wall_time_s']:.0f} s, held-out best {run['heldout_best']}, "
          + ", ".join(f"{p} support 95 % {fits[p]['coverage'].get('support', [np.nan])[-1]:.2f}" for p in priors),
          flush=True)
    return run


def ranked(fits: dict) -> dict:
    """The fits with the highest held-out log predictive density and the highest ELPD-LOO (the same data split)."""
    return {"heldout_best": max(fits, key=lambda label: fits[label]["heldout_lpd"]),
            "loo_best": max(fits, key=lambda label: fits[label]["elpd_loo"])}


def merged(old: dict, new: dict) -> dict:
    """A run with more priors fitted to the same recording: the fits of both, winners over all of them."""
    fits = old["fits"] | new["fits"]
    return {"fits": fits, **ranked(fits), "warnings": " | ".join(filter(None, (old["warnings"], new["warnings"]))),
            "wall_time_s": old["wall_time_s"] + new["wall_time_s"]}


def pooled(runs: dict) -> dict:
    """Per prior fitted in every run, and part: coverage at each level pooled over the seeds (weighted by the
    number of weights)."""
    priors = [prior for prior in next(iter(runs.values()))["fits"] if all(prior in run["fits"] for run in runs.values())]
    out = {}
    for prior in priors:
        out[prior] = {}
        for part in ("support", "background"):
            rows = [(run["fits"][prior]["coverage"][part], _count(run, prior, part)) for run in runs.values()
                    if part in run["fits"][prior]["coverage"]]
            if rows:
                cov, n = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
                out[prior][part] = ((cov * n[:, None]).sum(0) / n.sum()).tolist()
    return out


def _count(run: dict, prior: str, part: str) -> int:
    n = run["fits"][prior]["n_support"]
    return n if part == "support" else LAGS * SHAPE[0] * SHAPE[1] - n


def _command(args: argparse.Namespace) -> str:
    """The command that writes the file: its stimulus and frames per weight (``--families``, ``--seeds`` and
    ``--priors`` only split a run)."""
    return " ".join(["python benchmarks/bench_truth_families.py",
                     *(["--stimulus", args.stimulus] if args.stimulus != "binary" else []),
                     *(["--nd", str(args.nd)] if args.nd != ND else [])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", choices=list(TRUTHS), default=list(TRUTHS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--priors", nargs="+", default=list(PRIORS), help="add these priors' fits to stored runs")
    parser.add_argument("--stimulus", choices=["binary", "gaussian"], default="binary",
                        help="frames: +-1, or standard normal (written to docs/truth_families_gaussian.json)")
    parser.add_argument("--nd", type=int, default=ND, help=f"frames per weight (not {ND}: written to "
                        "docs/truth_families[_gaussian]_nd<ND>.json)")
    args = parser.parse_args()
    name = "truth_families" + ("" if args.stimulus == "binary" else f"_{args.stimulus}") \
        + ("" if args.nd == ND else f"_nd{args.nd}")
    out = DOCS / f"{name}.json"
    stored = json.loads(out.read_text()) if out.exists() else {"families": {}}
    stored |= {"shape": list(SHAPE), "lags": LAGS, "rf_norm": RF_NORM, "nd": args.nd, "rate": RATE, "dt": DT,
               "stimulus": args.stimulus,
               "priors": list(PRIORS), "levels": list(LEVELS), "support_threshold": SUPPORT, "fit": FIT,
               "file": out.name, "command": _command(args)}
    for family in args.families:
        entry = stored["families"].setdefault(family, {"runs": {}})
        for seed in args.seeds:
            new = run_one(family, seed, tuple(args.priors), args.stimulus, args.nd)
            old = entry["runs"].get(str(seed))
            entry["runs"][str(seed)] = merged(old, new) if old and not set(args.priors) & set(old["fits"]) else new
            entry["pooled"] = pooled(entry["runs"])
            out.write_text(json.dumps(stored, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
