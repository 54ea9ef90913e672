"""``make demo``: fit the bundled neuron (read through NWB), write its posterior and figures, print the summary.

Run as ``python -m bayesrf.demo [--out figures]``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import xarray as xr

from . import fit_ml, rf_svd, sample, save
from .recording_io import BUNDLED_RECORDING
from .criticism import check, format_check
from .errors import BayesRFWarning
from .population import convert, load_population
from .plots import plot_rf_rows, plot_svd, write_figures
from .posterior import format_summary, summary
from .priors import DEFAULT_PRIOR, load_prior

DEMO_LIKELIHOOD = "com-poisson"
"""Count distribution of the demo's NUTS fit. Given their rate, the bundled neuron's counts are underdispersed:
against the Poisson, the COM-Poisson gains several standard errors of held-out log predictive density and of
ELPD-LOO (``docs/likelihood_real.json``; ``tests/test_readme.py`` checks it). Spike history and a steps baseline
gain less on top of it, and the two criteria rank those two in opposite order, so the demo keeps the default
prior's spline baseline and no history. The package default stays Poisson: other cells are overdispersed."""
RIDGE_ALPHA = 3.0
"""Ridge strength of the demo (NLL/n scale; see :func:`bayesrf.fit_ml`), near the best
held-out log-likelihood of 5-fold contiguous-block cross-validation on this neuron."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("figures"), help="figure folder (default: figures)")
    parser.add_argument("--results", type=Path, default=Path("results"), help="posterior folder (default: results)")
    parser.add_argument("--draws", type=int, default=1000, help="NUTS draws per chain (default: 1000)")
    parser.add_argument("--chains", type=int, default=4, help="NUTS chains (default: 4)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rec = _through_nwb(args.results / "neuron.nwb")
    print(f"real neuron: {rec.sizes['time']} frames of {rec.sizes['y']}x{rec.sizes['x']} px, "
          f"{int(rec.counts.sum())} spikes")
    per_lag = fit_ml(rec, lags=5, per_lag=True)
    ridge = fit_ml(rec, lags=5, penalty="l2", alpha=RIDGE_ALPHA)
    fig = plot_rf_rows(
        [("ML, one lag at a time", per_lag.rf), (f"ridge, all lags (alpha={RIDGE_ALPHA})", ridge.rf)],
        title="Real neuron: RF at lags 0-4",
    )
    fig.savefig(args.out / "ml_rf_lags.png", dpi=110)
    svd = rf_svd(ridge.rf, n_components=2, center="time")  # ML has no drift term: remove lag-constant offsets
    plot_svd(svd, title="Real neuron (ridge fit): first space-time component").savefig(args.out / "ml_svd.png", dpi=110)
    for k in range(2):
        course = ", ".join(f"{v:+.2f}" for v in svd.temporal.sel(component=k).values)
        print(f"SVD component {k + 1}: explains {100 * float(svd.explained_variance[k]):.1f} %, "
              f"time course over lags 0-4: {course}")
    print(f"wrote {args.out / 'ml_rf_lags.png'} and {args.out / 'ml_svd.png'} in {time.perf_counter() - start:.1f} s")
    bayes_demo(rec, args)


def _through_nwb(path: Path) -> xr.Dataset:
    """The bundled neuron, converted to NWB and read back as a one-unit population (the NWB round trip
    gives the same counts, frames and durations as the .mat; the tests check it)."""
    convert(BUNDLED_RECORDING, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BayesRFWarning)
        pop = load_population(path)
    for note in caught:
        print(f"note: {note.message}")
    print(f"read {path} (NWB): {pop.sizes['unit']} unit, stimulus series {pop.attrs['stimulus_series']!r}")
    return pop.sel(unit=0)


def bayes_demo(rec, args: argparse.Namespace) -> None:
    """NUTS posterior with the default prior and the COM-Poisson: why those, then save it, summarise it, check it
    and draw every figure."""
    _print_study(Path("docs") / "sensitivity.json")
    _print_likelihoods(Path("docs") / "likelihood_real.json")
    label = f"{DEFAULT_PRIOR}-{DEMO_LIKELIHOOD}"
    print(f"sampling the {label} posterior (nutpie, {args.chains} chains x {args.draws} draws)...", flush=True)
    tree = fit_demo(rec, draws=args.draws, chains=args.chains)
    path = save(tree, args.results / f"posterior_{label}.nc")
    print(format_summary(summary(tree)))
    print(format_check(check(tree)))
    print(f"wrote {path}")
    for figure in write_figures(tree, args.out):
        print(f"wrote {figure}")


def fit_demo(rec: xr.Dataset, draws: int = 1000, chains: int = 4, **kwargs) -> xr.DataTree:
    """The demo's NUTS fit of a recording: the default prior with :data:`DEMO_LIKELIHOOD`, 5 lags, seed 0.

    ``benchmarks/bench_real_posterior.py`` stores this fit of the bundled neuron for the README; ``kwargs`` go
    to :func:`bayesrf.sample`.
    """
    spec = load_prior(DEFAULT_PRIOR, {"likelihood": {"family": DEMO_LIKELIHOOD}})
    return sample(rec, spec, lags=5, draws=draws, chains=chains, seed=0, **kwargs)


def _print_study(path: Path) -> None:
    """The stored prior study of this neuron (``benchmarks/bench_sensitivity.py``), best held-out score first."""
    if not path.is_file():
        return
    study = json.loads(path.read_text())
    print(f"prior study of this neuron ({path}; held-out log predictive density, nats, higher is better):")
    for fit in sorted(study["fits"], key=lambda f: -f["heldout_lpd"]):
        print(f"  {fit['label']:16s} {fit['heldout_lpd']:8.1f} ± {fit['heldout_lpd_se']:.1f}  ({fit['heldout_diff']:+.1f})")
    print(f"default prior: {DEFAULT_PRIOR} (the study's best: {study['best']})")


def _print_likelihoods(path: Path) -> None:
    """The stored likelihood study of this neuron (``benchmarks/bench_likelihood.py``), best held-out score first."""
    if not path.is_file():
        return
    study = json.loads(path.read_text())
    print(f"likelihood study of this neuron ({path}; nats above Poisson, held-out and ELPD-LOO):")
    for fit in sorted(study["fits"], key=lambda f: -f["heldout_diff_vs_poisson"]):
        print(f"  {fit['label']:34s} {fit['heldout_diff_vs_poisson']:+7.1f} ± {fit['heldout_diff_se']:4.1f}  "
              f"{fit['elpd_loo_diff_vs_poisson']:+7.1f} ± {fit['elpd_loo_diff_se']:4.1f}")
    print(f"demo likelihood: {DEMO_LIKELIHOOD}")


if __name__ == "__main__":
    main()
