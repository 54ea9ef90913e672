"""The ``bayesrf`` command line: a thin layer over the library.

    bayesrf fit [DATA] --prior local --lags 5 --draws 1000 --chains 4 --seed 0 --out results/fit.nc
    bayesrf plot results/fit.nc --out figures/
    bayesrf summary results/fit.nc [--json]
    bayesrf check results/fit.nc [--out figures/] [--json]    (or a sensitivity file [--fit LABEL], or a
                                                              population store --population REC.nwb [--unit ID])
    bayesrf simulate --out sim.nc [--frames 2000 --shape 15 15 --lags 5 ...]
    bayesrf convert data/nda_ex_6_data.mat neuron.nwb
    bayesrf fit-population session.nwb --prior local --workers 2 [--scheduler tcp://host:8786] --out fits/
    bayesrf sensitivity [DATA] --priors ridge lasso ridge-hier lasso-hier smooth local rank1 --scales 0.003 0.01 0.03 [--likelihoods poisson com-poisson] --out results/sensitivity.nc

``plot`` and ``summary`` also take a sensitivity file.

Errors print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from . import __version__
from .recording_io import load_recording, save_recording
from .errors import BayesRFError, BayesRFWarning
from .inference import fit_map, sample
from .nuts import DEFAULT_TUNE, SAMPLERS
from .population import convert, load_population
from .population_store import format_population
from .posterior import format_summary, summary
from .priors import DEFAULT_PRIOR, load_prior, prior_names
from .results import check_result, read_tree, save
from .comparison import compare, format_report, report
from .observation import LIKELIHOODS
from .sensitivity import DEFAULT_PRIORS, DEFAULT_SCALES, KIND, sensitivity
from .simulate import SPATIAL_SHAPES, TEMPORAL_SHAPES, simulate

__all__ = ["main"]


def _add_sampling(p: argparse.ArgumentParser, draws: int, tune: int | None) -> None:
    """Data and sampling options shared by ``fit`` and ``sensitivity``."""
    p.add_argument("data", nargs="?", default=None,
                   help="recording (.mat or NetCDF from 'bayesrf simulate'); default: the bundled real neuron")
    p.add_argument("--lags", type=int, default=5, help="number of lags (frames of history)")
    p.add_argument("--draws", type=int, default=draws, help="kept draws per chain")
    # "%(default).0s" prints nothing: it stops the formatter from appending "(default: None)"
    per_sampler = ", ".join(f"{steps} with {name}" for name, steps in DEFAULT_TUNE.items())
    tune_help = "tuning steps per chain" + ("" if tune else f" (default: {per_sampler})%(default).0s")
    p.add_argument("--tune", type=int, default=tune, help=tune_help)
    p.add_argument("--chains", type=int, default=4, help="number of chains")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same draws)")
    p.add_argument("--sampler", choices=SAMPLERS, default="nutpie", help="NUTS implementation")


def _add_overrides(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a prior field, e.g. --set prior.scale=0.3 or --set likelihood.family=com-poisson "
                        "(repeatable)")


def _add_fit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit", help="fit a recording (NUTS posterior, Laplace or MAP)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_sampling(p, draws=1000, tune=None)
    p.add_argument("--prior", default=DEFAULT_PRIOR, help=f"prior name ({', '.join(prior_names())}) or TOML path")
    _add_overrides(p)
    method = p.add_mutually_exclusive_group()
    method.add_argument("--map", action="store_true", help="only the posterior mode (MAP)")
    method.add_argument("--laplace", action="store_true", help="Gaussian approximation at the MAP (fixed-scale priors; ridge-hier with type-II ML scales)")
    p.add_argument("--no-progress", action="store_true", help="hide the sampler's progress bar")
    p.add_argument("--out", type=Path, default=Path("results/fit.nc"), help="output NetCDF file")


def _add_sensitivity(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sensitivity", help="fit several priors, scales and likelihoods; compare them (resumable)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_sampling(p, draws=250, tune=500)
    p.add_argument("--priors", nargs="+", default=list(DEFAULT_PRIORS), help="prior names or TOML paths")
    p.add_argument("--scales", nargs="+", type=float, default=list(DEFAULT_SCALES),
                   help="prior scales for the fixed-scale priors (hierarchical ones are fitted once)")
    p.add_argument("--likelihoods", nargs="+", choices=LIKELIHOODS, default=None,
                   help="fit every prior under each of these count distributions (default: each spec's own)")
    p.add_argument("--no-holdout", action="store_true", help="fit every interval (no held-out score)")
    p.add_argument("--no-cv", action="store_true", help="skip glum's cross-validated alphas")
    p.add_argument("--out", type=Path, default=Path("results/sensitivity.nc"),
                   help="output file; rerunning with the same settings resumes it")
    p.add_argument("--figures", type=Path, default=None, help="also write the study's figures to this folder")


def _add_plot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="write every figure of a fit", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("result", type=Path, help="file written by 'bayesrf fit' or 'bayesrf sensitivity', or a "
                                             "'bayesrf fit-population' store")
    p.add_argument("--out", type=Path, default=Path("figures"), help="figure folder")
    p.add_argument("--prob", type=float, default=None, help="HDI probability of bands and masks (default ArviZ's stats.ci_prob)")


def _add_summary(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summary", help="print diagnostics and posterior summaries of a fit",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("result", type=Path, help="file written by 'bayesrf fit' or 'bayesrf sensitivity', or a "
                                             "'bayesrf fit-population' store")
    p.add_argument("--prob", type=float, default=None, help="HDI probability (default ArviZ's stats.ci_prob)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _add_check(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="posterior predictive checks of the likelihood (dispersion, residual "
                       "autocorrelation, rootogram, rate per session segment), one verdict each",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("result", type=Path, help="file written by 'bayesrf fit' (NUTS or Laplace draws) or 'bayesrf "
                                             "sensitivity', or a 'bayesrf fit-population' store")
    p.add_argument("--fit", nargs="+", default=None, help="sensitivity study: the fits to check (default all)")
    p.add_argument("--unit", nargs="+", default=None, help="population store: the units to check (default all done)")
    p.add_argument("--population", type=Path, default=None,
                   help="population store: the recording its units were fitted on (.nwb or .npz)")
    p.add_argument("--segments", type=int, default=8, help="equal parts of the session for the rate check")
    p.add_argument("--out", type=Path, default=None, help="also write check.png into this folder")
    p.add_argument("--prob", type=float, default=None, help="interval probability (default ArviZ's stats.ci_prob)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="write a simulated LNP recording that 'fit' accepts",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output NetCDF file")
    p.add_argument("--frames", type=int, default=2000, help="number of frame intervals")
    p.add_argument("--shape", type=int, nargs=2, default=[15, 15], metavar=("NY", "NX"), help="frame grid (pixels)")
    p.add_argument("--lags", type=int, default=5, help="lags of the true RF")
    p.add_argument("--spatial", choices=sorted(SPATIAL_SHAPES), default="gabor", help="spatial map")
    p.add_argument("--temporal", choices=TEMPORAL_SHAPES, default="biphasic", help="time course")
    p.add_argument("--rf-norm", type=float, default=1.0, help="L2 norm of the RF (log-rate per unit contrast)")
    p.add_argument("--stimulus", choices=("binary", "gaussian"), default="binary", help="white-noise frames")
    p.add_argument("--rate", type=float, default=20.0, help="baseline rate (spikes/s)")
    p.add_argument("--dt", type=float, default=0.1, help="frame duration (s)")
    p.add_argument("--jitter", type=float, default=0.0, help="relative jitter of frame durations")
    p.add_argument("--drift", type=float, default=0.0, help="linear log-rate drift over the session")
    p.add_argument("--seed", type=int, default=0, help="random seed")


def _add_convert(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a recording to NWB (.nwb) or NetCDF (.nc)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("source", type=Path, help="a .mat (single neuron), .npz, NWB or NetCDF recording")
    p.add_argument("target", type=Path, help="output file: .nwb for NWB, anything else for NetCDF")


def _add_fit_population(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit-population", help="fit every unit of a population on dask.distributed (resumable)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("data", type=Path, help="population: NWB, .npz, NetCDF, or a single-neuron .mat")
    p.add_argument("--prior", default="local", help=f"prior name ({', '.join(prior_names())}) or TOML path")
    _add_overrides(p)
    p.add_argument("--lags", type=int, default=5, help="number of lags (frames of history)")
    p.add_argument("--method", choices=("nuts", "laplace", "map"), default="nuts", help="fit of each unit")
    p.add_argument("--draws", type=int, default=1000, help="kept draws per chain")
    p.add_argument("--tune", type=int, default=None, help="tuning steps per chain (default: the sampler's)")
    p.add_argument("--chains", type=int, default=4, help="number of chains")
    p.add_argument("--seed", type=int, default=0, help="random seed (the same for every unit)")
    p.add_argument("--units", nargs="+", default=None, help="unit ids to fit (default all)")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default one per core)")
    p.add_argument("--scheduler", default=None, help="address of a running dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--screen", default=None, metavar="PRIOR",
                   help="fit every unit by Laplace with this fixed-scale prior first; fit only units with an RF")
    p.add_argument("--out", type=Path, required=True, help="store directory (rerunning resumes it)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``bayesrf`` (one sub-command per job)."""
    parser = argparse.ArgumentParser(prog="bayesrf", description="Bayesian LNP receptive fields with uncertainty.")
    parser.add_argument("--version", action="version", version=f"bayesrf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_fit, _add_sensitivity, _add_plot, _add_summary, _add_check, _add_simulate, _add_convert,
                _add_fit_population):
        add(sub)
    return parser


def _fit(args: argparse.Namespace) -> None:
    rec = load_recording(args.data)
    spec = load_prior(args.prior, args.overrides)
    started = time.perf_counter()
    if args.map:
        tree = fit_map(rec, spec, lags=args.lags)
    else:
        progress = not args.no_progress and sys.stderr.isatty()
        print(f"fitting {rec.sizes['time']} frames of {rec.sizes['y']}x{rec.sizes['x']} px with prior "
              f"{spec.name!r}, {args.lags} lags...", file=sys.stderr, flush=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", BayesRFWarning)
            tree = sample(rec, spec, lags=args.lags, draws=args.draws, tune=args.tune, chains=args.chains,
                          seed=args.seed, sampler=args.sampler, method="laplace" if args.laplace else "nuts",
                          progress=progress)
        for w in caught:
            print(f"bayesrf: warning: {w.message}", file=sys.stderr)
    path = save(tree, args.out)
    print(f"wrote {path} in {time.perf_counter() - started:.1f} s")
    print(format_summary(summary(tree)))


def _sensitivity(args: argparse.Namespace) -> None:
    rec = load_recording(args.data)
    test = np.zeros(rec.sizes["time"], dtype=bool) if args.no_holdout else None
    sweep = sensitivity(rec, priors=args.priors, scales=args.scales, likelihoods=args.likelihoods, lags=args.lags, draws=args.draws,
                        tune=args.tune, chains=args.chains, seed=args.seed, sampler=args.sampler, test=test,
                        out=args.out, cv=not args.no_cv)
    print(f"wrote {args.out}")
    comparison = compare(sweep)
    if args.figures is not None:
        from .plots import write_sensitivity_figures

        for path in write_sensitivity_figures(comparison, args.figures):
            print(path)
    print(format_report(report(comparison)))


def _fit_population(args: argparse.Namespace) -> None:
    from .population_fit import fit_population

    pop = load_population(args.data)
    units = None if args.units is None else [_unit_id(u, pop) for u in args.units]
    result = fit_population(pop, load_prior(args.prior, args.overrides), out=args.out, lags=args.lags,
                            method=args.method, draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed, units=units, client=args.scheduler,
                            workers=args.workers, screen=args.screen)
    print(format_population(result["summary"].to_dataset()))


def _unit_id(text: str, pop: xr.Dataset) -> object:
    """A unit id from the command line, typed like the population's ids."""
    return int(text) if np.issubdtype(pop["unit"].dtype, np.integer) else text


def _open(path: Path) -> tuple[bool, xr.DataTree]:
    """(is it a sensitivity study, its tree): ``plot`` and ``summary`` take both kinds of file."""
    tree = read_tree(path)
    return (True, tree) if tree.attrs.get("kind") == KIND else (False, check_result(tree, path))


def _plot(args: argparse.Namespace) -> None:
    from .plots import write_figures, write_sensitivity_figures

    if args.result.is_dir():
        from .population_store import load_population_result
        from .population_plots import write_population_figures

        for path in write_population_figures(load_population_result(args.result), args.out, prob=args.prob):
            print(path)
        return
    is_sweep, tree = _open(args.result)
    if is_sweep:
        paths = write_sensitivity_figures(compare(tree, prob=args.prob), args.out)
    else:
        paths = write_figures(tree, args.out, prob=args.prob)
    for path in paths:
        print(path)


def _summary(args: argparse.Namespace) -> None:
    if args.result.is_dir():
        from .population_store import population_summary

        table = population_summary(args.result)
        print(table.to_dataframe().to_json(orient="index", indent=1) if args.json else format_population(table))
        return
    is_sweep, tree = _open(args.result)
    if is_sweep:
        rep = report(compare(tree, prob=args.prob))
        print(json.dumps(rep, indent=2) if args.json else format_report(rep))
    else:
        rep = summary(tree, prob=args.prob)
        print(json.dumps(rep, indent=2) if args.json else format_summary(rep))


def _fits_to_check(args: argparse.Namespace) -> dict[str, xr.DataTree]:
    """The fits ``bayesrf check`` looks at, by label: one fit, a sensitivity study's fits (or ``--fit``), or a
    population store's finished units (or ``--unit``) with their stimulus restored from ``--population``."""
    if args.result.is_dir():
        from .population_fit import unit_result
        from .population_store import read_index

        if args.population is None:
            raise BayesRFError(f"{args.result} is a population store: its units keep no stimulus; pass the recording "
                               "they were fitted on with --population REC.nwb.")
        pop = load_population(args.population)
        done = [unit for unit, row in read_index(args.result).items() if row.get("status") == "done"]
        units = args.unit or done
        return {f"unit {u}": unit_result(args.result, _unit_id(str(u), pop), pop) for u in units}
    is_sweep, tree = _open(args.result)
    if not is_sweep:
        return {str(args.result): tree}
    from .sensitivity import fit_result

    return {label: fit_result(tree, label) for label in (args.fit or list(tree["fits"].children))}


def _check(args: argparse.Namespace) -> None:
    from .criticism import as_json, check, format_check

    reports = {label: check(tree, segments=args.segments, prob=args.prob)
               for label, tree in _fits_to_check(args).items()}
    if args.json:
        print(json.dumps({label: as_json(rep) for label, rep in reports.items()}, indent=2, default=float)
              if len(reports) > 1 else json.dumps(as_json(*reports.values()), indent=2, default=float))
    else:
        print("\n\n".join(f"{label}\n{format_check(rep)}" if len(reports) > 1 else format_check(rep)
                          for label, rep in reports.items()))
    if args.out is not None:
        from .plots import plot_check, save_figures

        args.out.mkdir(parents=True, exist_ok=True)
        names = {label: "check" if len(reports) == 1 else f"check_{label.replace(' ', '_')}" for label in reports}
        for path in save_figures({names[label]: plot_check(rep) for label, rep in reports.items()}, args.out, dpi=110):
            print(path)


def _simulate(args: argparse.Namespace) -> None:
    rec = simulate(n_frames=args.frames, shape=tuple(args.shape), lags=args.lags, spatial=args.spatial,
                   temporal=args.temporal, rf_norm=args.rf_norm, stimulus=args.stimulus, rate=args.rate, dt=args.dt,
                   jitter=args.jitter, drift=args.drift, seed=args.seed)
    path = save_recording(rec, args.out)
    print(f"wrote {path}: {rec.sizes['time']} frames, {int(rec.counts.sum())} spikes")


def _convert(args: argparse.Namespace) -> None:
    path = convert(args.source, args.target)
    pop = load_population(path)
    print(f"wrote {path}: {pop.sizes['unit']} unit(s), {pop.sizes['time']} frames, {int(pop.counts.sum())} spikes")


COMMANDS = {"fit": _fit, "sensitivity": _sensitivity, "plot": _plot, "summary": _summary, "check": _check,
            "simulate": _simulate,
            "convert": _convert, "fit-population": _fit_population}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bayesrf`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except BayesRFError as exc:
        print(f"bayesrf: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
