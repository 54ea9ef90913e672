"""The real neuron's job-speed table (5 lags, 1,500 weights): ``docs/real_speed.json``, the README's "Speed" table.

Protocol (fixed before the run): the bundled neuron, 5 lags, 2 cores with nothing else running; every method gets
the same cores (NUTS chains in ``chain_processes(chains)`` processes, one BLAS thread each); each wall time is what a
user waits for (NUTS: compilation included).

* penalised ML: ``bayesrf.fit_ml`` at the shipped ridge's and lasso's penalties (``alpha_for``) against
  scikit-learn's ``PoissonRegressor`` (L2, Newton-Cholesky) and glum (L1) on the same objective, best of 2 runs;
  the max absolute difference of the two solutions (intercept and weights);
* MAP of the shipped specs (with their spline baseline) for ``ridge`` and ``lasso``, best of 2;
* NUTS with ``bayesrf.sample``'s defaults (4 chains x 1,000 draws, default tuning, seed 0) for ``ridge-hier``,
  ``lasso-hier``, ``smooth``, ``rank1`` and ``local``: wall time, min bulk ESS over the checked variables, max R-hat,
  divergences and ESS/s;
* the baseline for ``ridge-hier``: plain ``pm.sample`` (PyMC's own NUTS and defaults: 1,000 tuning steps,
  jitter + adapt_diag) on the same PyMC model, 4 x 1,000 draws in as many processes; the ratio of ESS/s. The
  ``lasso-hier`` baseline (13 minutes on an idle machine in session 3) was in the protocol of a first run in session
  14, stopped for lack of time during the ridge-hier baseline (over 5 minutes, PyTensor's C cache cold on a new
  machine); the rerun left it out, nothing else changed;
* ``ridge-hier`` with ``method="laplace"`` (type-II ML scales);
* where each NUTS run's time went (added in session 18, before its run): the result's ``time_*_s`` attrs (start
  point, compilation, warm-up and draws, log densities), the cost of one log-density and gradient on one core
  (``bench_big_posterior.gradient_ms``, PyTensor's default backend, not nutpie's numba build), the kept draws'
  mean leapfrog steps and step size, and the projection ``floor_s = chains x (tune + draws) x steps x gradient /
  cores`` of warm-up and draws (named a floor before the run; it exceeded the measurement for smooth and local).

Rerun (session 54, written before it; the protocol above unchanged): the stored run (commit 46ee20f, 2026-12-02)
predates how the ``gp`` priors are sampled since (the pilot-chosen centring, ``local``'s shear and whitened block, the
whitened spline baseline); it is run again with today's code, with nothing else computing (files may be edited), and
replaces it. It ran 08:52-09:03 UTC (10 minutes); beside it, while the penalised ML fits ran, ``tests/test_readme.py``
twice (about 2 s each) and two commits. ``local`` now **fails** badly (max R-hat 1.406 on ``rf_length``, min bulk ESS 8,
85 divergences, 83 of them in one chain; before, 1.011 and 503): its chains disagree on the y length scale (chain means
4.0, 6.4, 4.2 and 6.1 px). A session script (not stored) repeated the fit bit for bit, then ran it with
``bayesrf.structured.data_block`` returning None (no whitened block; the rest as shipped): max R-hat 1.012, min bulk ESS
288, no divergences, the four chains' y length scales 3.7-3.9 px. So on the real neuron (n/D 1) the whitened block of 64
coefficients, chosen from a pilot whose chains disagree (R-hat 1.15 on a hyperparameter), is what breaks the fit. Two
more such runs narrow it: the block kept but its slope along the hyperparameters set to 0, max R-hat 1.015, min bulk ESS
232, no divergences; the block with its slope but not padded (57 coefficients, every one centred more than
``BLOCK_CENTRING``, instead of 64), 1.021, 203 and 2 divergences. The regression slope of the 7 padded, weakly
determined coefficients is the likeliest culprit; none of the three passes the checks either.

Rerun 2 (session 55, written before it; the protocol above unchanged): ``bayesrf.structured.data_block`` now gives the
padded coefficients (centred at most ``BLOCK_CENTRING``) slope 0, the fourth such session-script run of session 54
(max R-hat 1.0099, min bulk ESS 365, no divergences; on tuning seed 7 at n/D 16, 2 x 400 draws, 1.020 and 95, within
the spread of amendments 28-30 of ``bench_mixing.py``). Only ``local`` reaches that code; the whole script runs again
with nothing else computing (files may be edited) and replaces the stored run. It ran 10:32-10:43 UTC (11 minutes)
with nothing else computing (files were edited): ``local`` gives the session script's numbers bit for bit, max R-hat
1.0099, min bulk ESS 365 on ``rf_length`` (and tail ESS 382), no divergences, and so still **fails** the checks, now on
ESS alone (400 needed); the other priors' draws are unchanged.

Rerun 3 (session 57, written before it; the protocol above unchanged): with the same code and the same package
versions (pymc 6.4.0, pytensor 3.3.8, nutpie 0.16.11, numba 0.68.0, numpy 2.5.5), a session script (not stored) that
runs only ``bayesrf.sample(bayesrf.load_recording(), "local", lags=5, seed=0)`` in a fresh process gave, in sessions 56
and 57 (the second with one BLAS thread, as here), bit for bit the same draws and not rerun 2's: 82 divergences, max
R-hat 1.057 and min bulk ESS 85 on ``rf_length`` (its y axis; one chain's mean 4.9 px, the others' 4.0-4.1). Session 55
ran the same script and got rerun 2's numbers. Rerun 2 did not record the machine, so whether the process (here
``local`` runs after four other priors) or the machine makes the difference is open; this rerun records
``stack_versions`` (:func:`bayesrf.results.stack_versions`: the package versions, the CPU and the BLAS kernels) and
replaces the stored run. If ``local`` gives the session script's draws, the process does not matter and the machine
does, and ``local``'s result on the real neuron swings between a near pass and a clear failure with the machine it runs
on; either way it fails the checks. It ran 16:41-16:52 UTC with nothing else computing (files were edited): ``local``
gave the session script's numbers bit for bit (max R-hat 1.057, min bulk ESS 85, 82 divergences), so the process does
not matter. The other priors' draws changed as well, with the same code and package versions as rerun 2 (those of
``docs/mixing.json``'s entries of session 55): ridge-hier's min bulk ESS 852 -> 901, rank1's 835 -> 958, smooth's
2114.279 -> 2114.278; all still pass. What differs is outside the recorded packages; the likeliest is the machine,
whose CPU and BLAS kernels rerun 2 did not record (this run: ``x86_64 znver4``, OpenBLAS SkylakeX kernels).

Rerun 4 (session 57, written before it; the protocol above unchanged but for one record): a session script (not
stored) found rerun 3's 82 divergences of ``local`` in one chain (80) and at the tail of the y length scale (the
divergent draws' median ``rf_length[y]`` 9.4 px, where 90 % of all draws lie below 6.5) with a large amplitude. Each
NUTS row now records where its divergences lie (:func:`divergences`: per chain, and the divergent draws' median of
each RF hyperparameter beside the quantiles of all draws), so the README can cite it; the run replaces rerun 3.
It ran 17:38-17:48 UTC with nothing else computing (files were edited): every prior's draws bit for bit rerun 3's
(the same min bulk ESS and max R-hat); ``local``'s divergences by chain 80, 0, 2, 0, their median ``rf_length[y]`` 9.37
px (all draws' 90 % quantile 6.54), ``rf_amplitude`` 0.047 (0.043) and ``rf_length[lag]`` 0.99 (0.94); the other RF
hyperparameters' divergent medians lie inside their 10-90 % ranges.
Two session-script probes after it (not stored; nothing is chosen on them, the real neuron is not a tuning set), each
with ``local``'s pilot changed and the rest as shipped: 400 pilot draws on 2 chains (shipped 100) gave max R-hat 1.028,
min bulk ESS 153, 4 divergences (pilot R-hat 1.043); 100 draws on 4 chains, 1.019, 144, 1 divergence (pilot 1.097). A
longer or wider pilot removes most divergences here, but the fit still fails the checks, so the pilot's length is not
the whole cause.

Warnings (diagnostics) are recorded in the JSON, not silenced. ``tests/test_readme.py`` fails when the README's
table differs from ``benchmarks/readme_tables.real_speed_table`` of this JSON.
Run: ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/bench_bayes.py`` (``make bench`` sets both; about
15 minutes on 2 cores). The script refuses to run without them: plain ``pm.sample``'s processes take their BLAS
threads from the environment, and session 18's first run, without them, took 757 s for it instead of 164 s.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pymc as pm

import bayesrf
from bayesrf.design import make_design
from bayesrf.diagnostics import check_diagnostics
from bayesrf.errors import recorded
from bayesrf.model import build_model
from bayesrf.nuts import chain_processes, checked_variables
from bayesrf.priors import alpha_for
from bayesrf.results import stack_versions
from bench_big_posterior import gradient_ms, projected_s
from bench_ml import glum_fit, ours, sklearn_l2, timed

DOCS = Path(__file__).resolve().parent.parent / "docs"
DRAWS, CHAINS = 1000, 4
NUTS_PRIORS = ("ridge-hier", "lasso-hier", "smooth", "rank1", "local")
BASELINE_PRIORS = ("ridge-hier",)


def _nuts_row(wall: float, diagnostics: dict, notes: str) -> dict:
    ess = float(diagnostics["min_ess_bulk"])
    return {"wall_s": wall, "min_ess_bulk": ess, "ess_per_s": ess / wall, "max_rhat": float(diagnostics["max_rhat"]),
            "n_divergent": int(diagnostics["n_divergent"]), "warnings": notes}


def phases(tree, rec, prior: str) -> dict:
    """Where a NUTS run's wall time went (seconds), its gradient's cost and the projection of its warm-up and draws."""
    stats, sizes = tree["sample_stats"], tree["posterior"].sizes
    ms = gradient_ms(rec, prior, lags=5)  # one BLAS thread: main() refuses to run otherwise
    steps = float(stats["n_steps"].mean())
    return {k: float(v) for k, v in tree.attrs.items() if k.startswith("time_")} | {
        "gradient_ms": ms, "steps_per_draw": steps, "step_size": float(stats["step_size"].mean()),
        "floor_s": projected_s(sizes["chain"], tree.attrs["tune"] + sizes["draw"], steps, ms,
                               chain_processes(sizes["chain"]))}


def divergences(tree) -> dict:
    """Where a NUTS run's divergent transitions lie: their count per chain and, for each hyperparameter of the RF
    (``rf_*`` with at most 3 values per draw), the median of the divergent draws beside the 10/50/90 % quantiles of
    all draws (None without divergences)."""
    diverging = tree["sample_stats"]["diverging"].values.astype(bool)
    post = tree["posterior"]
    located = {}
    for name in sorted(n for n in post.data_vars if n.startswith("rf_") and post[n][0, 0].size <= 3):
        values = post[name].values.reshape(diverging.size, -1)
        located[name] = {"q10_q50_q90": np.quantile(values, [0.1, 0.5, 0.9], axis=0).T.tolist(),
                         "divergent_median": np.median(values[diverging.ravel()], axis=0).tolist()
                         if diverging.any() else None}
    return {"divergent_by_chain": diverging.sum(axis=1).tolist(), "hyperparameters": located}


def pymc_defaults(design, name: str) -> dict:
    """Plain ``pm.sample`` with PyMC's own NUTS and all its defaults, in as many processes as bayesrf uses."""
    t = time.perf_counter()
    model = build_model(design, bayesrf.load_prior(name))
    tree, notes = recorded(lambda: pm.sample(draws=DRAWS, chains=CHAINS, random_seed=0, nuts_sampler="pymc",
                                             model=model, cores=chain_processes(CHAINS), progressbar=False,
                                             compute_convergence_checks=False))
    wall = time.perf_counter() - t
    diagnostics, more = recorded(lambda: check_diagnostics(tree, checked_variables(tree["posterior"])))
    return _nuts_row(wall, diagnostics, " | ".join(filter(None, (notes, more))))


def main() -> dict:
    if (os.environ.get("OPENBLAS_NUM_THREADS"), os.environ.get("OMP_NUM_THREADS")) != ("1", "1"):
        raise SystemExit("run with OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 (make bench sets them): every method gets "
                         "one BLAS thread per process")
    started = time.perf_counter()
    rec = bayesrf.load_recording()
    design = make_design(rec, 5)
    a2 = alpha_for(bayesrf.load_prior("ridge"), design.n_obs)
    a1 = alpha_for(bayesrf.load_prior("lasso"), design.n_obs)
    penalised = {}
    for job, mine, ref_name, ref in (("ridge ML", lambda: ours(rec, "l2", a2), "sklearn PoissonRegressor",
                                      lambda: sklearn_l2(design, a2)),
                                     ("lasso ML", lambda: ours(rec, "l1", a1), "glum", lambda: glum_fit(design, a1, 1.0))):
        (t_mine, x_mine), (t_ref, x_ref) = timed(mine), timed(ref)
        penalised[job] = {"bayesrf_s": t_mine, "reference": ref_name, "reference_s": t_ref,
                          "max_abs_diff": float(np.abs(x_mine - x_ref).max())}
        print(f"{job}: bayesrf {t_mine:.2f} s, {ref_name} {t_ref:.2f} s, max |diff| {penalised[job]['max_abs_diff']:.1e}",
              flush=True)
    maps = {}
    for name in ("ridge", "lasso"):
        maps[name], _ = timed(lambda: bayesrf.fit_map(rec, name, lags=5, estimates=False))
        print(f"{name} MAP: {maps[name]:.2f} s", flush=True)
    nuts, baseline = {}, {}
    for name in NUTS_PRIORS:
        tree, notes = recorded(lambda: bayesrf.sample(rec, name, lags=5, draws=DRAWS, chains=CHAINS, seed=0))
        nuts[name] = (_nuts_row(tree.attrs["wall_time_s"], tree.attrs, notes) | phases(tree, rec, name)
                      | divergences(tree))
        print(f"{name} NUTS: {nuts[name]}", flush=True)
    for name in BASELINE_PRIORS:
        baseline[name] = pymc_defaults(design, name)
        print(f"{name} pm.sample: {baseline[name]}", flush=True)
    t = time.perf_counter()
    _, notes = recorded(lambda: bayesrf.sample(rec, "ridge-hier", lags=5, method="laplace", draws=DRAWS, chains=CHAINS,
                                               seed=0, estimates=False))
    laplace = {"wall_s": time.perf_counter() - t, "warnings": notes}
    result = {"n_weights": design.n_weights, "n_obs": design.n_obs, "draws": DRAWS, "chains": CHAINS,
              "cores": os.cpu_count(), "penalised_ml": penalised, "map_s": maps, "nuts": nuts,
              "pm_sample_defaults": baseline, "ridge_hier_laplace": laplace,
              "wall_time_s": time.perf_counter() - started, "command": "python benchmarks/bench_bayes.py",
              "stack_versions": stack_versions()}
    out = DOCS / "real_speed.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
