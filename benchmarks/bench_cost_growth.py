"""How the structured priors' NUTS cost grows with frames and with weights (issue #21, goal 3).

Protocol (fixed before the first run)
-------------------------------------
- Data: ``bench_big_posterior.recording``'s neuron (``bayesrf.simulate`` Gabor x biphasic, binary frames, 8 lags,
  50 ms frames, 20 spikes/s, seed 0) in two sweeps: frames 1,000, 3,000, 10,000, 30,000 and 100,000 at
  10 x 10 px (800 weights), and pixels 10 x 10, 20 x 20, 30 x 30 and 40 x 40 (800 to 12,800 weights) at
  5,000 frames.
- Priors: the shipped ``smooth``, ``local`` and ``rank1``.
- Per prior and size, as ``bench_big_posterior.py`` measures them: the milliseconds of one log-density and gradient
  on one core (``gradient_ms``), then a probe, ``bayesrf.sample`` with ``tune = 100``, ``draws = 50``, 2 chains on
  2 cores (one BLAS thread each), seed 0, for the kept draws' mean leapfrog steps. The cost of a draw is
  ``steps x gradient`` on one core; the probe's wall time (compilation and the MAP start included) is stored
  beside it. A probe is not a posterior: its R-hat and ESS are stored but say little.
- Order: the pixel sweep, then the frame sweep, each from the smallest size up.
- Exponents: the slope of log cost on log frames from 10,000 frames on (as the README's ridge table) and on log
  weights over all four sizes, for the gradient, the steps per draw and the cost per draw.
- Goal (#21 goal 3), fixed here: the cost per draw grows at most linearly in frames (exponent <= 1.0) and roughly
  linearly in weights (exponent <= 1.2), for every structured prior.
- MAP times at these weights are in ``docs/map_scaling.json`` and are not repeated here.

Amendment (session 24, after the run was stopped; nothing else changed): the first run was stopped during
``local``'s probe at 100,000 frames, which had run 34 minutes without finishing (the ``smooth`` row before it was
written at 20:12, the process was stopped at 20:46), to leave the session time for other runs; ``rank1`` at
100,000 frames was not run. A sweep with a size missing keeps its exponent over the sizes it has, and its goal is
not judged (``"meets": null``); ``--report`` recomputes the summary of the stored sweeps this way.

Amendment (session 38, before its run; nothing else changed): ``--missing`` measures only the probes the stored
JSON lacks (``local`` and ``rank1`` at 100,000 frames) with the same settings, and puts each into its sweep at its
size; the stored rows are kept as they are. The missing probes run the cheapest first: ordered by the longest stored
probe of the same prior on that sweep (``rank1`` 181 s, ``local`` 233 s at 30,000 frames), so that a
probe that does not finish cannot keep the other from running. The run is on this machine with nothing else
computing; a probe still running 60 minutes after it started is stopped and reported as not run, as in session 24.

Amendment (session 38, after the run; nothing above changed): ``rank1`` at 100,000 frames ran 12:37-13:16 UTC
(probe 2,338 s: gradient 29.9 ms x 286 leapfrog steps per draw, R-hat 1.17 on ``rf_length``). ``local`` at 100,000
frames started at 13:16 and was stopped at 14:18, 62 minutes in, unfinished, as fixed above; its goal in frames
stays not judged. With three sizes from 10,000 frames on, ``rank1``'s cost per draw grows as frames^2.04 (gradient
^1.37, steps ^0.67): it misses the goal.

Amendment (session 45, before its run; nothing above changed): every ``local`` row above was measured before
``local``'s sampled parametrisation changed (partial centring, session 26; the shear along its envelope and the
whitened block of data-determined coefficients, sessions 42-44), which is what was built for data-rich posteriors
such as 100,000 frames at 800 weights (about 125 intervals per weight). ``--rerun local`` measures all nine of
``local``'s probes again with today's code and the settings above, the weight sweep first and then the frame sweep,
each from the smallest size up, on this machine with nothing else computing, and replaces ``local``'s rows; the
replaced rows stay in the JSON under ``"superseded"``. The run is stopped 55 minutes after it starts (``timeout``);
a probe still running then is reported as stopped unfinished, as before. ``smooth``'s rows and ``rank1``'s below
100,000 frames also predate partial centring; they are not measured again (no session time for them) and the README
says so.

Amendment (session 45, after the run; nothing above changed): ``--rerun local`` ran 08:20-09:15 UTC with nothing else
computing (files were edited meanwhile) and was stopped by its 55-minute cap during the probe at 100,000 frames, which
had started at 08:51, after the 30,000-frame row was written; so ``local``'s goal in frames stays not judged. Its
draws took 31 leapfrog steps at 10,000 frames and 234 at 30,000 (the superseded rows: 31 at both).

Amendment (session 47, before its run; nothing above changed): a probe outside this benchmark (same recording and
settings, ``local`` at 30,000 frames) showed where the 234 steps came from: one of the pilot's two chains put the
envelope outside the image (centre y -5.2 px, width 8.5 px; the other chain 4.5 and 2.5), 17 nats lower in mean
log-density, and the medians of both chains chose the sampled coordinates. ``bayesrf.sample`` now reads only the
pilot's chain of highest log-density when its chains disagree on a hyperparameter (R-hat above 1.1,
``bayesrf.nuts.pilot_chains``) and starts the sampled chains at that chain's last draw; the same probe then took 28
steps per draw (probe 384 s instead of 771). ``--rerun local`` measures ``local``'s nine probes again with this code
and the settings above, in the same order, on this machine with nothing else computing (files may be edited), and
is stopped 55 minutes after it starts, as in session 45. The session-45 rows join the earlier ones under
``"superseded"`` (per prior, a list of replaced sets of rows, oldest first).

Amendment (session 47, after the run; nothing above changed): ``--rerun local`` ran 12:53-13:48 UTC with nothing else
computing (files were edited meanwhile) and was stopped by its 55-minute cap during the probe at 100,000 frames, which
had started at 13:11, after the 30,000-frame row was written (36 minutes unfinished); ``local``'s goal in frames stays
not judged. Its draws took 28 leapfrog steps at 30,000 frames (234 in session 45) and 31 at 12,800 weights (60).

Amendment (session 48; no probe run, nothing above changed): session 48 removed both of session 47's changes from
``bayesrf.sample`` (the best-chain reading and the warm start; ``benchmarks/bench_mixing.py``'s amendments 14 and 15
say why), so ``gp`` fits run the code of session 45 again. ``--restore local`` puts back, as ``local``'s rows, the set
that session 47's rerun replaced (session 45's, measured with that code) and moves session 47's rows to the end of
``"superseded"`` (per prior, every replaced set, in the order they were replaced); no row is measured or changed.

Amendment (session 48, before its runs; nothing above changed): ``smooth``'s rows and ``rank1``'s below 100,000
frames predate partial centring (session 26), and ``rank1``'s 100,000-frame row was measured in session 38; with
session 48's restore every ``gp`` fit runs the code of ``local``'s rows again. ``--rerun smooth``, then ``--rerun
rank1``, measure their nine probes again with today's code and the settings above, in the same order, on this machine
with nothing else computing (files may be edited; a ``bench_mixing.py --pilots`` check that started earlier finishes
first). ``smooth``'s run is stopped 30 minutes after it starts (its stored probes took 19 minutes in all), ``rank1``'s
55 minutes after it starts or at 16:50 UTC, whichever is first; a probe still running then is reported as stopped
unfinished and that prior's goal in that sweep is not judged. The replaced rows join ``"superseded"``.

Amendment (session 48, before ``rank1``'s run, during ``smooth``'s; nothing above changed): ``rank1``'s run waits
for a 10-minute ``bench_mixing.py --repeat`` after ``smooth``'s, so its cap is 55 minutes after it starts, without the
16:50 UTC bound (which was set for the session's schedule, not from any result).

Amendment (session 48, after ``smooth``'s run; nothing above changed): ``--rerun smooth`` ran 15:33-16:03 UTC and
was stopped by its 30-minute cap during the probe at 100,000 frames, which had started at about 15:59, after the
30,000-frame row (probe 358 s; 145 s in the replaced row); ``smooth``'s goal in frames is not judged. Beside it, only
two unit-test runs of a few seconds each (``tests/test_benchmarks.py -k compare_flags``, ``tests/test_readme.py``,
15:34-15:36) and file edits. Its draws took 24 to 33 leapfrog steps (the replaced rows 25 to 63).

Amendment (session 48, instead of ``rank1``'s run): ``rank1``'s rerun announced above is not run: a repeat of a stored
mixing fit showed the mixing benchmark's stored fits stale (``bench_mixing.py``'s amendment 17), and the session's
remaining cores went to rerunning those. ``rank1``'s rows stay as stored (below 100,000 frames from before partial
centring).

Amendment (session 50, before its run; nothing above changed): since session 49 every ``gp`` prior samples its
spline baseline's levels whitened (``bayesrf.structured.baseline_whitening``; ``bench_mixing.py``'s amendment 20), so
every stored row is stale; ``rank1``'s rows below 100,000 frames also predate partial centring, and at n/D 16 in
``bench_mixing.py`` the baseline had been ``rank1``'s slowest variable. ``--rerun rank1`` measures its nine probes
again with today's code and the settings above, in the same order, on this machine with nothing else computing (files
may be edited), after ``bench_mixing.py``'s ninth run; it is stopped 50 minutes after it starts or at 23:05 UTC,
whichever is first (the session's schedule), and a probe still running then is reported as stopped unfinished, with
``rank1``'s goal in that sweep not judged. ``smooth``'s and ``local``'s rows are not measured again (no session time).

Amendment (session 50, after the run; nothing above changed): ``--rerun rank1`` ran 21:53-22:43 UTC with nothing
else computing but about 2 s of a README-regeneration script at 21:53:24, during the first probe's set-up (its
gradient, 0.79 ms at 5,000 frames, lies between the frame sweep's 0.36 ms at 3,000 and 1.21 ms at 10,000 frames).
``rank1``'s eight probes up to 30,000 frames ran. Not as announced above: the script also runs every other prior's
missing probes, in the protocol's order, so after ``rank1``'s 30,000-frame row it ran ``smooth`` at 100,000 frames
(probe 1,930 s, today's code; kept, and the README says its sweep mixes this row with session 48's) and then
``local`` at 100,000 frames, which stopped with an error: its pilot's point gave ``nan`` in the partial centring
(``bayesrf.structured.centring``), which PyMC refuses as data. ``rank1`` at 100,000 frames did not run, so its goal
in frames is not judged.

Amendment (session 51; no probe run, nothing above changed): the error of ``local`` at 100,000 frames came from this
run's cap, not from ``local``: the run was stopped at 22:43, 50 minutes after it started, during that probe's pilot.
Interrupted while tuning, nutpie returns a run of no draws instead of raising (tried in session 51: SIGINT from
``timeout`` during the tuning of a small model gave 2 chains x 0 draws), so the pilot's medians were NaN. Since session
51 ``bayesrf.nuts.run_nuts`` raises ``KeyboardInterrupt`` for a run with fewer draws than asked. So that probe was
stopped unfinished by the cap, as the earlier attempts were; the stored rows are unchanged. ``--only PRIOR`` (new)
limits ``--missing`` and ``--rerun`` to that prior's probes; without it they still run every prior's missing probes.

Amendment (session 51, before its run; nothing above changed): ``--missing --only rank1`` measures the one probe
``rank1`` lacks, 100,000 frames, with today's code (the whitened baseline, as its other rows) and the settings above, on
this machine with nothing else computing (files may be edited). It is stopped at 01:58 UTC (the session's schedule); a
probe still running then is reported as stopped unfinished and ``rank1``'s goal in frames stays not judged. The JSON's
``"complete"`` now says whether every probe of the protocol is stored (before, whether the run's own list was done).

Amendment (session 51, after the run; nothing above changed): ``--missing --only rank1`` ran 01:13-01:28 UTC with
nothing else computing (files were edited). ``rank1`` at 100,000 frames: gradient 18.0 ms x 127 leapfrog steps = 2,284
ms per draw (probe 871 s, 0 divergences; session 38's replaced row, before partial centring, 29.9 ms x 286). With all
three sizes from 10,000 frames measured with today's code, ``rank1``'s cost per draw grows as frames^1.36 (gradient
^1.17, steps ^0.19): it misses the goal in frames. ``local`` at 100,000 frames is still missing, so ``"complete"`` stays
false.

Amendment (session 52, before its run; nothing above changed): since session 52 frames that float32 holds exactly
enter the model in float32 also from 64 MiB of float64 frames on (``bayesrf.model.SINGLE_PRECISION_BYTES``), at any
number of weights; at 10 x 10 px that is from 83,887 frames, so of this protocol's sizes only 100,000 frames changes
(the weight sweep's 20 x 20 to 40 x 40 px were float32 already, by weights, and its 10 x 10 px at 5,000 frames is 4
MB). The threshold was chosen from ``docs/frames_memory.json`` (session 39: at 100,000 frames the gradient 1.86x
faster for ``rank1`` and 2.44x for ``smooth`` in float32), not from any probe of this benchmark. ``--replace-frames
100000`` (new) moves each prior's row at 100,000 frames (``smooth``'s of session 50, ``rank1``'s of session 51) to
``"superseded"`` and measures all three priors there again with today's code and the settings above, cheapest first as
``--missing`` orders them (``rank1``, ``smooth``, ``local``), on this machine with nothing else computing (files may
be edited). Each new row stores the package versions (``stack_versions``). The run is stopped at 04:05 UTC (the
session's schedule); a probe still running then is reported as stopped unfinished and that prior's goal in frames
stays not judged. Reading, fixed now: with these rows the exponents in frames describe the package as shipped (float64
frames below 83,887 frames, float32 from there on), not one arithmetic, and the README says so; ``local``'s rows below
100,000 frames stay session 45's (before the baseline whitening), ``smooth``'s session 48's.

Amendment (session 52, after the run; nothing above changed): ``--replace-frames 100000`` ran 02:19-03:11 UTC with
nothing else computing (files were edited) and finished all three probes, each with float32 frames. ``rank1``: 9.92 ms
x 129.6 leapfrog steps = 1,285 ms per draw (probe 493 s; the replaced float64 row of session 51: 18.0 ms x 127 = 2,284
ms, 871 s). ``smooth``: 18.96 ms x 42.5 = 806 ms (586 s; session 50's: 31.6 ms x 41.7 = 1,318 ms, 1,930 s). ``local``,
the first of its probes at 100,000 frames to finish (sessions 24, 38, 45, 47 and 50 stopped theirs): 15.9 ms x 89.6 =
1,422 ms (1,538 s; R-hat 1.24 on ``rf_amplitude``, as a probe's can be). Every probe of the protocol is now stored
(``"complete": true``). From 10,000 frames on the cost per draw grows as frames^1.22 (``smooth``: gradient ^0.99,
steps ^0.23), ^1.35 (``local``: ^0.91, ^0.44) and ^1.11 (``rank1``: ^0.91, ^0.20): every prior misses the goal in
frames, now on the steps per draw, the gradient being at most linear; every prior meets it in weights (unchanged).
``local``'s steps exponent mixes code: its rows at 10,000 and 30,000 frames are session 45's (31 and 234.5 steps,
before the baseline whitening), this one today's.

Amendment (session 68, before its run; nothing above changed): since session 68 a large rank-1 model multiplies its
binary frames by its spatial map bit-packed (``bayesrf.bitpacked``, ``docs/bitpacked.json``), large by the float32
rule (``bayesrf.model.large_model``): here ``rank1``'s weight sweep from 3,200 weights on and its frame sweep's row at
100,000 frames; its other frame-sweep rows stay float64. ``--rerun rank1 --only rank1`` measures its nine probes again
with today's code and the settings above, on this machine with nothing else computing (files may be edited); the
session-51/52 set moves to ``"superseded"``. Reading, fixed now: as in session 52's amendment, the exponents then
describe the package as shipped, not one arithmetic (in frames float64 up to 30,000 frames and bits at 100,000), and
the README says so; ``smooth``'s and ``local``'s rows are unchanged (their code did not change). Each new row also
stores the form its model took the frames in (``frames_form``: ``float64``, ``float32`` or ``bits -1.0 1.0``).

Amendment (session 68, after the run; nothing above changed): ``--rerun rank1 --only rank1`` ran 18:37-19:00 UTC
with nothing else computing but a few seconds of tests and README scripts (niced; files were edited). All nine probes
finished, with no divergences. The rows that take the bits (3,200 to 12,800 weights, and 100,000 frames) got cheaper
gradients: at 12,800 weights 2.15 ms against 2.74 ms, at 100,000 frames 8.47 against 9.92 ms. At 100,000 frames x
100 px the products are a small part of the gradient, so the bits save little there. But the float64 rows, whose code
did not change, moved as much: at 10,000 frames 0.70 against 1.21 ms, at 30,000 frames 5.35 against 3.60 ms. Their
steps per draw moved too (62.7 against 81.6, and 80.3 against 127). From 10,000 frames ``rank1``'s cost per draw now
grows as frames^1.40 (gradient ^1.07, steps ^0.32), against session 52's ^1.11 (^0.91, ^0.20). In weights it grows as
^0.86 (^0.61, ^0.25), against ^0.43. The goal is still missed in frames and met in weights. Single probes at these
sizes scatter this much between runs (the 30,000-frame matrix, 24 MB, is about this machine's 32 MB cache), so the
change in the exponents is read as that scatter, not as the bits.

Amendment (session 69, before its run; nothing above changed): a probe's 100 tuning steps are not the default run's
300 (``bayesrf.nuts.DEFAULT_TUNE``), and its steps per draw come from that short adaptation. On tuning seed 7 at
10,000 frames (``rank1``, outside this benchmark, not stored) a probe of 2 chains x (100 + 50) draws took 47 leapfrog
steps per draw and a run of 2 chains x (300 + 400) draws 15; goal 3 is about the default run's cost. ``--default-tune``
(new) measures the frame sweep again (10 x 10 px, 1,000 to 100,000 frames, seed 0, the recordings above) with
probes of 2 chains x (300 + 100) draws (``TUNED_DRAWS``; the pilot of a ``gp`` prior, which ``bayesrf.sample`` runs
first, then has the same 300 tuning steps), everything else as in the protocol (the gradient timed alone on one
core; one BLAS thread per chain), into ``docs/cost_growth_tuned.json``; the protocol's rows in
``docs/cost_growth.json`` stay as they are. The weight sweep is not measured (no session time; it meets its goal with
the short probes). Order: ``rank1``, ``smooth``, ``local`` (the cheapest probes first), each from the smallest size
up, on this machine with nothing else computing (files may be edited). The run is stopped at 21:45 UTC (the
session's schedule); a probe still running then is reported as stopped unfinished and that prior's goal in frames is
not judged. Reading: the protocol's, on these rows (the cost per draw from 10,000 frames on grows at most as
frames^1.0), beside the short probes' exponents.

Amendment (session 69, after the run; nothing above changed): ``--default-tune`` ran 20:32-21:45 UTC at commit
ce92f65 with nothing else computing (files were edited) and was stopped by its cap during ``local``'s probe at 100,000
frames, which had started at about 21:41; ``local``'s goal in frames is not judged. With the default warm-up the
steps per draw no longer grow with the data for ``rank1`` (15.0 at every size up to 30,000 frames and 15.2 at
100,000; the short probes 15, 15, 63, 80 and 131) and barely for ``smooth`` (25, 19, 17, 17 and 22; short 24, 24, 25,
28 and 43); ``local`` took 15, 16, 21 and 31 up to 30,000 frames (short 26, 22, 31 and 234.5). From 10,000 frames on the
cost per draw grows as frames^0.75 for ``rank1`` (gradient ^0.75, steps ^0.00): it **meets** the goal; as ^1.02 for
``smooth`` (gradient ^0.92, steps ^0.10), which misses it by 0.02. No probe diverged. The gradients, timed again, again
scattered against the stored ones (``local`` at 10,000 frames 6.95 ms against 1.9), as the session-68 amendment
found. The probes' R-hat (100 draws) is not a convergence check; ``rank1``'s at 100,000 frames was 1.61.

Amendment (session 70, before its run; nothing above changed): ``--default-tune`` resumes a stopped run, so run again
it measures the one probe ``docs/cost_growth_tuned.json`` lacks, ``local`` at 100,000 frames, with the settings of
session 69's amendment. The package is unchanged since that run (no commit under ``bayesrf/`` after ce92f65). On this
machine with nothing else computing (files may be edited; at most a few seconds of niced unit tests). The run is
stopped 60 minutes after it starts (``timeout``; the stored probes of ``local`` at 30,000 frames took 14 minutes, and
``smooth``'s at 100,000 frames 24); a probe still running then is reported as stopped unfinished and ``local``'s goal
in frames stays not judged. Reading: the protocol's, as in session 69's amendment.

Amendment (session 70, before the weight sweep's run, during the probe above; nothing above changed):
``--default-tune`` now also measures the weight sweep (10 x 10 to 40 x 40 px at 5,000 frames, the protocol's
recordings) with the same probes as its frame sweep, after that sweep, each prior in the order ``rank1``, ``smooth``,
``local`` from the smallest size up (``tuned_pending``). It runs after the probe above ends, on this machine with
nothing else computing (files may be edited; at most a few seconds of niced unit tests), and is stopped 55 minutes
after it starts or at 01:15 UTC (the session's schedule), whichever is first; a probe still running then is reported
as stopped unfinished and that prior's goal in weights is not judged. Reading: the protocol's goal in weights (the
cost per draw grows at most as weights^1.2 over the four sizes), beside the short probes' exponents.

Amendment (session 70, before ``--retime``'s run, during the weight sweep's; nothing above changed): single gradient
timings scatter between runs (``local`` at 10,000 frames took 6.95 ms in session 69's probe and 1.89 ms in session
45's), and each exponent in frames rests on three of them. ``--retime`` (new) times again every gradient the
exponents of ``--default-tune`` use (10,000, 30,000 and 100,000 frames at 10 x 10 px; the weight sweep's four sizes),
each prior's model built as ``bench_big_posterior.gradient_ms`` builds it (at the sampler's start, one core), in
``RETIME_BLOCKS`` = 5 blocks of 20 calls, the blocks interleaved over the 21 models so that a slow minute falls on all
of them; every block is stored in ``docs/cost_growth_tuned.json`` under ``gradient_retimed``, and the exponents of
the probes' steps per draw times the median block under ``summary_retimed``. It runs after the weight sweep ends, on
this machine with nothing else computing, and is stopped at 00:55 UTC (the session's schedule). Reading, fixed now:
goal 3 is judged on the retimed medians (the steps from the probes), and the README gives the verdicts of the probes'
single timings beside them; a model whose slowest block took more than 1.5 times its fastest is named.

Amendment (session 70, after ``local``'s probe at 100,000 frames; nothing above changed): ``--default-tune`` ran
23:18-23:36 UTC at commit 8d320ee with nothing else computing but one niced unit-test run of about a minute
(``tests/test_benchmarks.py -k cost_growth`` at nice 19, in the probe's first ten minutes; files were edited). The
probe finished: 20.18 ms x 29.0 leapfrog steps = 585 ms per draw (probe 1,054 s, float32 frames, 0 divergences;
R-hat 1.49 on ``rf_width``, as a probe's 100 draws can give). Every probe of the frame sweep is now stored. From
10,000 frames on, ``local``'s cost per draw grows as frames^0.60 (gradient ^0.46, steps ^0.14): on these timings it
meets the goal. Its gradient at 10,000 frames (6.95 ms, session 69) is 3.7 times the short probes' (1.89 ms), and
with the shorter time the exponent would be higher; ``--retime`` above times it again.

Amendment (session 70, after the weight sweep's run; nothing above changed): ``--default-tune`` ran the weight sweep
23:38-00:33 UTC at commit 0d638a5 (its rows say ``0d638a5-dirty``: the worktree held the JSON copied in to resume
from) with nothing else computing (files were edited) and was stopped by its 55-minute cap during ``local``'s probe
at 12,800 weights, which had started at about 00:28; ``local``'s goal in weights is not judged. No probe diverged.
Over 800 to 12,800 weights the cost per draw grows as weights^0.72 for ``rank1`` (gradient ^0.45, steps ^0.26;
steps 15, 15, 24 and 31) and ^1.19 for ``smooth`` (gradient ^0.92, steps ^0.26; steps 17, 31, 31 and 36): both
meet the goal of at most ^1.2, ``smooth`` by 0.01. ``local``'s three sizes give ^1.21 (steps 19, 31 and 39). The
short probes had given ^0.86 for both: with the default warm-up the smallest size takes fewer steps (``smooth`` 17
against 28), so the slope is steeper.

Amendment (session 70, after ``--retime``'s run; nothing above changed): ``--retime`` ran 00:33-00:34 UTC at commit
7e07c12 (``7e07c12-dirty``: the JSON copied in) with nothing else computing. With the median blocks and the probes'
steps, from 10,000 frames on the cost per draw grows as frames^0.85 (``rank1``), ^0.83 (``smooth``) and ^0.84
(``local``), and over the weight sweep as weights^0.70 (``rank1``), ^1.11 (``smooth``) and ^1.14 (``local``, three
sizes): by the reading fixed above, goal 3 is met in frames by every structured prior and in weights by ``rank1`` and
``smooth``, ``local``'s not judged. The medians at 10,000 frames (``rank1`` 0.98, ``smooth`` 3.93, ``local`` 4.00
ms) differ from the probes' single timings (1.39, 2.40, 6.95) and from session 45's and 48's short probes (0.70,
1.89, 1.89) by up to 2.1 times, more than the blocks of one run differ (at most 1.64 times, ``smooth`` at 10,000
frames): the same gradient costs different times on different days on this virtual machine, so an exponent from
three sizes is a reading of one run, which is why the blocks are interleaved.

Amendment (session 70, before resuming the weight sweep; nothing above changed): ``--default-tune`` run again
measures the one probe still missing, ``local`` at 12,800 weights, with the settings above, on this machine with
nothing else computing (files may be edited), and is stopped at 01:12 UTC (the session's schedule; the probe at 7,200
weights took 7.6 minutes); unfinished, ``local``'s goal in weights stays not judged. Since this amendment
``--default-tune`` keeps ``--retime``'s stored blocks (``RETIMED``) and writes their summary with the probes it
has; that model's gradient was among the 21 that ``--retime`` timed, so no gradient is timed again for the
summary. Reading: as fixed in the ``--retime`` amendment.

Amendment (session 70, after resuming the weight sweep; nothing above changed): ``--default-tune`` ran 00:43-00:57
UTC at commit 7ae4d69 with nothing else computing (files were edited). ``local`` at 12,800 weights: 12.53 ms x 55.0
leapfrog steps = 689 ms per draw (probe 779 s, float32 frames, 0 divergences; a probe's R-hat 1.52 on
``rf_length``). Every probe of both sweeps is now stored. Over the four sizes ``local``'s cost per draw grows as
weights^1.27 on the probe's own timings (gradient ^0.90, steps ^0.37; steps 19, 31, 39 and 55) and ^1.26 with the
retimed medians (gradient ^0.89): it misses the goal in weights (at most ^1.2) by 0.06, on its steps per draw.

Usage: ``python benchmarks/bench_cost_growth.py [--report | --missing | --rerun PRIOR | --restore PRIOR |
--replace-frames N | --default-tune | --retime] [--only PRIOR]``
-> ``docs/cost_growth.json`` (``docs/cost_growth_tuned.json`` with ``--default-tune``; written after every probe, with
``"complete": false`` until the last one).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from bench_big_posterior import LAGS, probe, recording

from bayesrf.results import stack_versions

OUT = Path(__file__).resolve().parent.parent / "docs" / "cost_growth.json"
PRIORS = ("smooth", "local", "rank1")
FRAMES = (1_000, 3_000, 10_000, 30_000, 100_000)
FRAMES_SIDE = 10
SIDES = (10, 20, 30, 40)
SIDES_FRAMES = 5_000
TUNE, DRAWS = 100, 50
OUT_TUNED = OUT.with_name("cost_growth_tuned.json")
TUNED_DRAWS = 100
"""Draws per chain of ``--default-tune``'s probes (session 69), after ``bayesrf.nuts.DEFAULT_TUNE`` tuning steps."""
TUNED_ORDER = ("rank1", "smooth", "local")
RETIME_BLOCKS = 5
RETIMED = ("gradient_retimed", "retime_stack_versions")
"""The keys ``--retime`` adds to :data:`OUT_TUNED` besides its summary (``summary_retimed``)."""
"""Blocks of ``bench_big_posterior.GRADIENT_REPEATS`` calls per gradient of ``--retime`` (session 70)."""
FRAMES_FIT_FROM = 10_000
GOALS = {"frames": 1.0, "weights": 1.2}
COSTS = ("gradient_ms", "steps_per_draw", "draw_ms")
CASES = [("weights", side, SIDES_FRAMES) for side in SIDES] + [("frames", FRAMES_SIDE, n) for n in FRAMES]
"""The protocol's probes ``(axis, side, frames)`` in its order: the pixel sweep, then the frame sweep."""


def measure(rec, prior: str, tune: int = TUNE, draws: int = DRAWS) -> dict:
    """One prior at one size: ``bench_big_posterior.probe`` (gradient ms, steps per draw, the probe's wall time and
    diagnostics) with the size, the cost per draw (ms, one core), the package versions (since session 52) and the
    form the model takes its frames in (``bayesrf.model.frames_form``: a dtype, or bits; since session 68)."""
    import bayesrf
    from bayesrf.design import make_design
    from bayesrf.model import frames_form

    row = probe(rec, prior, tune=tune, draws=draws)
    return {"frames": int(rec.sizes["time"]), "weights": LAGS * int(rec["stim"][0].size), **row,
            "draw_ms": row["steps_per_draw"] * row["gradient_ms"], "stack_versions": stack_versions(),
            "frames_form": frames_form(make_design(rec, LAGS), bayesrf.load_prior(prior))}


def fitted(x: str, frames: int) -> bool:
    """Whether a size of ``frames`` frames enters the exponent on ``x`` ("frames": from ``FRAMES_FIT_FROM`` on;
    "weights": every size)."""
    return x != "frames" or frames >= FRAMES_FIT_FROM


def exponents(rows: list[dict], x: str) -> dict[str, float] | None:
    """Log-log slope of each cost on ``x`` over the rows :func:`fitted` keeps; None below two sizes."""
    used = [r for r in rows if fitted(x, r["frames"])]
    if len(used) < 2:
        return None
    return {cost: float(np.polyfit(np.log([r[x] for r in used]), np.log([r[cost] for r in used]), 1)[0])
            for cost in COSTS}


def summarise(sweeps: dict[str, dict[str, list[dict]]]) -> dict[str, dict]:
    """Per prior: the exponents in frames and in weights, and whether each meets its goal (None for a sweep with
    a size missing)."""
    sizes = {"frames": len(FRAMES), "weights": len(SIDES)}
    out = {}
    for prior, by in sweeps.items():
        slopes = {axis: slope for axis in GOALS if (slope := exponents(by[axis], axis)) is not None}
        out[prior] = {"exponents": slopes,
                      "meets": {axis: slopes[axis]["draw_ms"] <= GOALS[axis] if len(by[axis]) == sizes[axis] else None
                                for axis in slopes}}
    return out


def write(sweeps: dict[str, dict[str, list[dict]]], complete: bool, superseded: dict | None = None,
          out: Path = OUT, tune: int = TUNE, draws: int = DRAWS, retimes: dict | None = None) -> None:
    """Store the sweeps so far with the protocol and the summary (and, per prior, the sets of rows ``--rerun``
    replaced, oldest first) in ``out``, with the probes' ``tune`` and ``draws``; with ``retimes`` (``--retime``'s
    ``gradient_retimed`` blocks and ``retime_stack_versions``), those and the summary of :func:`retimed` too."""
    out.write_text(json.dumps({"protocol": __doc__.split("Usage")[0].strip(), "lags": LAGS, "tune": tune,
                               "draws": draws, "chains": 2, "cores": 2, "frames_fit_from": FRAMES_FIT_FROM,
                               "goals": GOALS, "python": sys.version.split()[0], "complete": complete,
                               "sweeps": sweeps, "summary": summarise(sweeps)}
                              | ({"superseded": superseded} if superseded else {})
                              | (retimes | {"summary_retimed": summarise(retimed(sweeps, retimes["gradient_retimed"]))}
                                 if retimes else {}), indent=1))


def stored(sweeps: dict[str, dict[str, list[dict]]], prior: str, axis: str, frames: int, weights: int) -> bool:
    """Whether ``sweeps`` holds ``prior``'s probe at this size of the ``axis`` sweep."""
    return any(r["frames"] == frames and r["weights"] == weights for r in sweeps[prior][axis])


def supersede(superseded: dict, prior: str, rows: dict[str, list[dict]]) -> dict:
    """``superseded`` with ``rows`` (a prior's sweeps that ``--rerun`` replaces) appended to the prior's list of
    replaced sets, in the order they were replaced (a set stored alone, as session 45 wrote it, becomes the first)."""
    earlier = superseded.get(prior, [])
    return superseded | {prior: [*(earlier if isinstance(earlier, list) else [earlier]), rows]}


def restore(sweeps: dict[str, dict[str, list[dict]]], superseded: dict, prior: str) -> tuple[dict, dict]:
    """``sweeps`` and ``superseded`` with ``prior``'s last replaced set back as its rows and its current rows
    appended to its replaced sets (session 48's amendment)."""
    *earlier, last = superseded[prior]
    return sweeps | {prior: last}, superseded | {prior: [*earlier, sweeps[prior]]}


def replace_frames(sweeps: dict[str, dict[str, list[dict]]], superseded: dict, frames: int, only: str | None = None
                   ) -> tuple[dict, dict]:
    """``sweeps`` without every prior's (or ``only``'s) frame-sweep row at ``frames``, and ``superseded`` with each
    removed row appended to its prior's replaced sets as a set of its own (``--replace-frames``, session 52)."""
    for prior in [p for p in PRIORS if only in (None, p)]:  # an unknown ``only``: none, and ``pending`` says so
        gone = [r for r in sweeps[prior]["frames"] if r["frames"] == frames]
        if gone:
            superseded = supersede(superseded, prior, {"frames": gone, "weights": []})
            sweeps = sweeps | {prior: sweeps[prior] | {"frames": [r for r in sweeps[prior]["frames"]
                                                                    if r["frames"] != frames]}}
    return sweeps, superseded


def pending(sweeps: dict[str, dict[str, list[dict]]], cases: list[tuple[str, int, int]], only: str | None = None
            ) -> list[tuple[str, int, int, str]]:
    """The probes ``(axis, side, frames, prior)`` of ``cases`` (the protocol's order) that ``sweeps`` lacks, every
    prior's or, with ``only`` (``--only PRIOR``, session 51), that prior's."""
    if only is not None and only not in PRIORS:
        raise SystemExit(f"--only takes one of {PRIORS}; got {only!r}")
    return [(axis, side, frames, prior) for axis, side, frames in cases for prior in PRIORS
            if (only is None or prior == only) and not stored(sweeps, prior, axis, frames, LAGS * side * side)]


def probe_into(sweeps: dict[str, dict[str, list[dict]]], axis: str, side: int, frames: int, prior: str,
               tune: int = TUNE, draws: int = DRAWS) -> None:
    """Measure ``prior``'s probe at ``side`` x ``side`` px and ``frames`` frames (:func:`measure`), put its row into
    ``sweeps[prior][axis]`` in order of size, and print it."""
    row = measure(recording(side, frames), prior, tune=tune, draws=draws)
    sweeps[prior][axis] = sorted([*sweeps[prior][axis], row], key=lambda r: (r["weights"], r["frames"]))
    print(f"{axis:>7s} {prior:>6s} {frames:>7,d} frames {row['weights']:>6,d} weights: gradient "
          f"{row['gradient_ms']:.2f} ms x {row['steps_per_draw']:.1f} steps = {row['draw_ms']:.0f} ms "
          f"per draw (probe {row['probe_wall_s']:.0f} s)", flush=True)


def tuned_pending(sweeps: dict[str, dict[str, list[dict]]]) -> list[tuple[str, int, int, str]]:
    """The probes ``(axis, side, frames, prior)`` that ``--default-tune``'s ``sweeps`` lack, in its order: the frame
    sweep, then the weight sweep (session 70), each prior in :data:`TUNED_ORDER` from the smallest size up."""
    return sorted(pending(sweeps, CASES), key=lambda case: (case[0] != "frames", TUNED_ORDER.index(case[3])))


def default_tune() -> None:
    """The amendments of sessions 69 and 70: the frame sweep and then the weight sweep with probes of the default
    warm-up, each prior in :data:`TUNED_ORDER` from the smallest size up, into :data:`OUT_TUNED` (its stored probes
    are kept, so that a stopped run resumes)."""
    from threadpoolctl import threadpool_limits

    from bayesrf.nuts import DEFAULT_TUNE

    tune = DEFAULT_TUNE["nutpie"]
    study = json.loads(OUT_TUNED.read_text()) if OUT_TUNED.exists() else {}
    sweeps = study.get("sweeps", {prior: {"frames": [], "weights": []} for prior in TUNED_ORDER})
    retimes = {key: study[key] for key in RETIMED if key in study}  # kept, their summary with the new probes
    with threadpool_limits(1):
        for axis, side, frames, prior in tuned_pending(sweeps):
            probe_into(sweeps, axis, side, frames, prior, tune=tune, draws=TUNED_DRAWS)
            write(sweeps, complete=not pending(sweeps, CASES), out=OUT_TUNED, tune=tune, draws=TUNED_DRAWS,
                  retimes=retimes)
    print(json.dumps(summarise(sweeps), indent=1))
    print(f"wrote {OUT_TUNED}")


def retimed(sweeps: dict[str, dict[str, list[dict]]], blocks: dict[str, dict[str, list[dict]]]
            ) -> dict[str, dict[str, list[dict]]]:
    """``sweeps`` with each probe's gradient replaced by the median of its retimed ``blocks`` (``--retime``,
    session 70: per prior and axis, rows of ``frames``, ``weights`` and ``gradient_ms_blocks``) and its cost per draw
    recomputed; a probe without retimed blocks (below ``FRAMES_FIT_FROM`` frames, outside the exponent) as it was."""
    out = {}
    for prior, by in sweeps.items():
        out[prior] = {}
        for axis, rows in by.items():
            timed = {(b["frames"], b["weights"]): float(np.median(b["gradient_ms_blocks"]))
                     for b in blocks.get(prior, {}).get(axis, [])}
            out[prior][axis] = [r if (ms := timed.get((r["frames"], r["weights"]))) is None else
                                r | {"gradient_ms": ms, "draw_ms": r["steps_per_draw"] * ms} for r in rows]
    return out


def retime() -> None:
    """Session 70's amendment: every gradient that ``--default-tune``'s exponents use timed again, in
    :data:`RETIME_BLOCKS` blocks of ``GRADIENT_REPEATS`` calls, the blocks interleaved over the models; stored in
    :data:`OUT_TUNED` under ``gradient_retimed`` with the exponents of the probes' steps times the median gradients
    (``summary_retimed``)."""
    from bench_big_posterior import call_ms, gradient_call
    from threadpoolctl import threadpool_limits

    study = json.loads(OUT_TUNED.read_text())
    cases = [(axis, side, n) for axis, side, n in CASES if fitted(axis, n)]
    with threadpool_limits(1):
        calls = {(prior, axis, side, n): gradient_call(recording(side, n), prior)
                 for axis, side, n in cases for prior in TUNED_ORDER}
        times: dict[tuple, list[float]] = {key: [] for key in calls}
        for block in range(RETIME_BLOCKS):
            for key, call in calls.items():
                times[key].append(call_ms(call))
            print(f"block {block + 1} of {RETIME_BLOCKS} timed", flush=True)
    blocks = {prior: {axis: [{"frames": n, "weights": LAGS * side * side, "gradient_ms_blocks": ms}
                             for (p, a, side, n), ms in times.items() if (p, a) == (prior, axis)] for axis in GOALS}
              for prior in TUNED_ORDER}
    write(study["sweeps"], complete=study["complete"], out=OUT_TUNED, tune=study["tune"], draws=study["draws"],
          retimes={"gradient_retimed": blocks, "retime_stack_versions": stack_versions()})
    study = json.loads(OUT_TUNED.read_text())
    print(json.dumps(study["summary_retimed"], indent=1))
    print(f"wrote {OUT_TUNED}")


def main() -> None:
    from threadpoolctl import threadpool_limits

    if "--retime" in sys.argv:
        retime()
        return
    if "--default-tune" in sys.argv:
        default_tune()
        return

    if "--report" in sys.argv:
        stored_json = json.loads(OUT.read_text())
        OUT.write_text(json.dumps(stored_json | {"summary": summarise(stored_json["sweeps"])}, indent=1))
        print(json.dumps(stored_json["summary"] | summarise(stored_json["sweeps"]), indent=1))
        return
    if "--restore" in sys.argv:
        stored_json = json.loads(OUT.read_text())
        sweeps, superseded = restore(stored_json["sweeps"], stored_json["superseded"],
                                     sys.argv[sys.argv.index("--restore") + 1])
        write(sweeps, complete=stored_json["complete"], superseded=superseded)
        print(json.dumps(summarise(sweeps), indent=1))
        return
    replaced = int(sys.argv[sys.argv.index("--replace-frames") + 1]) if "--replace-frames" in sys.argv else None
    missing = "--missing" in sys.argv or replaced is not None
    rerun = sys.argv[sys.argv.index("--rerun") + 1] if "--rerun" in sys.argv else None
    stored_json = json.loads(OUT.read_text()) if missing or rerun else {}
    sweeps: dict[str, dict[str, list[dict]]] = (stored_json["sweeps"] if stored_json else
                                                {prior: {"frames": [], "weights": []} for prior in PRIORS})
    superseded = stored_json.get("superseded", {})
    if rerun:  # the amendments of sessions 45 and 47: the prior's rows measured again, every earlier set kept
        superseded = supersede(superseded, rerun, sweeps[rerun])
        sweeps[rerun] = {"frames": [], "weights": []}
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    if replaced is not None:  # session 52: the rows at these frames measured again, the replaced ones kept
        sweeps, superseded = replace_frames(sweeps, superseded, replaced, only)
    todo = pending(sweeps, CASES, only)
    if missing:  # the cheapest first (the amendment of session 38)
        todo.sort(key=lambda case: max([0.0] + [r["probe_wall_s"] for r in sweeps[case[3]][case[0]]]))
    with threadpool_limits(1):
        for axis, side, frames, prior in todo:
            probe_into(sweeps, axis, side, frames, prior)
            write(sweeps, complete=not pending(sweeps, CASES), superseded=superseded)
    for prior, result in summarise(sweeps).items():
        print(prior, {axis: f"{s['draw_ms']:.2f} (gradient {s['gradient_ms']:.2f}, steps {s['steps_per_draw']:.2f})"
                      for axis, s in result["exponents"].items()}, "meets", result["meets"])
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
