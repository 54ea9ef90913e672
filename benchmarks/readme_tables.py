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


def main() -> None:
    print(sensitivity_table(json.loads((DOCS / "sensitivity.json").read_text())))


if __name__ == "__main__":
    main()
