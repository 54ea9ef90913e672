"""The README's tables, generated from the JSON files that benchmark scripts write under ``docs/``.

``python benchmarks/readme_tables.py`` prints each table; paste it into the README.
``tests/test_readme.py`` fails when a README table differs from what this script makes of its JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _label(fit: dict) -> str:
    """``ridge, σ = 0.003`` / ``lasso, b = 0.01`` for fixed scales, the prior's name otherwise."""
    if fit["scale"] is None:
        return fit["prior"]
    symbol = "σ" if fit["family"] == "normal" else "b"
    return f"{fit['prior']}, {symbol} = {fit['scale']:g}"


def _pm(value: float, se: float, digits: int = 1) -> str:
    return f"{value:.{digits}f} ± {se:.{digits}f}".replace("-", "−")


def sensitivity_table(study: dict) -> str:
    """Markdown table of ``docs/sensitivity.json``, best held-out score first."""
    rows = ["| prior | held-out LPD (nats) ± SE | Δ to best | ELPD-LOO ± SE | ΔELPD ± dSE | Pareto k > 0.7 | max R-hat |",
            "|---|---|---|---|---|---|---|"]
    for fit in sorted(study["fits"], key=lambda f: -f["heldout_lpd"]):
        rows.append(f"| {_label(fit)} | {_pm(fit['heldout_lpd'], fit['heldout_lpd_se'])} | "
                    f"{fit['heldout_diff']:.1f} | {_pm(fit['elpd_loo'], fit['elpd_loo_se'])} | "
                    f"{_pm(fit['elpd_diff'], fit['elpd_diff_se'])} | {fit['n_bad_pareto_k']} | "
                    f"{fit['max_rhat']:.3f} |".replace("| -", "| −"))
    return "\n".join(rows)


def sensitivity_text(study: dict) -> str:
    """The README's sentences around the table, with every number taken from ``docs/sensitivity.json``."""
    fits = {fit["label"]: fit for fit in study["fits"]}
    best = fits[study["best"]]
    per_lag = max((f for f in study["fits"] if f["prior"] in ("ridge-hier", "lasso-hier")), key=lambda f: f["heldout_lpd"])
    fixed = max((f for f in study["fits"] if f["scale"] is not None), key=lambda f: f["heldout_lpd"])
    rhat = [f["max_rhat"] for f in study["fits"]]
    scales = per_lag["learned_scale"]
    return (
        f"On the bundled neuron ({len(fits)} fits of {study['settings']['chains']} chains x "
        f"{study['settings']['draws']} draws, {study['wall_time_s'] / 60:.0f} minutes on {study['cores']} cores; "
        f"`docs/sensitivity.json`, written by `benchmarks/bench_sensitivity.py`), the default prior is "
        f"`{study['best'].split('@')[0]}`: it has the best held-out score, "
        f"{best['heldout_lpd'] - per_lag['heldout_lpd']:.0f} nats above the best per-lag prior ({per_lag['label']}) and "
        f"{best['heldout_lpd'] - fixed['heldout_lpd']:.0f} above the best fixed scale ({_label(fixed)}). "
        f"{per_lag['label']} learns a scale of {scales[0]:.4f} at lag 0 and {min(scales[1:]):.4f}-{max(scales[1:]):.4f} "
        f"after it; glum's 5-fold CV picks one ridge scale of {study['cv']['cv_scale_ridge']:.4f} for all lags. "
        f"These study fits are short: max R-hat {min(rhat):.3f}-{max(rhat):.3f}, and each fit's warnings are stored "
        "with it."
    )


def main() -> None:
    study = json.loads((DOCS / "sensitivity.json").read_text())
    print(sensitivity_text(study), sensitivity_table(study), sep="\n\n")


if __name__ == "__main__":
    main()
