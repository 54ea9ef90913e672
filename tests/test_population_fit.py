"""fit_population on a real dask.distributed LocalCluster (2 worker processes): NWB in, flags and
centres against the simulation's truth, a bad unit, an interrupted run that resumes, a killed worker,
and the same draws as a sequential run."""

import json
import os
import signal
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import xarray as xr
from threadpoolctl import threadpool_limits

import bayesrf
from bayesrf.criticism import check
from bayesrf.population_fit import fit_population, local_cluster
from bayesrf.population_store import load_population_result
from bayesrf.simulate import simulate_population

pytestmark = pytest.mark.slow
LAPLACE = {"lags": 4, "method": "laplace", "draws": 500, "chains": 2, "progress": False}


@pytest.fixture(scope="module")
def client():
    """fit_population's own LocalCluster (:func:`bayesrf.population_fit.local_cluster`), 2 workers."""
    from distributed import Client

    with local_cluster(2) as cluster, Client(cluster, set_as_default=False) as dask_client:
        yield dask_client


def _profiler_enabled() -> bool:
    import dask

    return dask.config.get("distributed.worker.profile.enabled")


def test_own_cluster_follows_the_profiler_benchmark(client):
    """local_cluster's workers run dask's profiler exactly when docs/dask_profiler.json's decision keeps it on
    (dask's own default is on)."""
    decision = json.loads((Path(__file__).resolve().parent.parent / "docs" / "dask_profiler.json").read_text())
    assert set(client.run(_profiler_enabled).values()) == {not decision["profiler_off"]}


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    """Six simulated units (seed 2: one without an RF, five with), written to NWB and read back."""
    sim = simulate_population(n_units=6, n_frames=2000, shape=(8, 10), lags=4, no_rf=0.3, seed=2)
    path = bayesrf.save_population(sim, tmp_path_factory.mktemp("pop") / "pop.nwb")
    return bayesrf.load_population(path)


def _mtimes(store):
    return {p.name: p.stat().st_mtime_ns for p in (store / "units").glob("*.nc")}


def test_population_end_to_end(population, client, tmp_path):
    bad = population.copy(deep=True)
    bad["counts"] = bad["counts"].astype(np.int32)
    bad["counts"].loc[{"unit": 5}] = -1  # this unit's data are broken; the others must not care
    store = tmp_path / "store"
    first = fit_population(bad, "ridge", out=store, units=[0, 1], client=client, **LAPLACE)  # an interrupted run
    assert first["summary"].sizes["unit"] == 2
    before = _mtimes(store)
    result = fit_population(bad, "ridge", out=store, client=client, **LAPLACE)
    after = _mtimes(store)
    assert all(after[name] == stamp for name, stamp in before.items()), "units done before were refitted"
    summary = result["summary"].to_dataset()
    assert summary["status"].sel(unit=5).item() == "failed"
    assert "counts must be >= 0" in summary["error"].sel(unit=5).item()
    done = summary.sel(unit=[0, 1, 2, 3, 4])
    assert (done["status"] == "done").all() and set(result["units"].children) == {"0", "1", "2", "3", "4"}
    truth = population.sel(unit=done.unit)
    np.testing.assert_array_equal(done["has_rf"].values.astype(bool), truth["has_rf"].values)
    rf_units = truth.unit.values[truth["has_rf"].values]
    d = np.stack([done["center_y"] - truth["center_y"], done["center_x"] - truth["center_x"]], axis=-1)
    d = d[truth["has_rf"].values]
    cov = np.stack([np.stack([done["center_cov_yy"], done["center_cov_yx"]], -1),
                    np.stack([done["center_cov_yx"], done["center_cov_xx"]], -1)], -2)[truth["has_rf"].values]
    mahalanobis = np.einsum("ui,uij,uj->u", d, np.linalg.inv(cov), d)
    inside = mahalanobis <= scipy.stats.chi2.ppf(0.94, 2)
    assert np.abs(d).max() < 1.0, f"centres off by up to {np.abs(d).max():.2f} px"
    assert inside.mean() >= 0.5, f"only units {rf_units[inside]} of {rf_units} lie inside their 94 % ellipses"
    on = truth["rf_type"].sel(unit=rf_units).values == "on-center"
    assert (done["polarity"].sel(unit=rf_units).values[on] == "ON").all()
    csv = (store / "summary.csv").read_text().splitlines()
    assert len(csv) == 7 and csv[0].startswith("unit,")
    (store / "summary.csv").unlink()
    load_population_result(store)  # reading a store writes nothing (a read-only store must load)
    assert not (store / "summary.csv").exists()
    index = json.loads((store / "index.json").read_text())
    assert index["5"]["status"] == "failed" and index["0"]["status"] == "done"
    again = fit_population(bad, "ridge", out=store, client=client, **LAPLACE)  # resumes: refits only the failed unit
    assert _mtimes(store) == after and again["summary"]["status"].sel(unit=5).item() == "failed"
    rerun = bayesrf.population_fit.fit_unit(  # dask reruns a recorded task whose worker died: no refit, no write
        bad[["stim", "duration"]], 0, bad["counts"].sel(unit=0).values, {}, "{}", {"key": index["0"]["key"]},
        str(store))
    assert rerun == json.loads((store / "index.json").read_text())["0"] and _mtimes(store) == after


def test_a_killed_worker_loses_no_unit(population, client, tmp_path):
    store = tmp_path / "store"
    pids = list(client.run(os.getpid).values())
    errors = []

    def run():
        try:
            fit_population(population, "ridge", out=store, units=[0, 1, 2, 3], client=client, **LAPLACE)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while not list((store / "units").glob("*.nc")) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(pids[0], signal.SIGKILL)  # mid-run: one unit written, others running on both workers
    thread.join(timeout=600)
    assert not errors, errors
    result = load_population_result(store)
    assert (result["summary"]["status"] == "done").all() and result["summary"].sizes["unit"] == 4
    assert not list((store / "units").glob(".*.tmp")), "a killed worker's temporary file was left behind"
    client.wait_for_workers(2, timeout=60)


def test_cluster_draws_equal_sequential_sample(population, client, tmp_path):
    settings = {"lags": 3, "draws": 60, "tune": 60, "chains": 2, "seed": 4}
    result = fit_population(population, "ridge", out=tmp_path / "nuts", units=[4], client=client,
                            method="nuts", progress=False, **settings)
    unit = 4  # one unit: a cluster's draws equal those of sample() on one process
    # one BLAS thread, as on the workers: a different summation order moves the MAP start in the last bits;
    # 60 draws fail the diagnostics: recorded and compared, not silenced
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bayesrf.BayesRFWarning)
        alone = bayesrf.sample(population.sel(unit=unit), "ridge", **settings)
    stored_attrs = result["units"][str(unit)].attrs
    assert stored_attrs["max_rhat"] == pytest.approx(alone.attrs["max_rhat"], rel=1e-6)
    assert bool(stored_attrs["diagnostics_ok"]) == (not caught) == bool(alone.attrs["diagnostics_ok"])
    stored = result["units"][str(unit)]["posterior"]["rf"]
    np.testing.assert_array_equal(stored.values, alone["posterior"]["rf"].values.astype(np.float32))
    assert stored.dtype == np.float32
    xr.testing.assert_equal(result["units"][str(unit)]["observed_data"]["counts"],
                            alone["observed_data"]["counts"])
    restored = bayesrf.unit_result(tmp_path / "nuts", unit, population)  # the stimulus put back
    xr.testing.assert_equal(restored["constant_data"]["stim"], alone["constant_data"]["stim"])
    ppc = bayesrf.posterior_predictive(restored, seed=0)["posterior_predictive"]["counts"]
    want = bayesrf.posterior_predictive(alone, seed=0)["posterior_predictive"]["counts"]
    assert ppc.shape == want.shape and np.mean(ppc.values == want.values) > 0.99  # float32 draws: rare flips
    checked, fresh = (check(r, seed=0)["checks"][0] for r in (restored, alone))  # bayesrf check on a stored unit
    assert checked["p"] == pytest.approx(fresh["p"], abs=0.05)
    with pytest.raises(bayesrf.DataError, match="other data than the unit stored"):
        bayesrf.unit_result(tmp_path / "nuts", 4, population.assign_attrs(sha256="0" * 64))  # another file
    with pytest.raises(bayesrf.DataError, match="unit 0 has no stored result"):
        bayesrf.unit_result(tmp_path / "nuts", 0, population)


def test_cli_fit_population_summary_and_plot(population, client, tmp_path, capsys):
    from bayesrf.cli import main

    path = bayesrf.save_population(population.sel(unit=[0, 2, 4]), tmp_path / "three.nwb")
    store, figures = tmp_path / "store", tmp_path / "figures"
    assert main(["fit-population", str(path), "--prior", "ridge", "--set", "likelihood.family=negative-binomial",
                 "--method", "map", "--lags", "3", "--scheduler", client.scheduler.address, "--out", str(store)]) == 0
    assert "count_overdispersion" in load_population_result(store)["units"]["2"]["posterior"]  # --set reached the fits
    import dask

    assert dask.config.get("scheduler", None) is None, "fit-population left its client as dask's global scheduler"
    assert main(["summary", str(store)]) == 0
    printed = capsys.readouterr()
    assert "3 of 3 units fitted" in printed.out
    assert [printed.err.count(f"unit {u}: ") for u in (0, 2, 4)] == [1, 1, 1]  # one line per unit, above the bar
    assert "3/3 [" in printed.err and ("unit/s]" in printed.err or "s/unit]" in printed.err)  # tqdm: elapsed<ETA, rate
    assert main(["plot", str(store), "--out", str(figures)]) == 0
    capsys.readouterr()
    assert main(["check", str(store)]) == 2  # a store keeps no stimulus: it asks for the recording
    assert "--population" in capsys.readouterr().err
    assert main(["check", str(store), "--population", str(path), "--unit", "2"]) == 2  # MAP fits: one point
    assert "at least 20 posterior draws" in capsys.readouterr().err
    assert sorted(p.name for p in figures.glob("*.png")) == [
        "population_atlas.png", "population_evidence.png", "population_retinotopy.png", "population_timecourses.png"]


def test_screening_fits_nuts_only_where_there_is_evidence(population, client, tmp_path):
    store = tmp_path / "store"
    result = fit_population(population, "ridge", out=store, units=[0, 1, 2], client=client, method="nuts",
                            screen="ridge", lags=3, draws=50, tune=50, chains=2, progress=False)
    summary = result["summary"].to_dataset()
    truth = population["has_rf"].sel(unit=[0, 1, 2]).values  # unit 0 has no RF
    expected = np.where(truth, "done", "screened out")
    np.testing.assert_array_equal(summary["status"].sel(unit=[0, 1, 2]).values, expected)
    assert set(result["units"].children) == {str(u) for u in (0, 1, 2) if truth[u]}
    assert result["units"]["1"].attrs["method"] == "nuts"
    assert sorted(p.stem for p in (store / "screen" / "units").glob("*.nc")) == ["0", "1", "2"]  # Laplace for all


def test_other_likelihoods_score_evidence_against_their_own_baseline_only_model(client, tmp_path):
    """Overdispersed units (negative binomial, phi = 0.5): fit_population fits them with that likelihood and
    scores each against a negative-binomial baseline-only model; the flags follow the truth."""
    pop = simulate_population(n_units=3, n_frames=2000, shape=(6, 6), lags=3, no_rf=0.4, rate=(20.0, 40.0),
                              likelihood="negative-binomial", dispersion=0.5, seed=4)
    assert pop["has_rf"].values.tolist() == [False, True, False]
    spec = bayesrf.load_prior("ridge", ["likelihood.family=negative-binomial"])
    result = fit_population(pop, spec, out=tmp_path / "nb", units=[1, 2], client=client, lags=3, draws=200, tune=200,
                            chains=2, progress=False)
    summary = result["summary"].to_dataset()
    assert (summary["status"] == "done").all(), summary["error"].values if "error" in summary else ""
    np.testing.assert_array_equal(summary["has_rf"].values.astype(bool), [True, False])
    assert "count_overdispersion" in result["units"]["1"]["posterior"]
    with pytest.raises(bayesrf.SpecError, match=r"fit_population\(method='nuts'\)"):
        fit_population(pop, spec, out=tmp_path / "laplace", client=client, method="laplace", progress=False)


def test_orphaned_temporary_files_are_removed(tmp_path):
    from bayesrf.population_store import remove_orphans

    (tmp_path / "units").mkdir()
    (tmp_path / "units" / ".3.nc.12345.tmp").write_bytes(b"half a file")
    (tmp_path / "units" / "3.nc").write_bytes(b"kept")
    assert remove_orphans(tmp_path) == 1
    assert [p.name for p in (tmp_path / "units").iterdir()] == ["3.nc"]
