"""What the drifting (spline) baseline is worth on the bundled neuron: held-out log-likelihood, 5 folds.

The shipped ``ridge`` prior (spline baseline, 8 knots) against the same prior with a constant baseline.
Each fold holds out every fifth block of 50 frame intervals (:func:`bayesrf.heldout.block_split` with
offsets 0-4, so every interval is held out once), fits the MAP on the rest and scores the held-out
intervals (:func:`bayesrf.heldout.heldout_log_likelihood`). Writes ``docs/baseline_gain.json``;
``tests/test_readme.py`` fails when the README's numbers differ from it.

Run: ``python benchmarks/bench_baseline.py`` (under a minute).
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import bayesrf
from bayesrf.heldout import block_split, heldout_log_likelihood

OUT = Path(__file__).resolve().parent.parent / "docs" / "baseline_gain.json"
FOLDS = 5


def main() -> dict:
    with warnings.catch_warnings(record=True) as caught:  # the bundled file's dropped frames and spikes
        warnings.simplefilter("always", bayesrf.BayesRFWarning)
        rec = bayesrf.load_recording()
    spline = bayesrf.load_prior("ridge")
    constant = dataclasses.replace(spline, baseline_kind="constant")
    folds = []
    for offset in range(FOLDS):
        test = block_split(rec.sizes["time"], every=FOLDS, offset=offset)
        scores = {name: heldout_log_likelihood(rec, spec, lags=5, test=test)["loglik"]
                  for name, spec in (("spline", spline), ("constant", constant))}
        folds.append(scores | {"gain": scores["spline"] - scores["constant"]})
        print(f"fold {offset}: spline {scores['spline']:.1f}, constant {scores['constant']:.1f} nats")
    result = {"prior": "ridge", "lags": 5, "folds": folds, "gain_total": sum(f["gain"] for f in folds),
              "spline_knots": spline.baseline_n_basis, "warnings": [str(w.message) for w in caught],
              "command": "python benchmarks/bench_baseline.py"}
    print(f"the spline baseline gains {result['gain_total']:.0f} nats of held-out log-likelihood over {FOLDS} folds")
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
