"""Posterior predictive checks of the likelihood, on counts drawn here with known departures from Poisson."""

import dataclasses
import json

import numpy as np
import pytest

import bayesrf
from bayesrf.criticism import check, format_check

T, LAGS = 3000, 2


def _truth():
    """Frames, true RF and intercept from bayesrf.simulate; the expected counts are computed here."""
    rec = bayesrf.simulate(n_frames=T, shape=(4, 4), lags=LAGS, rate=10.0, rf_norm=1.0, seed=11)
    stim = rec["stim"].values.reshape(T, -1)
    rf = rec["rf_true"].values.reshape(LAGS, -1)
    drive = np.zeros(T)
    for lag in range(LAGS):  # lag 0 = the frame on screen during the count
        drive[lag:] += stim[: T - lag] @ rf[lag]
    mu = np.exp(rec.attrs["intercept_true"] + drive) * rec["duration"].values
    return rec, mu


def _counts(kind: str, mu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if kind == "poisson":
        return rng.poisson(mu)
    if kind == "overdispersed":  # negative binomial, mean mu, variance mu + mu^2 / 2
        return rng.negative_binomial(2, 2 / (2 + mu))
    if kind == "underdispersed":  # binomial, mean mu, variance about mu / 2
        n = np.ceil(2 * mu).astype(int) + 1
        return rng.binomial(n, mu / n)
    if kind == "autocorrelated":  # a slow AR(1) gain on the rate
        z = np.zeros(T)
        for t in range(1, T):
            z[t] = 0.9 * z[t - 1] + 0.2 * rng.normal()
        return rng.poisson(mu * np.exp(z))
    step = np.where(np.arange(T) >= T * 7 // 8, 0.2, 1.0)  # the rate collapses in the last eighth
    return rng.poisson(mu * step)


@pytest.fixture(scope="module")
def reports():
    rec, mu = _truth()
    # a weak ridge (the shipped scale is set for 1,500 weights and would shrink this strong RF: its rate misfit
    # then fails the dispersion check, rightly) and a constant baseline, which cannot follow a step
    spec = dataclasses.replace(bayesrf.load_prior("ridge"), scale=1.0, baseline_kind="constant")
    out = {}
    for i, kind in enumerate(("poisson", "overdispersed", "underdispersed", "autocorrelated", "step")):
        data = rec.assign(counts=("time", _counts(kind, mu, np.random.default_rng(i))))
        fit = bayesrf.sample(data, spec, lags=LAGS, method="laplace", draws=400, chains=1, seed=0)
        out[kind] = check(fit)
    return out


def _verdicts(report):
    return {c["name"]: c for c in report["checks"]}


def test_poisson_counts_pass_every_check(reports):
    checks = _verdicts(reports["poisson"])
    assert all(c["ok"] for c in checks.values()), format_check(reports["poisson"])
    assert checks["dispersion"]["statistic"] == pytest.approx(1.0, abs=0.08)


@pytest.mark.parametrize("kind, failing, words", [
    ("overdispersed", "dispersion", "overdispersed"),
    ("underdispersed", "dispersion", "underdispersed"),
    ("autocorrelated", "autocorrelation", "autocorrelated"),
    ("step", "segments", "misses segment 8/8"),
])
def test_each_departure_fails_its_check(reports, kind, failing, words):
    checks = _verdicts(reports[kind])
    assert not checks[failing]["ok"] and words in checks[failing]["verdict"], format_check(reports[kind])


def test_dispersion_statistic_matches_the_simulated_variance(reports):
    """Pearson dispersion estimates the interval average of Var/E of the counts given the rate:
    1 + mu/2 for the negative binomial, 1 - p = 1 - mu/n for the binomial."""
    _, mu = _truth()
    mu = mu[LAGS - 1 :]  # the fitted intervals
    over = _verdicts(reports["overdispersed"])["dispersion"]["statistic"]
    assert over == pytest.approx(np.mean(1 + mu / 2), rel=0.15)
    under = _verdicts(reports["underdispersed"])["dispersion"]["statistic"]
    assert under == pytest.approx(np.mean(1 - mu / (np.ceil(2 * mu) + 1)), rel=0.1)


def test_cli_check_prints_verdicts_json_and_figure(tmp_path, capsys):
    from bayesrf.cli import main

    rec, mu = _truth()
    path = bayesrf.save_recording(rec.assign(counts=("time", _counts("underdispersed", mu, np.random.default_rng(0)))),
                                  tmp_path / "under.nc")
    fit = tmp_path / "fit.nc"
    assert main(["fit", str(path), "--laplace", "--prior", "ridge", "--set", "prior.scale=1.0", "--lags", "2",
                 "--draws", "200", "--chains", "1", "--out", str(fit)]) == 0
    capsys.readouterr()
    assert main(["check", str(fit), "--out", str(tmp_path / "figs")]) == 0
    text = capsys.readouterr().out
    assert "FAIL dispersion" in text and "underdispersed" in text and (tmp_path / "figs" / "check.png").is_file()
    assert main(["check", str(fit), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in rep["checks"]] == ["dispersion", "autocorrelation", "rootogram", "segments"]
    assert sum(rep["checks"][2]["observed"]) == rec.sizes["time"] - (LAGS - 1)  # every fitted interval counted once
