"""How NUTS's leapfrog steps per draw grow with the dimension on an ideal target (issue #21, goal 3: what bounds
the structured priors' steps per draw in weights).

Goal 3 multiplies two costs: the gradient's and the leapfrog steps per draw (``bench_cost_growth.py``). On a target of
``d`` independent coordinates, HMC keeps its acceptance rate only with a step size that shrinks as ``d^(-1/4)``
(Beskos, Pillai, Roberts, Sanz-Serna & Stuart 2013, Bernoulli 19: 1501-1534), so even with a perfect geometry and a
perfectly adapted mass matrix the steps per draw grow about as ``d^(1/4)``. This benchmark measures that floor with
the sampler and settings bayesrf uses, so that a prior's steps exponent in ``docs/cost_growth_tuned.json`` can be
split into the part any HMC pays and the part its geometry adds.

Protocol (fixed before the first run)
-------------------------------------
- Target: a standard normal of ``d`` independent coordinates (PyMC ``pm.Normal("z", 0, 1, shape=d)``), with ``d``
  the number of free coordinates of each structured prior's model (the sizes of ``bayesrf.build_model``'s value
  variables) at each size of ``bench_cost_growth.py``'s weight sweep (10 x 10 to 40 x 40 px x 8 lags at 5,000
  frames, its recordings): ``rank1`` 119 to 1,619, ``smooth`` 812 to 12,812, ``local`` 817 to 12,817.
- Sampler: ``bayesrf.nuts.run_nuts`` as ``bayesrf.sample`` calls it for a structured prior: nutpie, 2 chains on 2
  cores (one BLAS thread each), ``tune`` = ``bayesrf.nuts.DEFAULT_TUNE["nutpie"]`` (300), ``draws`` =
  ``bench_cost_growth.TUNED_DRAWS`` (100), ``target_accept`` = the structured priors' (0.9), started (no jitter) at
  a draw of the target itself, so no warm-up is spent reaching it. Seeds 0-4 (the start and the sampler), one run
  each per ``d``.
- Reported per ``d`` and seed: the kept draws' mean leapfrog steps (``n_steps``, as the cost-growth probes read
  them) and mean step size; per ``d`` their mean over the seeds and its spread (min-max). Per prior: the slope of
  log mean steps on log weights over the sweep's four sizes (the cost-growth exponents' x axis), and on log ``d``.
- Nothing is tuned: the target has no knobs, and the settings are the package's.
- Reading, fixed now: a prior's steps exponent in weights (``docs/cost_growth_tuned.json``) minus this reference's
  over the same sizes is what its geometry adds. The floor of its cost-per-draw exponent with an ideal geometry is its
  retimed gradient exponent plus the reference's steps exponent: if that floor is at most goal 3's 1.2, a prior that
  misses the goal misses it on its geometry, not on HMC's scaling.
- Run on this machine with nothing else computing (files may be edited).

Amendment (session 71, after the run; nothing above changed): the run took about 3 minutes (02:10-02:13 UTC) at
commit da3d1ef with nothing else computing (files were edited), with no divergences and no warnings. The mean step size
fell from 0.37 at d 119 to 0.12 at d 12,817 (as d^-0.25); the mean steps per draw were 15 up to d 919, 26.5 at
1,619 and 31 (every seed, a tree of depth 5) from 3,212 to 12,817, so over the sweep's weights they grow as ^0.26 for
``smooth`` and ``local`` and ^0.17 for ``rank1``. Steps are quantised by NUTS's doubling trees (1, 3, 7, 15, 31, 63
...), so a slope from four sizes is coarse. Read as fixed above with ``docs/cost_growth_tuned.json``'s retimed
summary: ``local``'s steps grew as ^0.37, 0.11 above the reference, and its floor with an ideal geometry is ^1.16
(gradient ^0.89 + 0.26), within the goal's 1.2: ``local`` misses goal 3 in weights on its geometry.

Amendment (session 71, before the probes; nothing above changed): where do ``local``'s extra steps at 12,800 weights
come from? A smaller step size (stiff directions) or longer trajectories at the reference's step size (directions
the diagonal mass matrix leaves badly scaled or correlated, so the U-turn comes later)? ``--probe local 40 diag``
(new) runs ``bench_cost_growth.py --default-tune``'s probe of ``local`` at 40 x 40 px (12,817 coordinates; the same
recording, ``bayesrf.sample`` with 2 chains x (300 + 100) draws on 2 cores, seed 0) and stores, under ``"probes"``,
the kept draws' mean step size, the distribution of their leapfrog steps, divergences, the diagnostics and the wall
time; it should repeat the stored row's 55.0 steps per draw. Then ``--probe local 40 low_rank`` runs the same probe
with nutpie's ``adaptation="low_rank"`` (a diagonal mass matrix with a low-rank correction from the draws' gradients;
for the pilot run too, which ``bayesrf.sample`` runs first), the tool for a few directions that couple many
coordinates; ``bench_mixing.py``'s amendments 33-34 found it slower and no better at 1,500 weights, n/D 16. Each runs
on this machine with nothing else computing (files may be edited), ``diag`` stopped after 25 minutes and ``low_rank``
after 30 (``timeout``); a probe stopped unfinished stores nothing and is reported as such. Reading, fixed now: if
``local``'s mean step size is within 20 % of the reference's at the same ``d`` (0.119), its extra steps are longer
trajectories, else a smaller step. ``low_rank`` is reported, not chosen: were its steps per draw x gradient below
``diag``'s, that would be read as a candidate for goal 3 to be tried on goal 2's mixing seeds, not shipped from one
probe.

Amendment (session 71, after the probes; nothing above changed): ``--probe local 40 diag`` ran 02:17-02:28 UTC at
commit b9ea566 with nothing else computing but a niced unit-test run of about 2 s (files were edited). It repeated the
stored row exactly: 55.0 steps per draw (50 draws of 31 steps, 150 of 63), no divergences (a probe's max R-hat 1.52,
on ``rf_length``), 11 minutes; its mean step size 0.097, 0.82 times the reference's 0.119 at d 12,817: within 20 %,
so by the reading fixed above longer trajectories. But the arithmetic of NUTS's doubling trees weakens that reading:
at 0.82 times the step, the reference's 31-step trajectories would need 38 steps, more than a tree of depth 5 holds,
so the smaller step alone can send a draw to 63; at this resolution the two causes cannot be told apart. Either way
the extra steps are ``local``'s geometry. ``--probe local 40 low_rank`` ran 02:28-02:58 UTC and was stopped
unfinished by its 30-minute cap (its diagonal twin took 11 minutes), so it stores nothing: nutpie's low-rank mass
matrix is slower here too, as at 1,500 weights (``bench_mixing.py``'s amendment 34).

Amendment (session 71, before a third probe; nothing above changed): the structured priors sample with
``target_accept`` 0.9 (``bayesrf.families``: it removed most divergences of the real neuron's ``local`` fit), which
sets a smaller step than nutpie's default 0.8. If ``local``'s draws of 63 steps at 12,800 weights are its trees
tipped past 31 steps by a step 0.82 times the reference's, a larger step should bring them back.
``--probe local 40 diag 0.8`` (new: the fourth argument overrides the ``target_accept`` nutpie is called with, in the
pilot and the sampled run) runs the diagonal probe again with 0.8, on this machine with nothing else computing (files
may be edited), stopped after 20 minutes. Reported beside the 0.9 probe: steps per draw, their distribution, step
size, divergences. Reading, fixed now: a what-if, not a change; were its steps per draw at most 31 with no
divergences, ``target_accept`` for large models becomes a candidate for goal 3, to be judged on goal 2's mixing seeds
and the real neuron's divergences before any default changes.

Amendment (session 71, after the third probe; nothing above changed): ``--probe local 40 diag 0.8`` ran 03:01-03:14
UTC at commit b6bf2df with nothing else computing (files were edited). Every kept draw took 31 steps (the 0.9 probe:
55.0), at a mean step size 0.133, 1.36 times the 0.9 probe's and 1.11 times the reference's; no divergences; 9
minutes against 11. Its max R-hat was 2.49 (``rf_width``; the 0.9 probe 1.52 on ``rf_length``): both chains of a
100-draw probe disagree, which says nothing about either setting's mixing. By the reading fixed above,
``target_accept`` for large models is a candidate for goal 3: at 12,800 weights its cost per draw would be 12.53 x 31
= 388 ms against 689, but only after goal 2's mixing seeds and the real neuron's divergences are run with it; nothing
in the package changed. (``bench_mixing.py``'s amendments 46-47, after this one: on tuning seed 7 at n/D 16,
``local``'s kept draws with 0.8 took 15 steps instead of 29.8 but mixed worse, max R-hat 1.065 and min bulk ESS
38, so 0.8 was set aside for data-rich fits.)

Amendment (session 72, before a fourth probe; nothing above changed): between the two settings. 0.8 halved
``local``'s steps at 12,800 weights but mixed worse on goal 2's tuning seed, where its kept draws took 15 steps
instead of 29.8 (``bench_mixing.py`` amendment 47). NUTS's trees double, so a setting whose step size still lets the
large model's draws end at 31 steps while the small data-rich one keeps its 31 would cost nothing where 0.9 already
works. ``--probe local 40 diag 0.85`` runs the diagonal probe with ``target_accept`` 0.85 (pilot and sampled run), on
this machine with nothing else computing (files may be edited), stopped after 20 minutes. Reading, fixed now: a
what-if, not a change; if its steps per draw are at most 35 (mostly 31-step draws) with no divergences, 0.85 goes on
to goal 2's tuning seed 7 (``bench_mixing.py --probe 7 local 16``, judged there by amendment 46's reading); otherwise
0.85 is not carried further and that probe is not run.
Not run in session 72: ``local``'s default run at 12,800 weights (``bench_big_posterior.py``'s session-72
amendment) took the session's 110 minutes of computing; the reading above stands for whoever runs the probe.

Usage: ``python benchmarks/bench_steps_reference.py [--probe PRIOR SIDE ADAPTATION [TARGET_ACCEPT]]`` ->
``docs/steps_reference.json`` (``--probe`` adds to its ``"probes"``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from bench_big_posterior import CHAINS, CORES, LAGS, recording, short_run
from bench_cost_growth import PRIORS, SIDES, SIDES_FRAMES, TUNED_DRAWS

from bayesrf.families import family_of
from bayesrf.results import stack_versions

OUT = Path(__file__).resolve().parent.parent / "docs" / "steps_reference.json"
SEEDS = range(5)
TARGET_ACCEPT = family_of("gp").nuts_form.target_accept
"""The structured (``gp``) priors' ``target_accept`` (0.9), which the reference runs with."""


def free_coordinates(prior: str, side: int) -> int:
    """The number of free coordinates of ``prior``'s model (its value variables' sizes) for the weight sweep's
    recording at ``side`` x ``side`` px."""
    import bayesrf
    from bayesrf.design import make_design

    design = make_design(recording(side, SIDES_FRAMES, lags=LAGS), LAGS)
    model = bayesrf.build_model(design, bayesrf.load_prior(prior))
    return int(sum(np.size(value) for value in model.initial_point().values()))


def reference_run(d: int, seed: int) -> dict:
    """NUTS on a ``d``-dimensional standard normal with bayesrf's settings: the kept draws' mean leapfrog steps and
    step size."""
    import pymc as pm

    from bayesrf.nuts import DEFAULT_TUNE, run_nuts

    with pm.Model() as model:
        pm.Normal("z", 0.0, 1.0, shape=d)
    start = {"z": np.random.default_rng(seed).standard_normal(d)}
    tree = run_nuts(model, start, TUNED_DRAWS, DEFAULT_TUNE["nutpie"], CHAINS, seed, "nutpie", False, TARGET_ACCEPT,
                    CORES, reuse_key=f"reference {d}")
    stats = tree["sample_stats"]
    return {"seed": seed, "steps_per_draw": float(stats["n_steps"].mean()),
            "step_size": float(stats["step_size"].mean()), "n_divergent": int(stats["diverging"].sum())}


def prior_probe(prior: str, side: int, adaptation: str, target_accept: float | None = None) -> dict:
    """``bench_cost_growth.py --default-tune``'s probe of ``prior`` at ``side`` x ``side`` px (its weight sweep's
    recording) with nutpie's ``adaptation`` and, if given, ``target_accept`` instead of the prior's (its pilot run
    too): the kept draws' mean step size, their leapfrog steps (mean and counts of each value), divergences,
    diagnostics and wall time."""
    from unittest import mock

    import nutpie

    import bayesrf
    from bayesrf.nuts import DEFAULT_TUNE

    shipped = nutpie.sample
    override = {"adaptation": adaptation} | ({} if target_accept is None else {"target_accept": target_accept})
    with mock.patch("nutpie.sample", lambda *args, **kwargs: shipped(*args, **kwargs | override)):
        tree, caught = short_run(recording(side, SIDES_FRAMES, lags=LAGS), prior, DEFAULT_TUNE["nutpie"], TUNED_DRAWS)
    stats = tree["sample_stats"]
    values, counts = np.unique(stats["n_steps"].values, return_counts=True)
    accept = target_accept or family_of(bayesrf.load_prior(prior)).nuts_form.target_accept
    return {"prior": prior, "side": side, "weights": LAGS * side**2, "d": free_coordinates(prior, side),
            "adaptation": adaptation, "target_accept": accept, "steps_per_draw": float(stats["n_steps"].mean()),
            "step_size": float(stats["step_size"].mean()),
            "steps_counts": {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)},
            "n_divergent": int(tree.attrs["n_divergent"]), "max_rhat": float(tree.attrs["max_rhat"]),
            "min_ess_bulk": float(tree.attrs["min_ess_bulk"]), "wall_s": float(tree.attrs["wall_time_s"]),
            "warnings": caught, "stack_versions": stack_versions()}


def summarise(rows: list[dict], sizes: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """Per prior whose sizes all ran, the log-log slopes of the reference's mean steps per draw on weights and on
    ``d`` over its sizes."""
    mean = {r["d"]: r["steps_mean"] for r in rows}
    return {prior: {x: float(np.polyfit(np.log([s[x] for s in by_size]),
                                        np.log([mean[s["d"]] for s in by_size]), 1)[0]) for x in ("weights", "d")}
            for prior, by_size in sizes.items() if all(s["d"] in mean for s in by_size)}


def main() -> None:
    if sys.argv[1:2] == ["--probe"]:
        prior, side, adaptation = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        target_accept = float(sys.argv[5]) if len(sys.argv) > 5 else None
        study = json.loads(OUT.read_text())
        study["probes"] = study.get("probes", []) + [prior_probe(prior, side, adaptation, target_accept)]
        OUT.write_text(json.dumps(study, indent=1) + "\n")
        return
    from bayesrf.nuts import DEFAULT_TUNE

    sizes = {prior: [{"side": side, "weights": LAGS * side**2, "d": free_coordinates(prior, side)} for side in SIDES]
             for prior in PRIORS}
    rows = []
    for d in sorted({s["d"] for by_size in sizes.values() for s in by_size}):
        runs = [reference_run(d, seed) for seed in SEEDS]
        steps = [r["steps_per_draw"] for r in runs]
        rows.append({"d": d, "seeds": runs, "steps_mean": float(np.mean(steps)), "steps_min": min(steps),
                     "steps_max": max(steps)})
        print(f"d {d:6d}: steps {np.mean(steps):5.1f} ({min(steps):.1f}-{max(steps):.1f})", file=sys.stderr, flush=True)
        OUT.write_text(json.dumps({"protocol": __doc__, "tune": DEFAULT_TUNE["nutpie"], "draws": TUNED_DRAWS,
                                   "chains": CHAINS, "target_accept": TARGET_ACCEPT, "sizes": sizes, "rows": rows,
                                   "summary": summarise(rows, sizes), "stack_versions": stack_versions()},
                                  indent=1) + "\n")


if __name__ == "__main__":
    main()
