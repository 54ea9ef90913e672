"""The command line end to end: simulate -> fit -> summary -> plot, and its errors."""

import json
import subprocess
import sys

import pytest

from bayesrf.cli import main


def run(*args):
    """Run ``bayesrf`` in a fresh process (as a user would) and return the completed process."""
    return subprocess.run([sys.executable, "-m", "bayesrf.cli", *args], capture_output=True, text=True, timeout=900)


def simulate_and_fit(tmp_path, frames: str, shape: tuple[str, str], sim_seed: str, *fit_args: str):
    """``bayesrf simulate`` (2 lags) then ``bayesrf fit`` on it; returns the fit's path and a figures folder."""
    sim, fit = tmp_path / "sim.nc", tmp_path / "fit.nc"
    assert main(["simulate", "--out", str(sim), "--frames", frames, "--shape", *shape, "--lags", "2",
                 "--seed", sim_seed]) == 0
    assert main(["fit", str(sim), "--lags", "2", *fit_args, "--out", str(fit), "--no-progress"]) == 0
    return fit, tmp_path / "figs"


@pytest.mark.slow
def test_simulate_fit_summary_plot(tmp_path):
    fit, figs = simulate_and_fit(tmp_path, "1200", ("5", "4"), "1", "--prior", "ridge-hier", "--draws", "300",
                                 "--tune", "300", "--chains", "2", "--seed", "3")
    done = run("summary", str(fit), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["fit"]["prior"] == "ridge-hier" and report["fit"]["draws"] == 300
    assert {"max_rhat", "min_ess_bulk", "n_divergent"} <= set(report["diagnostics"])
    assert "SVD component 1" in run("summary", str(fit)).stdout
    assert main(["plot", str(fit), "--out", str(figs)]) == 0
    written = {p.name for p in figs.iterdir()}
    assert {"rf_posterior.png", "rf_sd.png", "svd.png", "compare.png", "ppc.png", "diagnostics_trace.png"} <= written


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:sampling diagnostics failed:bayesrf.BayesRFWarning")  # 2 x 100 draws: diagnostics may fail
def test_structured_prior_through_fit_summary_plot(tmp_path):
    fit, figs = simulate_and_fit(tmp_path, "600", ("6", "5"), "2", "--prior", "rank1", "--set", "structure.local=true",
                                 "--draws", "100", "--tune", "100", "--chains", "2")
    report = json.loads(run("summary", str(fit), "--json").stdout)
    assert {"rf_amplitude[0]", "rf_length[y]", "rf_center[x]", "rf_width[y]", "rf_time[0, 1]"} <= set(report["parameters"])
    assert main(["plot", str(fit), "--out", str(figs)]) == 0
    assert {"svd.png", "diagnostics_trace.png"} <= {p.name for p in figs.iterdir()}


@pytest.mark.slow
def test_fit_summary_plot_on_the_real_file_with_few_draws(tmp_path):
    fit = tmp_path / "real.nc"
    done = run("fit", "data/nda_ex_6_data.mat", "--draws", "100", "--tune", "150", "--chains", "2",
               "--out", str(fit), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "SVD component 1" in done.stdout and "diagnostics:" in done.stdout
    assert main(["plot", str(fit), "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "rf_posterior.png").stat().st_size > 10_000


@pytest.mark.slow
def test_fit_real_file_map_and_laplace(tmp_path, capsys):
    real = "data/nda_ex_6_data.mat"
    assert main(["fit", real, "--map", "--prior", "ridge", "--set", "prior.scale=0.02", "--out",
                 str(tmp_path / "map.nc")]) == 0
    assert main(["fit", "--laplace", "--prior", "ridge", "--draws", "200", "--chains", "1",
                 "--out", str(tmp_path / "lap.nc")]) == 0
    out = capsys.readouterr().out
    assert "laplace" in out and "credible weights per lag" in out


def test_errors_are_one_line_without_traceback(tmp_path):
    done = run("fit", str(tmp_path / "absent.mat"), "--map")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no recording file" in done.stderr
    bad = run("fit", "--map", "--prior", "ridg")
    assert bad.returncode == 2 and "Did you mean 'ridge'" in bad.stderr and "Traceback" not in bad.stderr
    override = run("fit", "--map", "--prior", "ridge", "--set", "prior.scale=-1")
    assert override.returncode == 2 and "prior.scale must be a number > 0" in override.stderr
    unused = run("fit", "--map", "--set", "prior.scale=0.1")  # the default prior learns its scales
    assert unused.returncode == 2 and "prior.scale is not used" in unused.stderr


HELP_OPTIONS = {
    "fit": ("--prior", "--draws", "--tune", "--chains", "--seed", "--set", "--map", "--laplace", "--out"),
    "plot": ("--out", "--prob"),
    "summary": ("--prob", "--json"),
    "simulate": ("--out", "--frames", "--shape", "--lags", "--seed"),
}


@pytest.mark.parametrize("command", sorted(HELP_OPTIONS))
def test_help_lists_options_with_defaults(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    missing = [option for option in HELP_OPTIONS[command] if option not in text]
    assert not missing, f"bayesrf {command} --help does not list {missing}"
    if command == "fit":
        assert "(default: 1000)" in text  # defaults are shown
