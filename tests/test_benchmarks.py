"""The benchmark scripts still run against the current API (tiny problems; no timing is asserted).

``make bench`` is not part of CI; these tests keep its scripts from breaking unnoticed (a private call in
``bench_scaling`` did, for two sessions).
"""

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import bayesrf

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _benchmarks_on_path(monkeypatch):
    """Every test here loads benchmarks as ``python benchmarks/<name>.py`` runs them: with their folder on the path
    (some import another benchmark)."""
    monkeypatch.syspath_prepend(str(BENCH))


@pytest.mark.parametrize("name", sorted(p.stem for p in BENCH.glob("*.py")))
def test_benchmark_imports(name):
    assert callable(_load(name).main)


def test_bench_scaling_row_runs_on_a_tiny_recording():
    rec = bayesrf.simulate(n_frames=300, shape=(4, 4), lags=5, spatial="gabor", rf_norm=1.0, rate=20.0, seed=0)
    times, caught = _load("bench_scaling").row(rec)
    assert len(times) == 3 and all(np.isfinite(t) and t > 0 for t in times)
    assert all(isinstance(w, str) and ": " in w for w in caught)  # recorded as "Category: message" (session 52)


def test_bench_big_posterior_probe_runs_on_a_tiny_recording():
    from bayesrf.nuts import DEFAULT_TUNE

    bench = _load("bench_big_posterior")
    row = bench.probe(bench.recording(side=4, n_frames=300), "rank1", tune=20, draws=20)
    assert row["gradient_ms"] > 0 and row["steps_per_draw"] >= 1
    assert row["projected_default_s"] == pytest.approx(
        bench.DEFAULT_CHAINS * (DEFAULT_TUNE["nutpie"] + bench.DEFAULT_DRAWS) * row["steps_per_draw"] * row["gradient_ms"] / 1000 / bench.CORES)


def test_bench_big_posterior_full_run_scores_against_the_truth():
    """The amendment's default run, shrunk: every interval level scored, and the STA's error (with the script's own
    lags, not the peer benchmark's) equal to one computed here with numpy from the raw frames."""
    bench, peers = _load("bench_big_posterior"), _load("peers")
    rec = bench.recording(side=4, n_frames=300)
    row = bench.full_run(rec, "rank1", chains=2, tune=20, draws=20)
    assert (row["chains"], row["tune"], row["draws"]) == (2, 20, 20) and row["wall_time_s"] > 0
    assert {f"coverage_{round(100 * p)}" for p in peers.COVERAGE} <= set(row) and 0 <= row["coverage_95"] <= 1
    assert "diagnostics_ok" in row and row["n_divergent"] >= 0 and np.isfinite(row["map_error"])
    assert "type-II MAP" in row["map_solver"]
    frames = rec["stim"].values.reshape(rec.sizes["time"], -1)
    lagged = np.hstack([frames[bench.LAGS - 1 - lag:len(frames) - lag] for lag in range(bench.LAGS)])
    counts = rec["counts"].values[bench.LAGS - 1:]
    sta = (lagged - lagged.mean(0)).T @ (counts - counts.mean())
    assert row["sta_error"] == pytest.approx(1 - np.corrcoef(sta, rec["rf_true"].values.ravel())[0, 1], abs=1e-9)


def test_bench_big_posterior_glum_runs_under_its_cap_or_is_capped():
    """The glum amendment's child process: on a tiny neuron it finishes and reports its error; with a cap far shorter
    than its imports it is killed and reported as capped, not as an error."""
    bench = _load("bench_big_posterior")
    done = bench.glum_capped(300, side=4, n_frames=300)
    assert not done["capped"] and done["seconds"] > 0 and 0 <= done["error"] <= 2
    assert bench.glum_capped(0.05, side=4, n_frames=300) == {"capped": True, "cap_s": 0.05, "cores": bench.CORES}


def test_bench_big_posterior_store_full_merges_priors_and_replaces_sections(tmp_path, monkeypatch):
    bench = _load("bench_big_posterior")
    monkeypatch.setattr(bench, "FULL_OUT", tmp_path / "full.json")
    bench.store_full({"rank1": {"error": 0.1}})
    bench.store_full({"smooth": {"error": 0.2}}, glum_lasso_cv={"capped": True})
    bench.store_full(glum_lasso_cv={"capped": False})
    study = json.loads((tmp_path / "full.json").read_text())
    assert study["priors"] == {"rank1": {"error": 0.1}, "smooth": {"error": 0.2}}
    assert study["glum_lasso_cv"] == {"capped": False} and "Amendment (session 61" in study["protocol"]
    bench.store_full({"rank1": {"error": 0.05}}, "rank1_first")  # a rerun keeps the run it replaces
    study = json.loads((tmp_path / "full.json").read_text())
    assert study["priors"]["rank1"] == {"error": 0.05} and study["superseded"] == {"rank1_first": {"error": 0.1}}


def test_bench_cost_growth_exponents_recover_known_power_laws():
    bench = _load("bench_cost_growth")
    frames = [{"frames": n, "weights": 800, "gradient_ms": 1e-3 * n ** 0.9 if n >= bench.FRAMES_FIT_FROM else 5.0,
               "steps_per_draw": 40.0} for n in bench.FRAMES]  # below FRAMES_FIT_FROM: left out of the fit
    weights = [{"frames": 5000, "weights": w, "gradient_ms": 1e-3 * w, "steps_per_draw": 4.0 * w ** 0.3}
               for w in (800, 3200, 7200, 12800)]
    for row in frames + weights:
        row["draw_ms"] = row["gradient_ms"] * row["steps_per_draw"]
    result = bench.summarise({"smooth": {"frames": frames, "weights": weights}})["smooth"]
    assert result["exponents"]["frames"] == pytest.approx({"gradient_ms": 0.9, "steps_per_draw": 0.0, "draw_ms": 0.9},
                                                          abs=1e-9)
    assert result["exponents"]["weights"] == pytest.approx({"gradient_ms": 1.0, "steps_per_draw": 0.3, "draw_ms": 1.3})
    assert result["meets"] == {"frames": True, "weights": False}
    assert bench.summarise({"local": {"frames": frames[:3], "weights": []}})["local"]["exponents"] == {}
    partial = bench.summarise({"rank1": {"frames": frames[:-1], "weights": weights}})["rank1"]  # largest size missing
    assert partial["exponents"]["frames"]["draw_ms"] == pytest.approx(0.9) and partial["meets"]["frames"] is None


def test_bench_steps_reference_summarise_recovers_known_power_laws_and_skips_a_prior_not_run():
    bench = _load("bench_steps_reference")
    sizes = {"smooth": [{"weights": w, "d": w + 12} for w in (800, 3200, 7200, 12800)],
             "rank1": [{"weights": w, "d": w // 8 + 19} for w in (800, 3200, 7200, 12800)]}
    rows = [{"d": s["d"], "steps_mean": 3.0 * s["d"] ** 0.25} for s in sizes["smooth"]]
    summary = bench.summarise(rows, sizes)
    assert list(summary) == ["smooth"]  # rank1's sizes did not run
    assert summary["smooth"]["d"] == pytest.approx(0.25)
    weights, d = np.log([s["weights"] for s in sizes["smooth"]]), np.log([s["d"] for s in sizes["smooth"]])
    assert summary["smooth"]["weights"] == pytest.approx(0.25 * np.polyfit(weights, d, 1)[0])
    assert summary["smooth"]["weights"] < 0.25  # d grows slower than the weights by the fixed hyperparameters


def test_bench_cost_growth_supersede_keeps_every_replaced_set():
    """A rerun's replaced rows join the prior's list, oldest first; a set stored alone (session 45) becomes the first;
    other priors are untouched."""
    bench = _load("bench_cost_growth")
    first, second = {"frames": [{"frames": 1}], "weights": []}, {"frames": [{"frames": 2}], "weights": []}
    out = bench.supersede({"local": first, "rank1": [first]}, "local", second)
    assert out == {"local": [first, second], "rank1": [first]}
    assert bench.supersede({}, "smooth", first) == {"smooth": [first]}


def test_bench_cost_growth_restore_swaps_the_last_replaced_set_back():
    """``--restore``: the prior's last replaced set becomes its rows again and its rows join the end of the list;
    other priors and earlier sets are untouched, and restoring twice gives back the start."""
    bench = _load("bench_cost_growth")
    sets = [{"frames": [{"frames": n}], "weights": []} for n in (1, 2, 3)]
    sweeps, superseded = {"local": sets[2], "rank1": sets[0]}, {"local": sets[:2], "rank1": [sets[1]]}
    restored = bench.restore(sweeps, superseded, "local")
    assert restored == ({"local": sets[1], "rank1": sets[0]}, {"local": [sets[0], sets[2]], "rank1": [sets[1]]})
    assert bench.restore(*restored, "local") == (sweeps, superseded)


def test_bench_cost_growth_replace_frames_moves_that_size_of_every_prior_to_superseded():
    """``--replace-frames N`` (session 52): each prior's frame-sweep row at N leaves its rows for the end of its
    replaced sets, as a set of its own, so that ``--missing`` measures it again; other rows and sweeps stay; with
    ``only`` one prior's; a prior without that row is untouched."""
    bench = _load("bench_cost_growth")
    small, big, wide = {"frames": 10, "weights": 8}, {"frames": 100, "weights": 8}, {"frames": 100, "weights": 80}
    sweeps = {"smooth": {"frames": [small, big], "weights": [wide]}, "local": {"frames": [small], "weights": []},
              "rank1": {"frames": [small, big], "weights": []}}
    earlier = {"frames": [small], "weights": []}
    out, superseded = bench.replace_frames(sweeps, {"rank1": [earlier]}, 100)
    assert out == {"smooth": {"frames": [small], "weights": [wide]}, "local": {"frames": [small], "weights": []},
                   "rank1": {"frames": [small], "weights": []}}
    assert superseded == {"smooth": [{"frames": [big], "weights": []}],
                          "rank1": [earlier, {"frames": [big], "weights": []}]}
    assert sweeps["smooth"]["frames"] == [small, big]  # the stored sweeps are not changed in place
    only, _ = bench.replace_frames(sweeps, {}, 100, only="smooth")
    assert only["smooth"]["frames"] == [small] and only["rank1"]["frames"] == [small, big]
    assert bench.replace_frames(sweeps, {}, 100, only="ridge") == (sweeps, {})  # then pending's message, not KeyError


def test_bench_float32_forces_each_dtype_and_puts_the_thresholds_back():
    """bench_float32.frames_dtype builds a small model's frames in the dtype asked and restores bayesrf's thresholds;
    ``compare`` then finds a log-density difference that is real (float32 was used) and small (independent check:
    tests/test_likelihood.py's float32 likelihood against scipy)."""
    import bayesrf.model

    bench = _load("bench_float32")
    def thresholds() -> tuple[int, int, int]:
        return (bayesrf.model.SINGLE_PRECISION_WEIGHTS, bayesrf.model.SINGLE_PRECISION_BYTES,
                bayesrf.model.BITPACKED_MAX_COLUMNS)

    shipped = thresholds()
    row = bench.compare(3, 400, "rank1")  # rank1 would take its frames bit-packed in float32's place
    assert thresholds() == shipped
    assert row["weights"] == 72 and len(row["per_point_nats"]) == bench.POINTS
    assert 0 < row["max_abs_logp_difference_nats"] < 1e-3 and 0 < row["max_relative_gradient_difference"] < 1e-4


def test_bench_mixing_tuning_seed_simulates_another_neuron_of_the_same_size():
    """Amendment 26: ``recording(n, seed)`` is the protocol's neuron for seed 0 (the default) and another draw of
    the same design for a tuning seed."""
    bench = _load("bench_mixing")
    base, again, tuning = bench.recording(1), bench.recording(1, 0), bench.recording(1, 7)
    assert base.sizes == tuning.sizes and base.sizes["time"] == bench.WEIGHTS
    assert (base["counts"].values == again["counts"].values).all()
    assert (base["counts"].values != tuning["counts"].values).any()


def test_bench_mixing_probe_passes_its_options_to_the_sampled_draws_only(monkeypatch, tmp_path):
    """Amendment 28: ``--probe`` gives nutpie its options for the 400 kept draws, not for the pilot's 100, and
    ``pilot_draws`` to the pilot; its fit is appended to "probes" of the tuning JSON, whose fits stay; seed 0 is
    refused."""
    import nutpie

    bench = _load("bench_mixing")
    calls = []
    monkeypatch.setattr(nutpie, "sample", lambda compiled, **kwargs: calls.append(kwargs))

    def fit(n_per_d, prior, seed, chains, draws):
        pilot = bayesrf.families.family_of(bayesrf.load_prior(prior)).nuts_form.pilot_draws
        for n in (pilot, draws):  # the pilot's sampling, then the kept draws'
            nutpie.sample(None, draws=n, tune=300)
        return {"prior": prior, "seed": seed, "chains": chains, "draws": draws}

    monkeypatch.setattr(bench, "fit", fit)
    monkeypatch.setattr(bench, "TUNING_OUT", tmp_path / "tuning.json")
    bench.TUNING_OUT.write_text(json.dumps({"fits": [{"prior": "local"}]}))
    bench.probe(7, "local", 16, {"tune": 1000})
    bench.probe(7, "local", 16, {"pilot_draws": 300})
    assert calls == [{"draws": 100, "tune": 300}, {"draws": bench.PROBE_DRAWS, "tune": 1000},
                     {"draws": 300, "tune": 300}, {"draws": bench.PROBE_DRAWS, "tune": 300}]
    assert bayesrf.families.family_of(bayesrf.load_prior("local")).nuts_form.pilot_draws == 100  # restored
    study = json.loads(bench.TUNING_OUT.read_text())
    assert study["fits"] == [{"prior": "local"}]
    fixed = {"prior": "local", "seed": 7, "chains": 2, "draws": 400}
    assert study["probes"] == [{**fixed, "nutpie_options": {"tune": 1000}, "pilot_draws_per_chain": 100},
                               {**fixed, "nutpie_options": {}, "pilot_draws_per_chain": 300}]
    for seed, options, message in ((0, {}, "tuning seed"), (7, {"pilot_draws": 400}, "pilot_draws")):
        with pytest.raises(SystemExit, match=message):
            bench.probe(seed, "local", 16, options)


def test_bench_mixing_compare_flags_each_number_but_times():
    """``--repeat``: every number of the new fit (a variable's too) is flagged equal or not to the stored fit's;
    times and text are left out, and a number the stored fit lacks is not equal."""
    bench = _load("bench_mixing")
    stored = {"prior": "rank1", "max_rhat": 1.005, "wall_time_s": 9.0, "variables": {"rf": {"max_rhat": 1.0}}}
    new = {"prior": "rank1", "max_rhat": 1.005, "wall_time_s": 7.0, "time_pilot_s": 1.0, "whitened": 64,
           "variables": {"rf": {"max_rhat": 1.01}}, "warnings": ["x"]}
    assert bench.compare(new, stored) == {"max_rhat": True, "whitened": False, "variables.rf.max_rhat": False}


def test_cost_growth_table_marks_each_priors_stopped_probe():
    """readme_tables.cost_growth_table on a hand-made study: a prior's first missing probe is "stopped unfinished"
    (in whichever sweep), the ones after it "not run"; measured cells are gradient × steps = ms per draw."""
    tables = _load("readme_tables")

    def row(frames, weights):
        return {"frames": frames, "weights": weights, "gradient_ms": 2.0, "steps_per_draw": 10.0, "draw_ms": 20.0}

    weights = [row(5, 800), row(5, 3200)]
    frames = [row(1, 800), row(3, 800), row(10, 800)]
    study = {"sweeps": {"a": {"weights": weights, "frames": frames}, "b": {"weights": weights, "frames": frames[:2]},
                        "c": {"weights": weights[:1], "frames": []}}}
    lines = tables.cost_growth_table(study).splitlines()
    assert lines[2] == "| weights | 5 | 800 | 2 × 10 = 20 | 2 × 10 = 20 | 2 × 10 = 20 |"
    assert lines[3].endswith("| 2 × 10 = 20 | 2 × 10 = 20 | stopped unfinished |")
    assert lines[4].endswith("| 2 × 10 = 20 | 2 × 10 = 20 | not run |")
    assert lines[6] == "| frames | 10 | 800 | 2 × 10 = 20 | stopped unfinished | not run |"


def test_peer_scores_and_table(rng):
    peers = _load("peers")
    truth = xr.DataArray(rng.normal(size=(2, 3, 4)), dims=("lag", "y", "x"))
    truth[:, 0] = 0.0  # a background
    draws = truth.values + 0.1 * rng.normal(size=(2, 50, 2, 3, 4))
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"rf": (("chain", "draw", "lag", "y", "x"), draws)})})
    perfect = peers.score(2 * truth.values, truth, tree)  # a scaled estimate has correlation 1
    assert perfect["error"] == pytest.approx(0, abs=1e-12)
    levels = [round(100 * q) for q in peers.COVERAGE]
    assert set(perfect) == {"error", "mse_unit"} | {f"coverage_{part}{level}" for part in ("", "support_", "background_")
                                                    for level in levels}
    background = np.abs(truth.values) <= peers.SUPPORT * np.abs(truth.values).max()
    assert background[:, 0].all()
    assert perfect["coverage_background_95"] == bayesrf.coverage(tree, truth, probs=(0.95,), where=background)[0.95]
    cell = {"rf": "gabor", "stimulus": "binary", "nd": 1.0, "seed": 0}
    rows = [cell | {"method": "sta", "status": "ok", "error": 0.4, "time_ratio": 0.1},
            cell | {"method": "rfest-asd", "status": "timeout > 300 s"}]
    tables = _load("readme_tables")
    assert "| sta | 0.400 (1) |" in tables.peers_table(rows) and "| rfest-asd | timeout > 300 s |" in tables.peers_table(rows)
    assert "| sta | 1.00e-03 (1) |" in tables.peers_table([rows[0] | {"mse_unit": 0.001}, rows[1]], "mse_unit")


def test_peer_runs_pin_each_worker_to_its_own_core():
    """peers.run_cells(parallel=2): each fit runs in its own process on one core of its own, and stores the cap,
    its cores and CPU seconds (equal budgets, issue #18); --shape sets the frames."""
    peers = _load("peers")
    cells = [{"rf": "gabor", "stimulus": "binary", "nd": 1.0, "seed": seed, "method": "sta", "shape": [4, 3]}
             for seed in (0, 1)]
    results = list(peers.run_cells(cells, cap=120.0, parallel=2))
    assert [r["status"] for r in results] == ["ok", "ok"], results
    assert {r["cores"] for r in results} == {1} and {r["cap"] for r in results} == {120.0}
    if len(os.sched_getaffinity(0)) > 1:
        assert len({r["core"] for r in results}) == 2
    assert all(0 <= r["cpu_seconds"] <= r["seconds"] + 0.05 for r in results)
    assert peers.dataset("gabor", "binary", 1.0, 0, (4, 3))["stim"].shape[1:] == (4, 3)


def test_replace_reruns_only_the_chosen_stored_cells(tmp_path, capsys):
    """peers.py --replace: a stored row of a chosen cell is rerun and replaced, other stored rows are kept as they
    are, and without --replace a stored cell is not rerun (resume); the report is readme_tables.peers_table. Each row
    it writes stores the checkout's commit (a file's rows may come from several sessions' code)."""
    peers = _load("peers")
    out = tmp_path / "peers.json"
    cell = {"rf": "gabor", "stimulus": "binary", "nd": 1.0, "seed": 0, "method": "sta", "shape": [4, 3]}
    other = cell | {"method": "rfest-ald"}
    out.write_text(json.dumps([cell | {"status": "error"}, other | {"status": "error"}]))
    args = ["--sizes", "1", "--seeds", "0", "--rfs", "gabor", "--stimuli", "binary", "--methods", "sta",
            "--shape", "4", "3", "--out", str(out)]
    peers.main(args)
    assert [r["status"] for r in json.loads(out.read_text())] == ["error", "error"]
    peers.main([*args, "--replace"])
    rows = {r["method"]: r for r in json.loads(out.read_text())}
    assert len(rows) == 2 and rows["sta"]["status"] == "ok" and rows["rfest-ald"]["status"] == "error"
    assert "| method (1 − corr: mean (range, seeds)) |" in capsys.readouterr().out
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(peers.__file__).parent,
                          capture_output=True, text=True)
    expected = head.stdout.strip()[:7] if head.returncode == 0 else "not a git checkout"
    assert rows["sta"]["commit"].startswith(expected) and "commit" not in rows["rfest-ald"]  # only the rows it wrote


def test_the_ald_start_is_a_finite_local_prior_on_every_axis():
    """peers.ald_start: RFEst's ALD reads [sigma, rho] then [tau_s, nu_s, tau_f, nu_f] per axis; at the start each
    axis's locality variances exp(-(i - nu_s)^2 / (2 tau_s^2)) (Park & Pillow 2011, eq. 11, written here) are finite,
    peak on the axis and are not all ~0. The first run's start had tau_s = 0 on x, so 0/0 there (NaN)."""
    peers = _load("peers")
    dims = [5, 10, 8]
    start = np.array(peers.ald_start(dims))
    assert start.shape == (2 + 4 * len(dims),) and np.all(start[:2] > 0)
    for n, (tau, nu, tau_f, _) in zip(dims, start[2:].reshape(-1, 4)):
        with np.errstate(divide="ignore", invalid="ignore"):
            variances = np.exp(-0.5 * (np.arange(n) - nu) ** 2 / tau ** 2)
        assert np.all(np.isfinite(variances)) and 0 <= nu <= n - 1 and variances.max() > 0.5 and tau_f > 0


def test_peer_table_reports_the_spread_and_the_failures():
    """readme_tables.peers_table: the mean of the seeds that finished, their range and number, and the others'
    fate, per cell; columns of dashes only are left out."""
    tables = _load("readme_tables")
    cell = {"rf": "gabor", "stimulus": "binary", "nd": 1.0, "method": "sta", "time_ratio": 0.1}
    rows = [cell | {"seed": 0, "status": "ok", "error": 0.2, "cores": 1, "seconds": 3.0},
            cell | {"seed": 1, "status": "ok", "error": 0.4, "cores": 1, "seconds": 5.0},
            cell | {"seed": 2, "status": "timeout > 300 s"}]
    table = tables.peers_table(rows)
    assert "| sta | 0.300 (0.200–0.400, 2); 1 timeout | 0.1 | 4 |" in table
    assert "support" not in table  # no posterior: no coverage columns


def test_peer_findings_name_the_winners_failures_and_short_intervals():
    """readme_tables.peer_findings on hand-made rows: the winner per run, timeouts, methods behind the STA, and the
    posteriors whose support coverage falls more than 5 points below some level."""
    tables = _load("readme_tables")

    def posterior(method: str, error: float, support_gap: float) -> dict:
        coverage = {f"coverage_{part}{level}": level / 100 - support_gap * (part == "support_")
                    for part in ("", "support_") for level in (10, 50, 95)}
        return cell | {"method": method, "status": "ok", "error": error, "diagnostics": {"max_rhat": 1.02,
                                                                                         "min_ess_bulk": 80.0}} | coverage

    cell = {"rf": "gabor", "stimulus": "binary", "nd": 1.0, "seed": 0, "time_ratio": 1.0}
    rows = [cell | {"method": "sta", "status": "ok", "error": 0.3}, cell | {"method": "glum-ridge-cv",
                                                                            "status": "timeout > 300 s"},
            posterior("bayesrf-local", 0.35, 0.06), posterior("bayesrf-rank1", 0.1, 0.04)]
    findings = tables.peer_findings(rows)
    assert "each of the 1 (cell, seed) runs with a bayesrf posterior: `bayesrf-rank1` in 1." in findings
    assert "`glum-ridge-cv` timed out (timeout > 300 s) in 1 of its 1 fits." in findings
    assert "Less accurate than the STA in some cell: `bayesrf-local`." in findings
    assert "falls more than 5 points short for `bayesrf-rank1`; it does for `bayesrf-local`." in findings
    assert "max R-hat 1.02–1.02 (above 1.01 in 2 of 2 fits)" in findings


def test_equal_budget_text_names_each_size_seeds_and_the_methods_it_did_not_run():
    """readme_tables.peers_equal_text on hand-made rows: the seeds per n/D, and a method run at n/D 1 but not at 4."""
    tables = _load("readme_tables")
    cell = {"rf": "gabor", "stimulus": "binary", "shape": [20, 15], "status": "ok", "error": 0.3, "cap": 300.0,
            "cores": 1, "core": 0, "time_ratio": 1.0, "diagnostics": {"max_rhat": 1.0, "min_ess_bulk": 400.0}}
    rows = [cell | {"nd": 1.0, "seed": seed, "method": method} for seed in (20, 21) for method in ("sta", "asd")]
    rows += [cell | {"nd": 1.0, "seed": 20, "method": "bayesrf-local"}]
    rows += [cell | {"nd": 4.0, "seed": 20, "method": "sta"}]
    text = tables.peers_equal_text(rows)
    assert "Seeds 20 and 21 at n/D 1 and seed 20 at n/D 4, never run" in text
    assert "Not run at n/D 4 (as its protocol says): `asd` and `bayesrf-local`." in text
    assert "Not run at n/D 1" not in text


def test_bench_population_memory_runs_small(tmp_path):
    result = _load("bench_population_memory").main(["--units", "3", "--frames", "200", "--out", str(tmp_path / "m.json")])
    assert result["unit_shares_stimulus"] and result["counts_dtype"] == "int8"
    assert result["arrays_mb"] == pytest.approx((200 * 300 * 8 + 3 * 200 + 200 * 8) / 2**20)


def test_bench_population_task_phases_per_unit(tmp_path):
    """bench_population's phases: each unit's recorded phases beside its task's wall time, their sums, and the rest
    (the tasks' time minus the phases), on a store of two hand-made units (one without a pilot run)."""
    bench = _load("bench_population")
    (tmp_path / "units").mkdir()
    recorded = {"0": {"time_start_s": 1.0, "time_compile_s": 2.0, "time_sampling_s": 3.0, "time_pilot_s": 4.0},
                "1": {"time_start_s": 0.5, "time_compile_s": 0.0, "time_sampling_s": 6.0}}
    for unit, attrs in recorded.items():
        tree = xr.DataTree(xr.Dataset({"x": ("i", [0.0])}))
        tree.attrs.update(attrs)
        tree.to_netcdf(tmp_path / "units" / f"{unit}.nc", engine="h5netcdf")
    summary = xr.Dataset({"wall_s": ("unit", [12.0, 7.0])}, coords={"unit": ["0", "1"]})
    walls = bench.task_walls(summary)
    phases, units = bench.task_phases(tmp_path, walls)
    assert walls == {"0": 12.0, "1": 7.0}
    assert units == {unit: {"wall_s": walls[unit]} | attrs for unit, attrs in recorded.items()}
    assert phases == {"time_start_s": 1.5, "time_compile_s": 2.0, "time_sampling_s": 9.0, "time_pilot_s": 4.0,
                      "rest_s": 19.0 - 16.5}


def test_bench_map_scaling_solvers_reach_one_optimum(monkeypatch):
    """bench_map_scaling's four ridge solvers (bayesrf matrix-free and dense, glum, sklearn) on a tiny problem."""
    bench = _load("bench_map_scaling")
    monkeypatch.setattr(bench, "N_FRAMES", 400)
    monkeypatch.setattr(bench, "LAGS", 2)
    monkeypatch.setattr("bayesrf.ml.MATRIX_FREE_WEIGHTS", 0)
    ours = bench._ridge("bayesrf", 4)[1]
    for solver in ("glum", "sklearn"):
        np.testing.assert_allclose(bench._ridge(solver, 4)[1], ours, atol=1e-5)
    np.testing.assert_allclose(bench._ridge("bayesrf-dense", 4)[1], ours, atol=1e-5)


def test_bench_map_scaling_repeats_take_the_median_with_a_capped_run_as_the_longest():
    bench = _load("bench_map_scaling")

    def run(seconds):
        return {"seconds": seconds, "capped": seconds is None, "warnings": [] if seconds else ["UserWarning: x"]}

    three = bench.repeated([run(40.0), run(None), run(20.0)])
    assert three == {"seconds": 40.0, "capped": False, "seconds_runs": [40.0, None, 20.0],
                     "warnings": ["UserWarning: x"]}
    assert bench.repeated([run(None), run(None), run(20.0)])["capped"]
    scored = [run(t) | {"error": e} for t, e in ((30.0, 0.1), (20.0, 0.2), (25.0, 0.1))]
    assert bench.repeated(scored) | {"warnings": []} == {"seconds": 25.0, "capped": False,
                                                         "seconds_runs": [30.0, 20.0, 25.0], "warnings": [],
                                                         "error_runs": [0.1, 0.2, 0.1]}


def test_bench_map_quality_runs_and_reads_every_seed(monkeypatch, tmp_path):
    """bench_map_quality end to end on one tiny recording, and its reading: the type-II MAP is better than the joint
    mode only if its error is lower on every seed."""
    bench = _load("bench_map_quality")
    for name, value in {"OUT": tmp_path / "q.json", "N_FRAMES": 400, "LAGS": 2, "SIDES": (4,), "SEEDS": (1,),
                        "PRIORS": ("smooth",)}.items():
        monkeypatch.setattr(bench, name, value)
    bench.main()
    row, = json.loads((tmp_path / "q.json").read_text())["rows"]
    assert row["smooth"]["type2"]["evidence_rounds"] >= 2 and "evidence_rounds" not in row["smooth"]["joint"]
    assert all(0 <= fit["error"] < 1 for fit in (row["ridge"], *row["smooth"].values()))
    rows = [{"pixels": [4, 4], "ridge": {"error": 0.3}, "smooth": {"type2": {"error": a}, "joint": {"error": b}}}
            for a, b in ((0.1, 0.2), (0.3, 0.2))]
    assert bench.summarise(rows)["smooth_4"] == {"type2_median": 0.2, "type2_max": 0.3, "joint_median": 0.2,
                                                 "joint_max": 0.2, "type2_better_every_seed": False}
    assert bench.summarise(rows[:1])["smooth_4"]["type2_better_every_seed"]


def _posterior(draws: np.ndarray) -> xr.DataTree:
    return xr.DataTree.from_dict({"posterior": xr.Dataset({"rf": (("chain", "draw", "lag", "y", "x"), draws)})})


@pytest.mark.parametrize("factor, away", [(0.5, True), (1.5, False)])
def test_support_trace_tells_shrinkage_from_overshoot(rng, factor, away):
    trace = _load("bench_support_trace")
    truth = np.zeros((2, 3, 4))
    truth[:, 1:, 1:] = rng.choice([-1.0, 1.0], size=(2, 2, 3))  # 12 support weights of both signs, 12 zeros
    draws = factor * truth + 0.01 * rng.normal(size=(2, 200, 2, 3, 4))  # every support weight missed, one side
    scores = trace.support_scores(_posterior(draws), truth, 0.1)
    assert scores["n_support"] == 12 and scores["misses"] == 12
    assert scores["misses_away"] == (12 if away else 0)
    assert (scores["z_mean"] < -10) if away else (scores["z_mean"] > 10)
    assert scores["coverage"] == [0.0] * len(trace.LEVELS)


def test_support_trace_spread_counts_each_seed_once():
    import scipy.stats

    trace = _load("bench_support_trace")
    levels = np.array(trace.LEVELS)
    seeds = [levels + shift for shift in (-0.12, -0.02, -0.07, -0.07)]  # the 80 % level: 0.68, 0.78, 0.73, 0.73
    fits = [{"coverage": list(c), "max_rhat": 1.0, "n_divergent": 0} for c in seeds]
    out = trace.spread(fits)
    assert out["n_seeds"] == 4 and out["mean"] == pytest.approx(list(np.mean(seeds, 0)))
    assert out["se"] == pytest.approx(list(scipy.stats.sem(seeds, axis=0)))
    assert out["largest_shortfall"] == pytest.approx(0.07)  # at every level alike
    assert out["beyond_2se"] is False  # 0.07 is 2 points beyond the goal, within 2 SE (4.1 points) of these seeds
    fits = [{"coverage": list(levels - 0.2 + 0.001 * k), "max_rhat": 1.02, "n_divergent": 0} for k in range(4)]
    assert trace.spread(fits)["beyond_2se"] is True and trace.spread(fits)["rhat_above"] == 4


def test_support_trace_held_out_counts_winners_within_the_goal():
    trace = _load("bench_support_trace")
    levels = np.array(trace.LEVELS)
    gaps = {"smooth": 0.03, "rank1": 0.0, "local": 0.15}  # local's support intervals 15 points short at every level

    def fit(prior: str, lpd: float) -> dict:
        return {"coverage": list(levels - gaps[prior]), "n_support": 10, "misses": 4, "misses_away": 3,
                "z_mean": -0.5, "z_rms": 1.2, "max_rhat": 1.01, "heldout_lpd": lpd}

    winners = {"20": "local", "21": "rank1", "22": "smooth"}
    runs = {seed: {"fits": {p: fit(p, 1.0 if p == best else 0.0) for p in gaps}, "heldout_best": best}
            for seed, best in winners.items()}
    out = trace.held_out_summary({"held_out": {"peers-dog": runs}})["peers-dog"]
    assert out["within_goal"] == ["smooth", "rank1"] and out["heldout_best"] == winners
    assert out["winners_within_goal"] == 2 and out["n_seeds"] == 3
    assert out["pooled"]["local"]["largest_shortfall"] == pytest.approx(0.15)


@pytest.mark.parametrize("count, systematic", [(64, True), (63, False)])
def test_sbc_replication_reading_uses_the_bar_fixed_before_the_run(count, systematic):
    tables = _load("readme_tables")
    first = {"n_sims": 500, "bins": 10, "seed": 2}
    again = {"n_sims": 500, "seed": 3, "pvalues": {"norm": 0.5},
             "histograms": {q: [count] + [48] * 9 for q in ("intercept", "weight", "norm", "loglik")}}  # 40 bins
    text = tables._sbc_replication({"run": first, "seed_3": again}, "norm")
    assert "at least 64" in text and f"put {count} there" in text
    assert ("systematic, and open" in text) == systematic and ("chance extreme of 40 bins" in text) == (not systematic)
    assert tables._sbc_replication({"run": first}, "norm") == "Not traced further. "


def test_mixing_resume_runs_only_the_missing_fits_in_the_protocols_order():
    """bench_mixing.remaining: the fits a stopped run lacks, n/D 8 before 16 and rank1, smooth, local within each."""
    bench = _load("bench_mixing")
    study = {"fits": [{"n_per_d": 8, "prior": prior} for prior in ("rank1", "smooth", "local")]}
    assert bench.remaining(study) == [(16, "rank1"), (16, "smooth"), (16, "local")]
    study["fits"] = [{"n_per_d": 8, "prior": "smooth"}, {"n_per_d": 16, "prior": "rank1"}]
    assert bench.remaining(study) == [(8, "rank1"), (8, "local"), (16, "smooth"), (16, "local")]
    assert bench.remaining({"fits": []}) == [(n, p) for n in (8, 16) for p in ("rank1", "smooth", "local")]


def test_mixing_rerun_moves_a_priors_fits_aside_and_runs_them_again():
    """bench_mixing.supersede: a rerun prior's old fits move, marked, to "superseded"; the others stay and are not rerun."""
    bench = _load("bench_mixing")
    fits = [{"n_per_d": n, "prior": prior} for n in (8, 16) for prior in ("rank1", "smooth", "local")]
    study = bench.supersede({"fits": fits, "superseded": [{"n_per_d": 8, "prior": "smooth"}]}, "local", "why")
    assert study["fits"] == [f for f in fits if f["prior"] != "local"]
    assert study["superseded"][1:] == [{"n_per_d": n, "prior": "local", "superseded_by": "why"} for n in (8, 16)]
    assert study["superseded"][0] == {"n_per_d": 8, "prior": "smooth"}
    assert bench.remaining(study) == [(8, "local"), (16, "local")]
    with pytest.raises(SystemExit, match="--because"):  # a rerun says why, before it touches the JSON
        bench.main(rerun="local")


def test_truth_families_text_says_where_a_prior_meets_the_goal_only_on_the_truths_it_was_fitted_to():
    """A prior scored on some truths only (horseshoe at n/D 16: sparse) and short on none of them is not said to meet
    the goal on every truth; scored on every truth of the study, it is."""
    tables = _load("readme_tables")
    stored = json.loads((BENCH.parent / "docs" / "truth_families_nd16.json").read_text())
    assert set(stored["families"]["sparse"]["pooled"]) - set(stored["families"]["separable"]["pooled"]) == {
        "lasso-hier", "horseshoe"}

    def keep(*families: str) -> dict:
        return {**stored, "families": {family: stored["families"][family] for family in families}}

    text = tables.truth_families_text(keep("separable", "sparse"))
    assert "`horseshoe`, fitted to sparse only, meets it there." in text and "for `horseshoe`" not in text
    holds = tables.truth_families_text(keep("sparse")).split("It holds on every truth for ")[1].split(".")[0]
    assert "`horseshoe`" in holds


def test_truth_families_text_names_the_truths_run_on_fewer_seeds():
    """A study whose truths have different seeds (a run stopped between families) says which truths lack a seed and
    how many seeds a truth has, instead of giving every truth the union of the seeds."""
    tables = _load("readme_tables")
    stored = json.loads((BENCH.parent / "docs" / "truth_families.json").read_text())
    families = {family: dict(entry) for family, entry in stored["families"].items()}
    for family in ("subunits", "none"):
        families[family]["runs"] = {seed: run for seed, run in families[family]["runs"].items() if seed != "1002"}
    families["sparse"]["runs"] = {"1001": families["sparse"]["runs"]["1001"]}
    text = tables.truth_families_text({**stored, "families": families})
    assert ("seeds 1000–1002 (seed 1001 only on sparse; seeds 1000–1001 only on subunits"
            " and none);") in text
    assert "so 1–3 seeds per truth give noisy shares" in text
    assert "seeds 1000–1002;" in tables.truth_families_text(stored)
    assert "so 3 seeds per truth give noisy shares" in tables.truth_families_text(stored)


def test_mixing_text_names_each_run_and_judges_the_goal_only_when_complete():
    """readme_tables.mixing_text / mixing_table on hand-made runs: a failed run makes the goal 'not met', a run not
    made leaves it 'not yet judged' when nothing failed, and the table names each run's worst variables."""
    tables = _load("readme_tables")

    def run(n_per_d: int, prior: str, ok: int) -> dict:
        variables = {"rf": {"max_rhat": 1.004, "min_ess_bulk": 900.0},
                     "rf_width": {"max_rhat": 1.02 if not ok else 1.005, "min_ess_bulk": 250.0},
                     "rf_z": {"max_rhat": 1.1, "min_ess_bulk": 20.0}}  # standardised: not checked, never named
        return {"n_per_d": n_per_d, "frames": 1500 * n_per_d, "prior": prior, "diagnostics_ok": float(ok),
                "max_rhat": max(v["max_rhat"] for k, v in variables.items() if k != "rf_z"), "min_ess_bulk": 250.0,
                "min_ess_tail": 300.0, "n_divergent": 0.0, "steps_per_draw": 31.0, "wall_time_s": 600.0,
                "chains": 4, "draws": 1000, "variables": variables}

    study = {"pixels": [20, 15], "lags": 5, "weights": 1500, "n_per_d": [8, 16], "priors": ["rank1", "local"],
             "tune": 300, "cores": 2, "fits": [run(8, "rank1", 1), run(8, "local", 0)]}
    text = tables.mixing_text(study)
    assert "pass for rank1 at n/D 8 and fail for local at n/D 8" in text
    assert "not run: rank1 at n/D 16, local at n/D 16" in text and "is not met." in text
    assert text.endswith("are `rf_width`; the RF `rf` itself meets both in local at n/D 8.")
    study["fits"] = [run(8, "rank1", 1)]
    assert tables.mixing_text(study).endswith("not yet judged.")
    study["fits"] = [run(n, p, 1) for n in (8, 16) for p in ("rank1", "local")]
    assert tables.mixing_text(study).endswith("is met.") and "not run" not in tables.mixing_text(study)
    assert "`docs/mixing_noncentred.json`" in text and "steps; non-centred)" in text and "pilot" not in text
    centred = {**study, "parametrisation": "partially centred", "fits": [run(8, "rank1", 1) | {
        "time_pilot_s": 90.0, "centred_fraction": 0.25}, run(8, "local", 1) | {"time_pilot_s": 150.0, "centred_fraction": 0.75}]}
    text = tables.mixing_text(centred)
    assert "`docs/mixing.json`" in text and "steps; `rf_z` partially centred)" in text
    assert text.endswith("The wall times include the pilot runs (1.5–2.5 min); on average 50 % centred.")
    table = tables.mixing_table({**study, "fits": [run(8, "local", 0)]}).splitlines()
    assert table[2] == ("| 8 (12,000) | local | fail | 1.020 (`rf_width`) | 250 (`rf_width`) | 300 | 1.004, 900 | 0 | 31"
                        " | 10.0 |")
    rerun = {**study, "fits": [run(16, "rank1", 1), run(8, "local", 1), run(8, "rank1", 1)],
             "superseded": [run(n, "local", 0) | {"superseded_by": "amendment 8"} for n in (8, 16)]}
    assert [row.split(" | ")[:2] for row in tables.mixing_table(rerun).splitlines()[2:]] == [
        ["| 8 (12,000)", "rank1"], ["| 8 (12,000)", "local"], ["| 16 (24,000)", "rank1"]]
    text = tables.mixing_text(rerun)
    assert "pass for rank1 at n/D 8, local at n/D 8, rank1 at n/D 16; not run: local at n/D 16" in text
    assert text.endswith(' Rerun since (amendment 8; the earlier runs are kept in the JSON under "superseded"): local at'
                         " n/D 8 max R-hat 1.020 → 1.005, min bulk ESS 250 → 250 (`rf` alone 1.004 → 1.004 and 900 →"
                         " 900); local at n/D 16: no finished rerun.")
    twice = {**rerun, "superseded": rerun["superseded"] + [run(8, "local", 0) | {"superseded_by": "amendment 10"}]}
    assert tables.mixing_text(twice).endswith(
        ' Rerun since (amendment 8; amendment 10; the earlier runs are kept in the JSON under "superseded"): local at'
        " n/D 8 max R-hat 1.020 → 1.020 → 1.005, min bulk ESS 250 → 250 → 250 (`rf` alone 1.004 → 1.004 → 1.004 and"
        " 900 → 900 → 900); local at n/D 16: no finished rerun.")


def test_expected_loglik_against_monte_carlo_finite_differences_and_sklearn():
    """bench_expected_loglik: the expected rate of +-1 windows against a Monte Carlo mean, the gradient and Hessian of
    the expected log posterior and the exact Hessian against finite differences (scipy), the exact log posterior
    against scipy.stats, sklearn's MAP as a stationary point of it, and the windows on a hand-made movie."""
    from scipy.optimize import approx_fprime
    from scipy.stats import norm, poisson

    bench = _load("bench_expected_loglik")
    movie = np.arange(4.0)[:, None, None] * np.ones((4, 1, 2))  # frame t holds t in both pixels
    assert np.array_equal(bench.lagged(movie, 2), [[1, 1, 0, 0], [2, 2, 1, 1], [3, 3, 2, 2]])
    rng = np.random.default_rng(0)
    theta = np.concatenate([[-1.0], rng.normal(0, 0.3, 6)])
    x = rng.choice([-1.0, 1.0], size=(400_000, 6))
    rates = np.exp(theta[0] + x @ theta[1:])
    no_data = bench.negative_ell(theta, np.zeros(6), 0.0, 1, np.inf)[0]  # the expected rate alone
    assert abs(no_data - rates.mean()) < 4 * rates.std() / np.sqrt(len(rates))
    sts, args = rng.normal(0, 3, 6), (30.0, 50, 0.5)
    value, gradient = bench.negative_ell(theta, sts, *args)
    assert np.allclose(gradient, approx_fprime(theta, lambda t: bench.negative_ell(t, sts, *args)[0], 1e-7), rtol=1e-4)
    numeric = np.array([approx_fprime(theta, lambda t: bench.negative_ell(t, sts, *args)[1][i], 1e-7) for i in range(7)])
    assert np.allclose(bench.ell_hessian(theta, 50, 0.5), numeric, rtol=1e-4, atol=1e-4)
    x, w = rng.choice([-1.0, 1.0], size=(3000, 3)), np.array([0.3, -0.2, 0.1])
    counts = rng.poisson(np.exp(0.5 + x @ w)).astype(float)
    mode = bench.exact_map(x, counts, 0.5)
    logp = lambda t: bench.exact_log_posterior(t[None], x, counts, 0.5)[0]  # noqa: E731
    assert np.max(np.abs(approx_fprime(mode, logp, 1e-6))) < 1e-2  # vs |gradient| ~ 1e2 one step away
    assert np.max(np.abs(approx_fprime(mode + 0.01, logp, 1e-6))) > 10
    other = mode + np.array([0.1, -0.1, 0.05, 0.0])
    scipy_logp = lambda t: (poisson.logpmf(counts, np.exp(t[0] + x @ t[1:])).sum()  # noqa: E731
                            + norm.logpdf(t[1:], 0, 0.5).sum())
    assert np.isclose(logp(mode) - logp(other), scipy_logp(mode) - scipy_logp(other), rtol=1e-9)
    step = 1e-3
    numeric = np.array([[(logp(mode + step * (e_i + e_j)) - logp(mode + step * (e_i - e_j)) - logp(mode - step * (e_i - e_j))
                          + logp(mode - step * (e_i + e_j))) / (4 * step**2) for e_j in np.eye(4)] for e_i in np.eye(4)])
    assert np.allclose(bench.exact_hessian(mode, x, 0.5), -numeric, rtol=1e-3)


def test_expected_loglik_mode_solves_each_weights_stationarity_equation():
    """bench_expected_loglik.ell_mode against scipy's brentq: at the mode the expected rate equals the spike count,
    so each weight solves ``spikes tanh(w) + w / sigma^2 = sts`` alone."""
    from scipy.optimize import brentq

    bench = _load("bench_expected_loglik")
    sts, spikes, sigma = np.array([40.0, -25.0, 3.0, 0.0, 80.0]), 300.0, 0.2
    mode = bench.ell_mode(sts, spikes, 1000, sigma)
    roots = [brentq(lambda w: spikes * np.tanh(w) + w / sigma**2 - s, -5, 5, xtol=1e-14) for s in sts]
    assert np.allclose(mode[1:], roots, atol=1e-7)
    assert np.isclose(1000 * np.exp(mode[0]) * np.prod(np.cosh(mode[1:])), spikes)


def test_expected_loglik_importance_sampling_accepts_a_good_proposal_and_rejects_a_bad_one(monkeypatch):
    """bench_expected_loglik.importance: the exact Laplace of a data-rich 3-weight posterior is nearly the posterior
    (k well below 0.7, relative ESS near 1); the same proposal twice too narrow is flagged (k above 0.7)."""
    bench = _load("bench_expected_loglik")
    monkeypatch.setattr(bench, "DRAWS", 2000)
    rng = np.random.default_rng(1)
    x = rng.choice([-1.0, 1.0], size=(20_000, 3))
    counts = rng.poisson(np.exp(0.5 + x @ np.array([0.3, -0.2, 0.1]))).astype(float)
    mode = bench.exact_map(x, counts, 0.5)
    hessian = bench.exact_hessian(mode, x, 0.5)
    good = bench.importance(mode, hessian, x, counts, 0.5)
    assert good["pareto_k"] < 0.5 and good["relative_ess"] > 0.8
    assert bench.importance(mode, 6 * hessian, x, counts, 0.5)["pareto_k"] > bench.K_MAX


def test_expected_loglik_text_names_the_sizes_where_each_proposal_passes():
    """readme_tables.expected_loglik_text / _table on hand-made rows: k <= k_max passes, larger k does not."""
    tables = _load("readme_tables")

    def row(n_per_d: int, k_ell: float, k_laplace: float) -> dict:
        return {"n_per_d": n_per_d, "intervals": 1500 * n_per_d - 4, "ell_mode_distance": 0.25,
                "ell_sd_ratio_median": 0.98, "ell_mode_hessian_s": 0.04, "exact_map_s": 2.0,
                "ell": {"pareto_k": k_ell, "relative_ess": 0.0004, "log_weight_sd": 41_263.7, "exact_logp_s": 3.0},
                "laplace": {"pareto_k": k_laplace, "relative_ess": 0.31, "log_weight_sd": 0.8, "exact_logp_s": 3.1}}

    study = {"pixels": [20, 15], "lags": 5, "weights": 1500, "sigma": 0.1, "draws": 4000, "k_max": 0.7,
             "rows": [row(1, 1.4, 0.9), row(16, 0.7, 0.3)]}
    text = tables.expected_loglik_text(study)
    assert "(Pareto k ≤ 0.7) at n/D 16; the exact Laplace approximation, for comparison, at n/D 16." in text
    study["rows"] = [row(1, None, 0.9), row(16, 0.71, 0.3)]
    assert "(Pareto k ≤ 0.7) at no size; the exact" in tables.expected_loglik_text(study)
    table = tables.expected_loglik_table(study).splitlines()
    assert table[2].startswith("| 1 (1,496) | 25 % | 0.98 | not finite, 0.90 | 41,264, 0.8 |")
    assert table[3] == "| 16 (23,996) | 25 % | 0.98 | 0.71, 0.30 | 41,264, 0.8 | 0.0004, 0.31 | 0.0 | 2.0 | 3.0 |"


def test_bench_frames_memory_reading_recovers_known_rates():
    """Rows built from known read rates and a known power law give back the speed-up, the exponent and the float32
    ratio; one real row at a tiny size has every timing."""
    bench = _load("bench_frames_memory")
    cache = 10**6

    def row(n: int, gb_s: float, products_ms: float, rest_ms: float) -> dict:
        rate = {"forward_gb_s": gb_s, "adjoint_gb_s": gb_s,
                "forward_ms": products_ms / 2, "adjoint_ms": products_ms / 2}
        ms = products_ms + rest_ms
        return {"frames": n, "matrix_bytes_float64": 800 * n, "products": {"float64": rate, "float32": rate},
                "gradient_ms": {"rank1": {"float64": ms, "float32": ms / 1.6}, "smooth": {"float64": ms, "float32": ms}}}

    rows = [row(n, 40.0 if 800 * n <= cache else 10.0, 1e-3 * n, 1e-4 * n ** 1.5)
            for n in (1_000, 10_000, 100_000, 300_000)]
    result = bench.reading(rows, cache)
    assert result["cache_speedup"] == pytest.approx(4.0)
    assert result["float32_speedup"] == pytest.approx(1.6)
    assert result["after_the_run"] == pytest.approx({"products_above_cache_exponent": 1.0,
                                                     "rest_above_cache_exponent": 1.5})
    total = [r["gradient_ms"]["rank1"]["float64"] for r in rows[2:]]
    assert result["above_cache_exponent"] == pytest.approx(np.log(total[1] / total[0]) / np.log(3))
    assert result["holds"] == {"cache_speedup": True, "above_cache_exponent": False, "float32_speedup": True}
    assert bench.last_level_cache_bytes() > 0
    real = bench.measure(200)
    assert real["matrix_bytes_float64"] == 200 * 100 * 8
    assert all(ms > 0 for prior in bench.PRIORS for ms in real["gradient_ms"][prior].values())


def test_bench_compile_cache_reading_tells_recompiles_from_reuse():
    bench = _load("bench_compile_cache")
    runs = {"local": {"cold": {"seconds": 90.0}, "warm": {"seconds": 10.0}, "new frames": {"seconds": 11.0},
                      "new pixels": {"seconds": 60.0}},
            "smooth": {"cold": {"seconds": 15.0}, "warm": {"seconds": 10.0}, "new frames": {"seconds": 10.0},
                       "new pixels": {"seconds": 12.0}}}
    result = bench.reading(runs)
    assert result["local"] == {"excess_s": {"cold": 80.0, "new frames": 1.0, "new pixels": 50.0},
                               "first_fit_cost": True, "recompiles": {"new frames": False, "new pixels": True}}
    assert not result["smooth"]["first_fit_cost"]
    assert result["smooth"]["recompiles"] == {"new frames": False, "new pixels": False}


def test_bench_fastmath_reading():
    bench = _load("bench_fastmath")
    draws = {"on": {"identical": False, "max_abs_diff": 0.05}, "off": {"identical": True, "max_abs_diff": 0.0}}
    result = bench.reading(draws, {"smooth": {"on": 10.0, "off": 11.0}, "rank1": {"on": 4.0, "off": 6.0}})
    assert result == {"slowdown_off_over_on": {"smooth": 1.1, "rank1": 1.5}, "fastmath_breaks_reproducibility": True,
                      "keep_off": False}


def test_bench_cluster_cpu_counts_each_dask_process_once():
    """A LocalCluster runs its nannies in the client's process (session 41 checked the process ids): ``client.run(f,
    nanny=True)`` then runs ``f`` in this process once per nanny, and those CPU seconds are counted once."""
    bench = _load("bench_cluster_cpu")

    class LocalNannies:
        def run(self, function, nanny=False):
            assert nanny
            return {"tcp://127.0.0.1:1": function(), "tcp://127.0.0.1:2": function()}

    counted = bench.dask_cpu_s(LocalNannies())
    assert list(counted) == [os.getpid()] and counted[os.getpid()] > 0


def _cluster_run(wall: float, task: float, sampling: float, dask: float, workers: float) -> dict:
    return {"wall_s": wall, "task_s": task, "phases_s": {"time_sampling_s": sampling},
            "cpu_s": {"dask": dask, "workers": workers}}


@pytest.mark.parametrize("dask, workers, task, expected", [
    (20.0, 100.0, 100.0, "a"),  # dask's 20 CPU s of 200 core-s = 10 % >= half the 10 % sampling excess
    (1.0, 110.0, 110.0, "b"),   # the workers burn 10 % more CPU for the same units
    (1.0, 100.0, 100.0, "c"),   # same CPU, busy workers, yet slower sampling
    (1.0, 100.0, 125.0, None),  # the workers waited for a core (CPU 80 % of the tasks' wall): none of the three
])
def test_bench_cluster_cpu_reading_tells_the_three_causes_apart(dask, workers, task, expected):
    bench = _load("bench_cluster_cpu")
    one = _cluster_run(wall=200.0, task=100.0, sampling=50.0, dask=2.0, workers=100.0)
    two = _cluster_run(wall=100.0, task=task, sampling=55.0, dask=dask, workers=workers)
    result = bench.reading(one, two)
    held = [key[0] for key in ("a_dask_takes_the_cores", "b_tasks_do_more_work", "c_same_work_runs_slower")
            if result[key]]
    assert held == ([expected] if expected else []) and result["sampling_excess"] == pytest.approx(0.1)


def test_mixing_unwhitened_ablation_is_compared_with_the_last_unwhitened_fit():
    """bench_mixing.compared_fit: a repeat is compared with the protocol's stored fit; the ablation of amendment 24
    with the fit amendment 20 superseded, not an older superseded one (session 50's JSON)."""
    bench = _load("bench_mixing")
    study = json.loads((BENCH.parent / "docs" / "mixing.json").read_text())
    stored = bench.compared_fit(study, "local", 16, whitened=True)
    assert stored in study["fits"] and stored["whitened"] == 128
    before = bench.compared_fit(study, "local", 16, whitened=False)
    assert before["superseded_by"].startswith("amendment 20") and before["max_rhat"] < 1.01
    older = [fit for fit in study["superseded"] if (fit["prior"], fit["n_per_d"]) == ("local", 16)
             and not fit["superseded_by"].startswith("amendments 35-36")]  # those ran with the baseline whitened
    assert older[-1]["max_rhat"] == before["max_rhat"]


def test_bench_cost_growth_only_limits_the_probes_to_one_prior():
    """bench_cost_growth.pending: the probes a JSON lacks in the protocol's order, every prior's or, with ``--only``,
    one prior's (session 50's ``--rerun rank1`` also ran smooth's and local's missing probes)."""
    bench = _load("bench_cost_growth")
    row = {"frames": 1000, "weights": bench.LAGS * 100}
    sweeps = {"smooth": {"frames": [row], "weights": []}, "local": {"frames": [], "weights": []},
              "rank1": {"frames": [], "weights": []}}
    cases = [("frames", 10, 1000), ("frames", 10, 3000)]
    assert bench.pending(sweeps, cases) == [("frames", 10, 1000, "local"), ("frames", 10, 1000, "rank1"),
                                            ("frames", 10, 3000, "smooth"), ("frames", 10, 3000, "local"),
                                            ("frames", 10, 3000, "rank1")]
    assert bench.pending(sweeps, cases, only="rank1") == [("frames", 10, 1000, "rank1"), ("frames", 10, 3000, "rank1")]
    with pytest.raises(SystemExit, match="--only takes one of"):
        bench.pending(sweeps, cases, only="ridge")


def test_bench_cost_growth_default_tune_runs_the_frame_sweep_then_the_weight_sweep():
    """bench_cost_growth.tuned_pending: ``--default-tune``'s missing probes, the frame sweep first (session 69's) and
    then the weight sweep (session 70's), each prior in TUNED_ORDER (rank1, smooth, local) from the smallest size up."""
    bench = _load("bench_cost_growth")
    empty = {prior: {"frames": [], "weights": []} for prior in bench.TUNED_ORDER}
    todo = bench.tuned_pending(empty)
    n_frames, n_sides = len(bench.FRAMES), len(bench.SIDES)
    assert len(todo) == 3 * (n_frames + n_sides)
    assert todo[:n_frames] == [("frames", bench.FRAMES_SIDE, n, "rank1") for n in bench.FRAMES]
    assert [case[3] for case in todo[::n_frames][:3]] == ["rank1", "smooth", "local"]
    frames_done = {prior: {"frames": [{"frames": n, "weights": bench.LAGS * bench.FRAMES_SIDE**2}
                                      for n in bench.FRAMES], "weights": []} for prior in bench.TUNED_ORDER}
    frames_done["local"]["frames"].pop()  # session 69's run stopped during local's probe at 100,000 frames
    todo = bench.tuned_pending(frames_done)
    assert todo[0] == ("frames", bench.FRAMES_SIDE, bench.FRAMES[-1], "local")
    assert todo[1:] == [("weights", side, bench.SIDES_FRAMES, prior) for prior in bench.TUNED_ORDER
                        for side in bench.SIDES]


def test_bench_cost_growth_retimed_uses_the_median_block_and_keeps_untimed_rows():
    """bench_cost_growth.retimed (``--retime``, session 70): a probe's gradient becomes the median of its retimed
    blocks and its cost per draw steps x that median; a probe with no retimed blocks keeps its stored numbers."""
    bench = _load("bench_cost_growth")
    small = {"frames": 1_000, "weights": 800, "gradient_ms": 0.2, "steps_per_draw": 10.0, "draw_ms": 2.0}
    big = {"frames": 10_000, "weights": 800, "gradient_ms": 7.0, "steps_per_draw": 20.0, "draw_ms": 140.0}
    sweeps = {"local": {"frames": [small, big], "weights": []}}
    blocks = {"local": {"frames": [{"frames": 10_000, "weights": 800, "gradient_ms_blocks": [2.0, 9.0, 1.0, 2.5, 3.0]}],
                        "weights": []}}
    out = bench.retimed(sweeps, blocks)["local"]["frames"]
    assert out[0] == small
    assert out[1] == big | {"gradient_ms": 2.5, "draw_ms": 50.0}
    assert sweeps["local"]["frames"][1]["gradient_ms"] == 7.0  # the stored rows are not changed


def test_bench_cost_growth_write_keeps_the_retimed_blocks_and_summarises_them_with_the_probes(tmp_path):
    """bench_cost_growth.write with ``retimes`` (a resumed ``--default-tune`` after ``--retime``, session 70): the
    stored blocks are kept and ``summary_retimed`` is the summary of the probes' steps times the median blocks."""
    bench = _load("bench_cost_growth")
    rows = [{"frames": n, "weights": 800, "gradient_ms": 1.0, "steps_per_draw": 10.0, "draw_ms": 10.0}
            for n in (10_000, 100_000)]
    sweeps = {"local": {"frames": rows, "weights": []}}
    blocks = {"local": {"frames": [{"frames": 10_000, "weights": 800, "gradient_ms_blocks": [1.0, 1.0, 1.0]},
                                   {"frames": 100_000, "weights": 800, "gradient_ms_blocks": [10.0, 9.0, 11.0]}],
                        "weights": []}}
    out = tmp_path / "tuned.json"
    bench.write(sweeps, complete=False, out=out, retimes={"gradient_retimed": blocks, "retime_stack_versions": {}})
    stored = json.loads(out.read_text())
    assert stored["gradient_retimed"] == blocks
    assert stored["summary"]["local"]["exponents"]["frames"]["draw_ms"] == pytest.approx(0, abs=1e-12)
    assert stored["summary_retimed"]["local"]["exponents"]["frames"]["draw_ms"] == pytest.approx(1.0)
    bench.write(sweeps, complete=False, out=out)
    assert "summary_retimed" not in json.loads(out.read_text())


def test_recorded_messages_are_distinct_sorted_and_cut():
    """bench_big_posterior.messages (shared by the benchmarks that record warnings): the warnings a benchmark stores,
    one line per distinct warning, sorted, each message cut to the width asked (160 by default)."""
    import warnings

    recorded = _load("bench_big_posterior")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for text in ("b" * 200, "a", "a"):
            warnings.warn(text, UserWarning)
        warnings.warn("c", RuntimeWarning)
    assert recorded.messages(caught) == ["RuntimeWarning: c", "UserWarning: a", "UserWarning: " + "b" * 160]
    assert recorded.messages(caught, 3) == ["RuntimeWarning: c", "UserWarning: a", "UserWarning: bbb"]


def test_bench_bitpacked_products_equal_numpy_and_reading_projects_the_gradient():
    """Every bit-packed kernel gives numpy's float64 products of +-1 frames (pixels not a multiple of 8, k = 1 and 3);
    non-binary frames are refused; the reading projects a gradient from known times."""
    bench = _load("bench_bitpacked")
    rng = np.random.default_rng(1)
    frames = rng.choice([-1.0, 1.0], (53, 21))
    assert bench.pack(frames).shape == (53, 3) and bench.pack_bytewise(frames).shape == (3, 53)
    for name, (packer, forward, adjoint) in bench.KERNELS.items():
        packed = packer(frames)
        assert packed.dtype == np.uint8, name
        for k in (1, 3):
            m, r = rng.standard_normal((21, k)), rng.standard_normal((53, k))
            np.testing.assert_allclose(forward(packed, m), frames @ m, rtol=0, atol=1e-12, err_msg=name)
            np.testing.assert_allclose(adjoint(packed, r, 21), frames.T @ r, rtol=0, atol=1e-12, err_msg=name)
    with pytest.raises(ValueError, match="-1, \\+1"):
        bench.pack(np.where(frames > 0, 1.0, 0.0))
    row = bench.measure(frames, 2)
    assert all(row["error"][f"{name}_adjoint"] < bench.EXACT_RTOL for name in bench.KERNELS)
    assert row["packed_bytes"] == 53 * 3 and set(row["speedup"]) == set(bench.KERNELS)

    def timed(k: int, float32_ms: float, kernel_ms: float) -> dict:
        ms = {f"{kind}_{product}": value / 2 for kind, value in (("float32", float32_ms), ("bitpacked", 99.0),
                                                                  ("bytewise", kernel_ms))
              for product in ("forward", "adjoint")}
        return {"frames": bench.FRAMES[0], "k": k, "ms": ms,
                "speedup": {"bitpacked": float32_ms / 99.0, "bytewise": float32_ms / kernel_ms},
                "error": {f"{name}_{product}": 0.0 for name in bench.KERNELS for product in ("forward", "adjoint")}}

    result = bench.reading([timed(1, 10.0, 2.0), timed(8, 40.0, 30.0)], {"rank1": 14.0, "smooth": 52.0})
    bytewise = result["bytewise"]
    assert bytewise["projected_gradient_ms"] == pytest.approx({"rank1": 6.0, "smooth": 42.0})
    assert bytewise["speedups"] == pytest.approx({1: 5.0, 8: 40 / 30}) and bytewise["pays"] is False
    assert result["bitpacked"]["pays"] is False
    assert bench.reading([timed(1, 10.0, 2.0), timed(8, 40.0, 20.0)], {"rank1": 14.0, "smooth": 52.0})[
        "bytewise"]["pays"] is True
