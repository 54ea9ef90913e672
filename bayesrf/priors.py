"""Prior specifications: small declarative TOML files in ``models/``.

A spec file looks like::

    schema_version = 1
    description = "..."
    [prior]                  # the RF weights
    family = "normal"        # "flat" | "normal" | "laplace" | "horseshoe" | "gp"
    scale = 0.02             # sigma (normal) or b (laplace), log-rate per unit contrast
    hierarchical = false     # true: one scale per lag, learned (scale not used)
    hyper_family = "halfnormal"    # "halfcauchy" for a horseshoe (its only choice, the default there)
    hyper_scale = 0.05       # scale of the hyperprior on the per-lag scales; horseshoe: of the global scale
    slab_scale = 0.5         # horseshoe only: scale of its slab, about the largest plausible |weight|
    [intercept]
    family = "normal"        # "flat" | "normal"
    mu = "auto"              # number, or "auto" = log of the data's mean rate (spikes/s); softplus: log(e - 1)
    sigma = 10.0
    [structure]              # only for family = "gp" (structured priors, see below)
    smooth = true            # Gaussian-process prior over (lag, y, x), kernel K_lag (x) K_y (x) K_x;
                             # or a list of the smoothed axes, e.g. ["lag"] (identity kernel on the others)
    length_median = 1.5      # LogNormal hyperprior of each kernel length scale: median (frames / pixels)
    length_log_sd = 0.75     # ... and SD of its log
    local = false            # spatial envelope on the prior SD (centre and widths learned)
    width_median = 3.0       # LogNormal median of the envelope widths (pixels), log-SD 0.75
    envelope_nu = inf        # envelope shape: SD ~ (1 + r^2 / nu)^(-nu / 2); inf = Gaussian exp(-r^2 / 2)
    envelope_floor = false   # true: SD ~ floor + (1 - floor) * envelope, floor ~ Beta(1, 9) learned
    rank = 0                 # 0: full RF; k >= 1: sum of k separable time course x spatial map terms
    [baseline]               # optional; default kind = "constant"
    kind = "spline"          # "constant" | "spline": slow drift of the log-rate over the session |
                             # "steps": a piecewise-constant log-rate that can change abruptly
    n_basis = 8              # cubic B-splines over the session (>= 4) | equal segments of the session (>= 2)
    scale = 0.3              # spline: SD of each random-walk step between spline coefficients (log-rate);
                             # steps: scale of the Student-t (BASELINE_STEP_NU degrees of freedom) jump of the
                             # log-rate at each segment's start: most jumps small, a few large ones cheap
    [likelihood]             # optional; default family = "poisson" (see bayesrf.observation)
    family = "negative-binomial"   # "poisson" | "negative-binomial" (overdispersed counts) | "com-poisson"
                             # (under- or overdispersed); not Laplace
    dispersion_scale = 1.0   # negative binomial: HalfNormal scale of phi (Var = mu + phi mu^2);
                             # COM-Poisson: log nu ~ Normal(0, dispersion_scale)
    nonlinearity = "exp"     # "exp" (rate = exp(eta)) | "softplus" (rate = rate_unit * log(1 + exp(eta)));
                             # see bayesrf.nonlinearity; softplus is not Laplace
    rate_unit = "auto"       # softplus only: spikes/s, or "auto" = the data's mean rate
    [history]                # optional; default lags = 0 (no spike history)
    lags = 3                 # the log-rate adds sum_j history[j] * c_{t-j}, the counts of the 3 intervals before
    scale = 0.3              # history[j] ~ Normal(0, scale) (log-rate per spike); not Laplace; default 0.3
                             # (HISTORY_SCALE), with n_basis 1.0 (HISTORY_BASIS_SCALE)
    n_basis = 0              # 0: one weight per lag; 2 .. lags: history = raised-cosine basis (lags, n_basis) @
                             # history_coef, history_coef[i] ~ Normal(0, scale) (bayesrf.design.raised_cosine_basis)

Relation to the penalised fits of :func:`bayesrf.fit_ml` (``n_obs`` = intervals
used): ``normal(scale=sigma)`` has MAP = ridge with ``alpha = 1/(n_obs sigma^2)``;
``laplace(scale=b)`` has MAP = lasso with ``alpha = 1/(n_obs b)``; ``flat`` has
MAP = plain ML. See :func:`alpha_for`.

``family = "horseshoe"`` is a regularised horseshoe for sparse RFs (always hierarchical; see
:class:`bayesrf.families.Horseshoe`). ``family = "gp"`` is a structured prior (always hierarchical: its amplitude
``hyper_scale``, length scales, envelope and components are learned); see
:mod:`bayesrf.structured` for the exact model.

Files are data: they are parsed with :mod:`tomllib`, nothing is evaluated, and
every problem is reported in one :class:`~bayesrf.SpecError`.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass
from difflib import get_close_matches
from importlib import resources
from pathlib import Path
from typing import Any

from .design import raised_cosine_limit
from .errors import SpecError
from .families import FAMILIES, family_of, positive_number
from .nonlinearity import NONLINEARITIES
from .observation import LIKELIHOODS
from .structured import smooth_axes

__all__ = ["BASELINE_KINDS", "BASELINE_MIN_BASIS", "BASELINE_STEP_NU", "DEFAULT_PRIOR", "HISTORY_BASIS_SCALE",
           "HISTORY_SCALE", "MODELS_DIR", "SUPPORT_SHORTFALL", "alpha_for", "load_prior", "parse_overrides", "prior_names", "PriorSpec"]

MODELS_DIR = Path(resources.files("bayesrf.models"))
"""The shipped prior specs: the repository's ``models/``, installed as package data ``bayesrf.models``."""
DEFAULT_PRIOR = "local"
"""The prior of ``bayesrf fit``, :func:`bayesrf.sample` and ``make demo``: the one the prior study on the real
neuron ranks first by held-out log predictive density (``docs/sensitivity.json``, written by
``benchmarks/bench_sensitivity.py``; a test checks that they agree)."""
SUPPORT_SHORTFALL: dict[str, tuple[str, ...]] = {
    "ridge-hier": ("separable", "off-centre", "inseparable", "sparse", "subunits", "two-subfields"),
    "smooth": ("separable", "off-centre", "inseparable", "sparse", "subunits", "two-subfields", "Gabor (n/D 1)",
               "centre-surround (n/D 1)"),
    "rank1": ("off-centre", "inseparable", "sparse", "subunits", "separable (n/D 1)", "separable (n/D 8)",
              "two-subfields (n/D 8)", "separable (n/D 16)"),
    "local": ("inseparable", "sparse", "two-subfields", "off-centre (n/D 1)", "subunits (n/D 1)", "separable (n/D 8)",
              "subunits (n/D 8)", "separable (n/D 16)", "off-centre (n/D 16)", "centre-surround (n/D 1)"),
    "horseshoe": ("separable", "off-centre", "inseparable", "sparse", "subunits", "two-subfields"),
    "lasso-hier": ("sparse",),  # fitted to the sparse truth only
}
"""Shipped priors whose central intervals on the RF's own weights (its support) fell more than 5 points short of
their level, at some level from 10 to 95 %, on simulated truths: those of ``benchmarks/bench_truth_families.py``
with binary frames (``docs/truth_families.json``, the README's "Truths no prior assumes", at n/D 4; then, marked
``(n/D N)``, the truths that fell short only at another n/D, ``docs/truth_families_nd<N>.json``), then the peers' Gabor
and centre-surround RFs at one frame per weight, refitted with :func:`bayesrf.sample`'s defaults by
``benchmarks/bench_support_trace.py`` (``docs/support_trace.json``); a test checks that they agree. The prior and
those truths; :func:`bayesrf.summary` reports it as a caution."""
SCHEMA_VERSION = 1
INTERCEPT_FAMILIES = ("flat", "normal")
_KNOWN = {
    "": {"schema_version", "description", "prior", "intercept", "baseline", "structure", "likelihood", "history"},
    "prior": {"family", "scale", "hierarchical", "hyper_family", "hyper_scale", "slab_scale"},
    "intercept": {"family", "mu", "sigma"},
    "baseline": {"kind", "n_basis", "scale"},
    "likelihood": {"family", "dispersion_scale", "nonlinearity", "rate_unit"},
    "history": {"lags", "scale", "n_basis"},
    "structure": {"smooth", "length_median", "length_log_sd", "local", "width_median", "envelope_nu", "envelope_floor", "rank"},
}
BASELINE_KINDS = ("constant", "spline", "steps")
BASELINE_MIN_BASIS = {"spline": 4, "steps": 2}
"""Fewest ``[baseline] n_basis`` of each kind: cubic B-splines, segments."""
BASELINE_STEP_NU = 3.0
"""Degrees of freedom of the Student-t jumps of a ``steps`` baseline: heavy tails, so that one abrupt change of
the rate (the bundled neuron collapses near the end of its session) costs little while the other jumps shrink
towards 0."""
HISTORY_SCALE = 0.3
"""Default prior SD of each spike-history weight (log-rate per spike): a spike changes a following interval's
rate by a factor within exp(+-0.6) at 95 % prior probability. It was 0.1 until the coverage benchmark's tuning
seeds (0-19) showed 85 % coverage of a -0.4 filter at the 95 % level (prior shrinkage); it is reported on
seeds never used for that choice (``benchmarks/bench_observation_coverage.py``)."""
HISTORY_BASIS_SCALE = 1.0
"""Default prior SD of each raised-cosine coefficient of a ``[history] n_basis`` filter (log-rate per spike at the
cosine's peak). A filter on a fine time grid often starts with a strong refractory period (log-rate -1 or less),
which :data:`HISTORY_SCALE` shrinks. Chosen between 0.3 and 1 on the coverage benchmark's tuning seeds 0-59
(``docs/observation_coverage_rc_tuning.json``) and reported on seeds 600-639, never used for the choice
(``benchmarks/bench_observation_coverage.py``)."""


@dataclass(frozen=True)
class PriorSpec:
    """A validated prior specification (immutable; see the module docstring)."""

    name: str
    family: str
    scale: float | None = None
    hierarchical: bool = False
    hyper_family: str = "halfnormal"
    hyper_scale: float | None = None
    slab_scale: float | None = None
    intercept_family: str = "normal"
    intercept_mu: float | str = "auto"
    intercept_sigma: float | None = 10.0
    baseline_kind: str = "constant"
    baseline_n_basis: int = 8
    baseline_scale: float = 0.3
    smooth: tuple[str, ...] = ()
    length_median: float = 1.5
    length_log_sd: float = 0.75
    local: bool = False
    width_median: float = 3.0
    envelope_nu: float = float("inf")
    envelope_floor: bool = False
    rank: int = 0
    likelihood: str = "poisson"
    dispersion_scale: float = 1.0
    nonlinearity: str = "exp"
    rate_unit: float | str = "auto"
    history_lags: int = 0
    history_scale: float | None = None
    history_basis: int = 0
    description: str = ""

    @property
    def history_sd(self) -> float:
        """Prior SD of each spike-history weight, or of each raised-cosine coefficient with ``history_basis``:
        ``history_scale`` when the spec sets it, else :data:`HISTORY_SCALE` or :data:`HISTORY_BASIS_SCALE`."""
        if self.history_scale is not None:
            return self.history_scale
        return HISTORY_BASIS_SCALE if self.history_basis else HISTORY_SCALE

    @property
    def penalized_glm(self) -> bool:
        """Whether the MAP is a penalised Poisson GLM of the frames (Poisson, exp link, no spike history, no
        Student-t ``steps`` baseline): the fits of :mod:`bayesrf.penalized` and the Laplace approximation apply."""
        return (self.likelihood == "poisson" and self.nonlinearity == "exp" and not self.history_lags
                and self.baseline_kind != "steps")

    def to_json(self) -> str:
        """Canonical JSON text (stored in results to rebuild and check the model)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PriorSpec:
        """Inverse of :meth:`to_json`."""
        fields = json.loads(text)
        fields["smooth"] = smooth_axes(fields.get("smooth", ()))
        return cls(**fields)


def alpha_for(spec: PriorSpec, n_obs: int) -> float:
    """The ``fit_ml`` penalty strength whose optimum is this prior's MAP.

    ``1 / (n_obs sigma^2)`` for a Normal, ``1 / (n_obs b)`` for a Laplace prior,
    0 for flat. Hierarchical priors have no fixed alpha.
    """
    if spec.hierarchical:
        raise SpecError(f"prior {spec.name!r} learns its scale: it has no fixed penalty alpha.")
    return float(family_of(spec).alpha(spec.scale or 1.0, n_obs))


def prior_names() -> list[str]:
    """Names of the specs shipped in ``models/``."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.toml"))


def _resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise SpecError(f"no prior spec file at {path}.")
        return path
    candidate = MODELS_DIR / f"{name_or_path}.toml"
    if candidate.is_file():
        return candidate
    names = prior_names()
    close = get_close_matches(str(name_or_path), names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise SpecError(f"unknown prior {str(name_or_path)!r}; shipped priors are {', '.join(names)}.{hint}")


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """Turn ``["prior.scale=0.3", "intercept.mu=auto"]`` into a nested dict.

    Values are parsed as TOML values (numbers, booleans, quoted strings);
    anything else is taken as a plain string. Nothing is evaluated.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"override {item!r} must look like section.field=value (e.g. prior.scale=0.3).")
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        node = out
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = _merge(base.get(key, {}), value) if isinstance(value, dict) else value
    return merged


def _problems(raw: dict[str, Any]) -> list[str]:
    problems = []
    for section, known in _KNOWN.items():
        table = raw if not section else raw.get(section, {})
        if not isinstance(table, dict):
            problems.append(f"[{section}] must be a table")
            continue
        for key in set(table) - known - set(_KNOWN if not section else ()):
            close = get_close_matches(key, known, n=1)
            problems.append(f"unknown field {section + '.' if section else ''}{key}"
                            + (f" (did you mean {close[0]!r}?)" if close else ""))
    if raw.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"schema_version must be {SCHEMA_VERSION}, got {raw.get('schema_version')!r}")
    prior, intercept = raw.get("prior"), raw.get("intercept", {})
    if not isinstance(prior, dict):
        return problems + ["missing [prior] table"]
    family = prior.get("family")
    if family not in FAMILIES:
        close = get_close_matches(str(family), FAMILIES, n=1)
        problems.append(f"prior.family must be one of {tuple(FAMILIES)}, got {family!r}"
                        + (f" (did you mean {close[0]!r}?)" if close else ""))
    else:
        structure = raw.get("structure", {})
        problems += family_of(family).problems(prior, structure if isinstance(structure, dict) else {})
    hier = prior.get("hierarchical", family in FAMILIES and family_of(family).default_hierarchical)
    if not isinstance(hier, bool):
        problems.append(f"prior.hierarchical must be true or false, got {hier!r}")
    elif hier:
        if "scale" in prior:
            problems.append("prior.scale is not used when prior.hierarchical = true (the scales are learned; "
                            "set prior.hyper_scale instead)")
        if not positive_number(prior.get("hyper_scale")):
            problems.append(f"prior.hyper_scale must be a number > 0, got {prior.get('hyper_scale')!r}")
    if isinstance(intercept, dict):
        i_family = intercept.get("family", "normal")
        if i_family not in INTERCEPT_FAMILIES:
            problems.append(f"intercept.family must be one of {INTERCEPT_FAMILIES}, got {i_family!r}")
        if i_family == "normal":
            if not positive_number(intercept.get("sigma", 10.0)):
                problems.append(f"intercept.sigma must be a number > 0, got {intercept.get('sigma')!r}")
            mu = intercept.get("mu", "auto")
            if mu != "auto" and not (isinstance(mu, (int, float)) and not isinstance(mu, bool)):
                problems.append(f"intercept.mu must be a number or \"auto\", got {mu!r}")
    baseline = raw.get("baseline", {})
    if isinstance(baseline, dict):
        kind = baseline.get("kind", "constant")
        if kind not in BASELINE_KINDS:
            problems.append(f"baseline.kind must be one of {BASELINE_KINDS}, got {kind!r}")
        n_basis, fewest = baseline.get("n_basis", 8), BASELINE_MIN_BASIS.get(kind, 4)
        if not isinstance(n_basis, int) or isinstance(n_basis, bool) or n_basis < fewest:
            problems.append(f"baseline.n_basis must be an integer >= {fewest}"
                            + (f" for kind = {kind!r}" if kind in BASELINE_MIN_BASIS else "") + f", got {n_basis!r}")
        if not positive_number(baseline.get("scale", 0.3)):
            problems.append(f"baseline.scale must be a number > 0, got {baseline.get('scale')!r}")
    likelihood = raw.get("likelihood", {})
    if isinstance(likelihood, dict):
        if likelihood.get("family", "poisson") not in LIKELIHOODS:
            close = get_close_matches(str(likelihood.get("family")), LIKELIHOODS, n=1)
            problems.append(f"likelihood.family must be one of {LIKELIHOODS}, got {likelihood.get('family')!r}"
                            + (f" (did you mean {close[0]!r}?)" if close else ""))
        if not positive_number(likelihood.get("dispersion_scale", 1.0)):
            problems.append(f"likelihood.dispersion_scale must be a number > 0, got {likelihood.get('dispersion_scale')!r}")
        nonlinearity = likelihood.get("nonlinearity", "exp")
        if nonlinearity not in NONLINEARITIES:
            problems.append(f"likelihood.nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
        unit = likelihood.get("rate_unit", "auto")
        if unit != "auto" and not positive_number(unit):
            problems.append(f"likelihood.rate_unit must be a number of spikes/s > 0 or \"auto\", got {unit!r}")
        elif unit != "auto" and nonlinearity == "exp":
            problems.append("likelihood.rate_unit is used by nonlinearity = \"softplus\" only (the exp link's "
                            "rate is exp(eta))")
    history = raw.get("history", {})
    if isinstance(history, dict):
        lags = history.get("lags", 0)
        if not isinstance(lags, int) or isinstance(lags, bool) or lags < 0:
            problems.append(f"history.lags must be an integer >= 0 (0: no spike history), got {lags!r}")
        if not positive_number(history.get("scale", HISTORY_SCALE)):
            problems.append(f"history.scale must be a number > 0, got {history.get('scale')!r}")
        n_basis = history.get("n_basis", 0)
        if not isinstance(n_basis, int) or isinstance(n_basis, bool) or n_basis == 1 or n_basis < 0:
            problems.append(f"history.n_basis must be 0 (one weight per lag) or an integer >= 2 (raised cosines), "
                            f"got {n_basis!r}")
        elif n_basis and isinstance(lags, int) and n_basis > (most := raised_cosine_limit(lags)):
            problems.append(f"history.n_basis = {n_basis} exceeds {most}, the most raised cosines that stay linearly "
                            f"independent over history.lags = {lags}: use fewer, or more lags")
    return problems


def load_prior(name_or_path: str | Path | PriorSpec = "ridge", overrides: dict[str, Any] | list[str] | None = None) -> PriorSpec:
    """Load and validate a prior spec by name (``models/<name>.toml``) or path.

    Parameters
    ----------
    name_or_path : str, Path or PriorSpec
        ``"ridge"``, ``"lasso"``, ``"flat"``, ``"ridge-hier"``, ``"lasso-hier"``, a
        path to a TOML file, or an already loaded spec (returned with overrides applied).
    overrides : dict or list of "section.field=value", optional
        E.g. ``{"prior": {"scale": 0.3}}`` or ``["prior.scale=0.3"]``.

    Returns
    -------
    PriorSpec

    Raises
    ------
    SpecError
        Listing every problem of the file and overrides at once.

    Examples
    --------
    >>> spec = load_prior("ridge", ["prior.scale=0.3"])
    >>> spec.family, spec.scale
    ('normal', 0.3)
    """
    if isinstance(overrides, list):
        overrides = parse_overrides(overrides)
    if isinstance(name_or_path, PriorSpec):
        base = name_or_path
        raw = {
            "schema_version": SCHEMA_VERSION, "description": base.description,
            "prior": {"family": base.family, "hierarchical": base.hierarchical, "hyper_family": base.hyper_family}
            | ({"scale": base.scale} if base.scale is not None else {})
            | ({"hyper_scale": base.hyper_scale} if base.hyper_scale is not None else {})
            | ({"slab_scale": base.slab_scale} if base.slab_scale is not None else {}),
            "intercept": {"family": base.intercept_family, "mu": base.intercept_mu}
            | ({"sigma": base.intercept_sigma} if base.intercept_sigma is not None else {}),
            "baseline": {"kind": base.baseline_kind, "n_basis": base.baseline_n_basis, "scale": base.baseline_scale},
            "likelihood": {"family": base.likelihood, "dispersion_scale": base.dispersion_scale,
                           "nonlinearity": base.nonlinearity, "rate_unit": base.rate_unit},
            "history": {"lags": base.history_lags, "n_basis": base.history_basis}
            | ({"scale": base.history_scale} if base.history_scale is not None else {}),
        } | ({"structure": {key: getattr(base, key) for key in structure} | {"smooth": list(base.smooth)}}
             if (structure := family_of(base).structure_defaults) else {})
        name = base.name
    else:
        path = _resolve(name_or_path)
        try:
            raw = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SpecError(f"prior spec {path} is not valid TOML: {exc}") from exc
        name = path.stem
    raw = _merge(raw, overrides or {})
    problems = _problems(raw)
    if problems:
        raise SpecError(f"invalid prior spec {name!r}: " + "; ".join(problems) + ".")
    prior, intercept, baseline = raw["prior"], raw.get("intercept", {}), raw.get("baseline", {})
    likelihood, history = raw.get("likelihood", {}), raw.get("history", {})
    family = family_of(prior["family"])
    hier = prior.get("hierarchical", family.default_hierarchical)
    structure = family.structure_defaults | raw.get("structure", {}) if family.structure_defaults else {}
    return PriorSpec(
        name=name,
        family=prior["family"],
        scale=None if hier or "scale" not in prior else float(prior["scale"]),
        hierarchical=hier,
        hyper_family=prior.get("hyper_family", family.hyper_family),
        hyper_scale=float(prior["hyper_scale"]) if hier else None,
        slab_scale=float(prior["slab_scale"]) if "slab_scale" in prior else None,
        intercept_family=intercept.get("family", "normal"),
        intercept_mu=intercept.get("mu", "auto"),
        intercept_sigma=float(intercept.get("sigma", 10.0)) if intercept.get("family", "normal") == "normal" else None,
        baseline_kind=baseline.get("kind", "constant"),
        baseline_n_basis=int(baseline.get("n_basis", 8)),
        baseline_scale=float(baseline.get("scale", 0.3)),
        likelihood=likelihood.get("family", "poisson"),
        dispersion_scale=float(likelihood.get("dispersion_scale", 1.0)),
        nonlinearity=likelihood.get("nonlinearity", "exp"),
        rate_unit=unit if (unit := likelihood.get("rate_unit", "auto")) == "auto" else float(unit),
        history_lags=int(history.get("lags", 0)),
        history_scale=float(history["scale"]) if "scale" in history else None,
        history_basis=int(history.get("n_basis", 0)),
        **{key: type(default)(structure[key]) for key, default in family.structure_defaults.items()
           if key in structure and key != "smooth"},
        **({"smooth": smooth_axes(structure["smooth"])} if structure else {}),
        description=raw.get("description", ""),
    )
