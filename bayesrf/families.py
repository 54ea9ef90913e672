"""Prior families of the RF weights, as components looked up by name.

A family declares everything about itself in one class:

* the ``[prior]`` / ``[structure]`` fields it reads and their validation (:meth:`Family.problems`);
* its PyMC variables (:meth:`Family.weights`);
* its penalty at a fixed scale, which is what makes MAP = penalised ML (:meth:`Family.penalty`,
  :meth:`Family.alpha`);
* the start of its hierarchical form (:meth:`Family.start`);
* its NUTS parametrisation (:attr:`Family.nuts_form`, :meth:`Family.to_nuts_start`,
  :meth:`Family.from_nuts`);
* for a type-II MAP, its weights' information and evidence term (:meth:`Family.mode_information`,
  :meth:`Family.evidence_term`; without them :func:`bayesrf.fit_map` gives the joint mode).

Families are registered by name (:func:`register`) and found with :func:`family_of`; no other module
tests a family's name. Adding a family means one class here, one TOML file in ``models/`` and, for new
variables, their dims in :data:`bayesrf.model.VAR_DIMS` (new ``[prior]`` fields also in :mod:`bayesrf.priors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from .errors import SpecError
from .structured import (AXES, STRUCTURED_HYPERPARAMETERS, Coordinates, align_components, baseline_whitening,
                         centred_start, centring, coefficient_information, data_block, diagonal_evidence,
                         evidence_term, mode_scale, model_axes, shear, structured_rf)

if TYPE_CHECKING:
    from .design import Design
    from .priors import PriorSpec

__all__ = ["FAMILIES", "Family", "GP_HYPERPARAMETERS", "NutsForm", "SLAB_DF", "SMALLER_START", "family_of",
           "positive_number", "register"]

GP_HYPERPARAMETERS = (*STRUCTURED_HYPERPARAMETERS, "rf_time")
"""What :func:`bayesrf.structured.centring` reads of a ``gp`` prior's pilot posterior."""
FAMILIES: dict[str, Family] = {}
"""The registered families of the RF weights, by name (``prior.family`` of a spec)."""


@dataclass(frozen=True)
class NutsForm:
    """How a family is sampled by NUTS.

    Attributes
    ----------
    laplace : {"direct", "exponential-difference", "scale-mixture"}
        How :func:`bayesrf.build_model` writes Laplace (and horseshoe) priors for the sampler.
    target_accept : float
        NUTS's target acceptance rate.
    pilot_draws : int
        Draws per chain (at most the run's) of a short pilot run of the ``direct`` model before the sampled one,
        whose posterior :meth:`Family.recentre` reads (0: none).
    pilot_chains : int
        The pilot's chains (at most the run's). Fixed, not the cores: with ``min(chains, cores)`` chains (until
        session 45) a population's units on single-threaded cluster workers ran a 1-chain pilot and drew other
        draws than ``sample`` on 2 cores with the same seed.
    pilot_agree : tuple of str
        The pilot's variables whose agreement among its chains a fit reports (:func:`bayesrf.nuts.pilot_disagreement`).
    """

    laplace: str = "direct"
    target_accept: float = 0.8
    pilot_draws: int = 0
    pilot_chains: int = 2
    pilot_agree: tuple[str, ...] = ()


def register(cls: type[Family]) -> type[Family]:
    """Class decorator: add an instance of ``cls`` to :data:`FAMILIES` under ``cls.name``."""
    FAMILIES[cls.name] = cls()
    return cls


def family_of(spec: PriorSpec | str) -> Family:
    """The family of a spec (or a family name)."""
    name = spec if isinstance(spec, str) else spec.family
    if name not in FAMILIES:
        raise SpecError(f"unknown prior family {name!r}; registered families are {', '.join(FAMILIES)}.")
    return FAMILIES[name]


def positive_number(value: Any) -> bool:
    """A spec value that is a number > 0 (booleans are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


class Family:
    """A prior on the RF weights ``rf`` (lag, y, x). Subclasses override what differs."""

    name: ClassVar[str]
    proper: ClassVar[bool] = True
    """False when the prior is improper (a flat prior: the posterior needs more intervals than weights)."""
    gaussian: ClassVar[bool] = False
    """True when the prior at fixed scales is Gaussian (the Laplace approximation's evidence is then exact in it)."""
    default_hierarchical: ClassVar[bool] = False
    hyper_family: ClassVar[str] = "halfnormal"
    """The family of the hyperprior ``prior.hyper_family`` names (the only one this family accepts)."""
    has_slab: ClassVar[bool] = False
    """True when the family reads ``prior.slab_scale``."""
    structure_defaults: ClassVar[dict[str, Any]] = {}
    """Fields of the ``[structure]`` table this family reads, with their defaults (none: no such table)."""
    nuts_form: ClassVar[NutsForm] = NutsForm()
    scale_is_data: ClassVar[bool] = False
    """True when a fixed ``prior.scale`` enters the model as data (``rf_prior_scale``), not as a constant: one
    compiled model then serves every scale (:func:`bayesrf.nuts.model_key` leaves the scale out)."""
    start_reads_ridge_rf: ClassVar[bool] = True
    """False when :meth:`start` ignores the ridge RF it is given: :func:`bayesrf.nuts.hierarchical_start` then
    skips that fit (at 40 x 40 px x 8 lags from 20,000 frames it took 16 s of a 50 s ``local`` MAP)."""

    def problems(self, prior: dict[str, Any], structure: dict[str, Any]) -> list[str]:
        """Problems of the ``[prior]`` and ``[structure]`` fields this family reads (empty: valid)."""
        problems = []
        if structure and not self.structure_defaults:
            users = " or ".join(f'"{name}"' for name, family in FAMILIES.items() if family.structure_defaults)
            problems.append(f"[structure] is only used by family = {users}, not {self.name!r}")
        if prior.get("hyper_family", self.hyper_family) != self.hyper_family:
            problems.append(f"prior.hyper_family of a {self.name} prior must be {self.hyper_family!r}, got "
                            f"{prior['hyper_family']!r}")
        if "slab_scale" in prior and not self.has_slab:
            users = " or ".join(f'"{name}"' for name, family in FAMILIES.items() if family.has_slab)
            problems.append(f"prior.slab_scale is only used by family = {users}, not {self.name!r}")
        return problems

    def weights(self, spec: PriorSpec, dims: tuple[str, ...], laplace: str, coordinates: Coordinates | None = None
                ) -> pt.TensorVariable:
        """Create the PyMC variables of the weights in the current model; returns ``rf``. ``coordinates``: from
        :meth:`recentre`, for families that have a pilot run."""
        raise NotImplementedError

    def penalty(self, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Negative log-prior per weight at prior scale(s) ``scale``: ``(quad, l1)`` coefficients of
        ``quad * w^2 / 2 + l1 * |w|`` (see :class:`bayesrf.ml.Penalty`)."""
        raise SpecError(f"a {self.name} prior has no fixed per-weight penalty.")

    def alpha(self, scale: np.ndarray | float, n_obs: int) -> np.ndarray | float:
        """The :func:`bayesrf.fit_ml` penalty strength whose optimum is the MAP at prior scale ``scale``."""
        raise SpecError(f"a {self.name} prior has no fixed penalty alpha.")

    def start(self, start: dict[str, np.ndarray], ridge_rf: np.ndarray, spec: PriorSpec, seed: int | None
              ) -> dict[str, np.ndarray]:
        """Start of the hierarchical form's optimiser or sampler, given a ridge RF at the hyperprior scale (zeros
        when :attr:`start_reads_ridge_rf` is False)."""
        raise SpecError(f"a {self.name} prior cannot be hierarchical.")

    def to_nuts_start(self, start: dict[str, np.ndarray], spec: PriorSpec) -> dict[str, np.ndarray]:
        """A start point of the ``direct`` model in :attr:`nuts_form`'s parametrisation."""
        return start

    def recentre(self, design: Design, spec: PriorSpec, pilot: xr.Dataset, start: dict[str, np.ndarray]
                 ) -> tuple[Coordinates, dict[str, np.ndarray]]:
        """After a pilot run (:attr:`NutsForm.pilot_draws`; ``pilot`` its posterior, as :meth:`from_nuts` returns
        it): the ``coordinates`` of :meth:`weights` and ``start`` in them."""
        raise SpecError(f"a {self.name} prior has no pilot run.")

    def from_nuts(self, posterior: xr.Dataset, spec: PriorSpec) -> xr.Dataset:
        """The sampler's posterior group (as nutpie or PyMC return it) with the variables a result holds."""
        return posterior

    def mode_information(self, design: Design, spec: PriorSpec, values: dict[str, np.ndarray]) -> np.ndarray | None:
        """The Fisher information of the standardised weights ``rf_z`` at ``values`` (the model's variables by name),
        for :func:`bayesrf.inference.map_values` to maximise the hyperparameters' Laplace-approximate evidence
        (:meth:`evidence_term`); None: the MAP is the joint mode over weights and scales."""
        return None

    def mode_scale(self, spec: PriorSpec, values: dict[str, np.ndarray], information: np.ndarray
                   ) -> dict[str, np.ndarray] | None:
        """The unit, per value variable, that :func:`bayesrf.nuts.map_pymc` measures it in (a guess of its posterior
        SD) given ``values`` and the information there (:meth:`mode_information`); None: every variable as it is."""
        return None

    def evidence_term(self, spec: PriorSpec, information: pt.TensorVariable, shape: tuple[int, int, int]
                      ) -> pt.TensorVariable:
        """The Laplace log-determinant term of the hyperparameters' evidence in the current model, with the Hessian
        in ``rf_z`` (of ``shape``) taken as diagonal (:func:`bayesrf.structured.diagonal_evidence`) and its
        information ``information`` (:meth:`mode_information`)."""
        raise SpecError(f"a {self.name} prior has no evidence term: its MAP is the joint mode.")

    def factors(self, spec: PriorSpec) -> tuple[pt.TensorVariable, pt.TensorVariable] | None:
        """``(time, space)`` of a low-rank RF in the current model, for :func:`bayesrf.model.linear_predictor`'s
        contraction (None: the RF is not factored)."""
        return None

    def coords(self, spec: PriorSpec) -> dict[str, Any]:
        """Model coordinates this family adds."""
        return {}

    def var_dims(self, spec: PriorSpec) -> dict[str, tuple[str, ...]]:
        """Dims of variables that differ from :data:`bayesrf.model.VAR_DIMS`."""
        return {}


@register
class Flat(Family):
    """Improper flat prior: MAP = plain maximum likelihood."""

    name = "flat"
    proper = False

    def problems(self, prior: dict[str, Any], structure: dict[str, Any]) -> list[str]:
        return (super().problems(prior, structure)
                + (["a flat prior cannot be hierarchical"] if prior.get("hierarchical") is True else [])
                + (["prior.scale is not used by a flat prior"] if "scale" in prior else []))

    def weights(self, spec: PriorSpec, dims: tuple[str, ...], laplace: str, coordinates: None = None
                ) -> pt.TensorVariable:
        return pm.Flat("rf", dims=dims)

    def penalty(self, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        zero = np.zeros(np.shape(scale))
        return zero, zero

    def alpha(self, scale: np.ndarray | float, n_obs: int) -> np.ndarray | float:
        return 0.0 * np.multiply(1.0, scale)


class _Scaled(Family):
    """Independent zero-centred weights with one scale, fixed (``scale``) or learned per lag
    (``hierarchical``: ``rf = rf_z * rf_scale[lag]``, ``rf_scale ~ HalfNormal(hyper_scale)``, non-centred)."""

    scale_is_data = True

    def problems(self, prior: dict[str, Any], structure: dict[str, Any]) -> list[str]:
        problems = super().problems(prior, structure)
        if prior.get("hierarchical", False) is False and not positive_number(prior.get("scale")):
            problems.append(f"prior.scale must be a number > 0 for a {self.name} prior, got {prior.get('scale')!r}")
        return problems

    def standard(self, name: str, dims: tuple[str, ...], laplace: str) -> pt.TensorVariable:
        """Variates of the family at scale 1 (a free variable ``name``, or a smooth transform of others)."""
        raise NotImplementedError

    def fixed(self, spec: PriorSpec, dims: tuple[str, ...], laplace: str) -> pt.TensorVariable:
        """``rf`` at the spec's fixed scale."""
        raise NotImplementedError

    @staticmethod
    def fixed_scale(spec: PriorSpec) -> pt.TensorVariable:
        """The spec's fixed scale as model data ``rf_prior_scale`` (a scalar), swapped like the counts when a
        compiled model is reused: a sweep over scales compiles once per family."""
        return pm.Data("rf_prior_scale", float(spec.scale))

    def weights(self, spec: PriorSpec, dims: tuple[str, ...], laplace: str, coordinates: None = None
                ) -> pt.TensorVariable:
        if not spec.hierarchical:
            return self.fixed(spec, dims, laplace)
        scale = pm.HalfNormal("rf_scale", sigma=spec.hyper_scale, dims="lag")
        return pm.Deterministic("rf", self.standard("rf_z", dims, laplace) * scale[:, None, None], dims=dims)

    def start(self, start: dict[str, np.ndarray], ridge_rf: np.ndarray, spec: PriorSpec, seed: int | None
              ) -> dict[str, np.ndarray]:
        tau = np.full(ridge_rf.shape[0], spec.hyper_scale)
        return start | {"rf_z": ridge_rf / tau[:, None, None], "rf_scale_log__": np.log(tau)}


@register
class Normal(_Scaled):
    """``rf ~ Normal(0, scale)``: MAP = ridge with ``alpha = 1 / (n_obs scale^2)``."""

    name = "normal"
    gaussian = True

    def standard(self, name: str, dims: tuple[str, ...], laplace: str) -> pt.TensorVariable:
        return pm.Normal(name, 0.0, 1.0, dims=dims)

    def fixed(self, spec: PriorSpec, dims: tuple[str, ...], laplace: str) -> pt.TensorVariable:
        return pm.Normal("rf", 0.0, self.fixed_scale(spec), dims=dims)

    def penalty(self, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scale = np.asarray(scale, dtype=float)
        return scale**-2.0, np.zeros(scale.shape)

    def mode_information(self, design: Design, spec: PriorSpec, values: dict[str, np.ndarray]) -> np.ndarray | None:
        """Hierarchical: each weight's Poisson exp-link information ``sum_t counts_t x_t^2`` (lag, y, x), ``x_t`` its
        stimulus value in interval ``t``; it is per unit of ``rf_z`` at ``rf_scale = 1`` and does not depend on
        ``values``. Fixed scale: None (the MAP is the penalised GLM)."""
        if not spec.hierarchical:
            return None
        return design.squared().drive_adjoint(design.counts).astype(float).reshape(design.n_lags, design.ny, design.nx)

    def evidence_term(self, spec: PriorSpec, information: pt.TensorVariable, shape: tuple[int, int, int]
                      ) -> pt.TensorVariable:
        """:func:`bayesrf.structured.diagonal_evidence` with each lag's prior SD ``rf_scale[lag]``: the type-II MAP
        of ``ridge-hier``'s scales instead of their joint mode with the weights (simulated Gabor, 20 x 20 px x 8 lags,
        20,000 frames, seed 0: error 0.063 -> 0.039; held-out seeds: ``docs/map_quality.json``). On the real neuron
        (5 lags) its scales are 0.0073 at lag 0 and 0.0010-0.0016 at lags 1-4, the joint mode's 0.17-0.18; the dense
        Laplace evidence without the hyperprior (``bayesrf.laplace.evidence_scales``) gives 0.0079 at lag 0 and
        prunes the others."""
        return diagonal_evidence(pt.log(pm.modelcontext(None)["rf_scale"])[:, None, None], information)

    def alpha(self, scale: np.ndarray | float, n_obs: int) -> np.ndarray | float:
        return 1.0 / (n_obs * np.square(scale))


SMALLER_START = 0.25
"""Start of the smaller of ``e+, e-`` of a Laplace prior's exponential-difference form. The log-density's
gradient in ``log e`` is ``1 - e (1 -+ b g)`` (``g`` the log-likelihood's gradient in ``w``; ``|b g| <= 1`` at a
lasso mode, ``= 1`` where ``w != 0``): at 0.5 it vanishes for the smaller one of every non-zero weight, and nutpie's
gradient-based initial mass matrix then fails ("bad initial gradient" where it is exactly 0: the real neuron,
lasso at 0.01 with a held-out mask, which fell back to PyMC's NUTS). At 0.25 every component lies in [0.5, 1]."""


@register
class Laplace(_Scaled):
    """``rf ~ Laplace(0, scale)``: MAP = lasso with ``alpha = 1 / (n_obs scale)``.

    NUTS samples it in the smooth exponential-difference form ``w = b (e+ - e-)``, ``e+, e- ~
    Exponential(1)`` (no kink at 0; real neuron, lasso: leapfrog steps per draw 249 -> 41), with target
    acceptance 0.9, which removes that form's rare divergences.
    """

    name = "laplace"
    nuts_form = NutsForm(laplace="exponential-difference", target_accept=0.9)

    def standard(self, name: str, dims: tuple[str, ...], laplace: str) -> pt.TensorVariable:
        if laplace == "exponential-difference":  # sampled as log e
            return pm.Exponential("rf_pos", 1.0, dims=dims) - pm.Exponential("rf_neg", 1.0, dims=dims)
        return pm.Laplace(name, 0.0, 1.0, dims=dims)

    def fixed(self, spec: PriorSpec, dims: tuple[str, ...], laplace: str) -> pt.TensorVariable:
        if laplace == "exponential-difference":
            return pm.Deterministic("rf", self.fixed_scale(spec) * self.standard("rf", dims, laplace), dims=dims)
        return pm.Laplace("rf", 0.0, self.fixed_scale(spec), dims=dims)

    def penalty(self, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scale = np.asarray(scale, dtype=float)
        return np.zeros(scale.shape), 1.0 / scale

    def alpha(self, scale: np.ndarray | float, n_obs: int) -> np.ndarray | float:
        return 1.0 / np.multiply(n_obs, scale)

    def to_nuts_start(self, start: dict[str, np.ndarray], spec: PriorSpec) -> dict[str, np.ndarray]:
        """``e+ - e- = w / b`` with the smaller one at :data:`SMALLER_START`."""
        out = dict(start)
        z = out.pop("rf_z") if spec.hierarchical else out.pop("rf") / spec.scale
        out["rf_pos_log__"] = np.log(np.maximum(z, 0.0) + SMALLER_START)
        out["rf_neg_log__"] = np.log(np.maximum(-z, 0.0) + SMALLER_START)
        return out

    def from_nuts(self, posterior: xr.Dataset, spec: PriorSpec) -> xr.Dataset:
        out = posterior.drop_vars(["rf_pos", "rf_neg"])
        return out.assign(rf_z=posterior["rf_pos"] - posterior["rf_neg"]) if spec.hierarchical else out


SLAB_DF = 4.0
"""Degrees of freedom of a horseshoe prior's slab: ``rf_slab ~ InverseGamma(SLAB_DF / 2, SLAB_DF slab_scale^2 / 2)``,
a Student-t slab with 4 degrees of freedom (Piironen & Vehtari 2017, section 2.3)."""


@register
class Horseshoe(Family):
    """Regularised horseshoe (Piironen & Vehtari 2017): a sparse RF, a few large weights among many near 0.

    ``rf = rf_z * rf_global * sqrt(rf_slab rf_local^2 / (rf_slab + rf_global^2 rf_local^2))`` (non-centred), with
    ``rf_z ~ Normal(0, 1)`` and ``rf_local ~ HalfCauchy(1)`` per weight, the global scale ``rf_global ~
    HalfCauchy(hyper_scale)`` and the slab variance ``rf_slab ~ InverseGamma(SLAB_DF / 2, SLAB_DF slab_scale^2 /
    2)``: a weight well below ``rf_global rf_local``'s reach is shrunk to 0, a large one is left alone up to about
    ``slab_scale`` (log-rate per unit contrast), where the slab's Student-t tail regularises it. No fixed per-weight
    penalty (no ``fit_ml`` alpha, no ``method="laplace"``). NUTS with target acceptance 0.95: the local scales make
    funnels.
    """

    name = "horseshoe"
    default_hierarchical = True
    hyper_family = "halfcauchy"
    has_slab = True
    nuts_form = NutsForm(laplace="scale-mixture", target_accept=0.95)
    MIXTURE = ("rf_local_n", "rf_local_ig", "rf_global_n", "rf_global_ig")
    """The sampler's variables of the ``scale-mixture`` form."""

    def problems(self, prior: dict[str, Any], structure: dict[str, Any]) -> list[str]:
        problems = super().problems(prior, structure)
        if prior.get("hierarchical", True) is not True:
            problems.append("a horseshoe prior learns its scales: prior.hierarchical cannot be false")
        if not positive_number(prior.get("slab_scale")):
            problems.append(f"prior.slab_scale must be a number > 0 for a horseshoe prior (log-rate per unit contrast "
                            f"of the largest plausible weight, e.g. 0.5), got {prior.get('slab_scale')!r}")
        return problems

    def weights(self, spec: PriorSpec, dims: tuple[str, ...], laplace: str, coordinates: None = None
                ) -> pt.TensorVariable:
        slab = pm.InverseGamma("rf_slab", alpha=SLAB_DF / 2, beta=SLAB_DF * spec.slab_scale**2 / 2)
        if laplace == "scale-mixture":  # HalfCauchy(b) = b HalfNormal(1) sqrt(InverseGamma(1/2, 1/2)), for NUTS
            tau = pm.Deterministic("rf_global", spec.hyper_scale * self._half_cauchy("rf_global", ()))
            local = pm.Deterministic("rf_local", self._half_cauchy("rf_local", dims), dims=dims)
        else:
            tau = pm.HalfCauchy("rf_global", beta=spec.hyper_scale)
            local = pm.HalfCauchy("rf_local", beta=1.0, dims=dims)
        return pm.Deterministic("rf", pm.Normal("rf_z", 0.0, 1.0, dims=dims) * tau * self.shrunk(tau, slab, local),
                                dims=dims)

    @staticmethod
    def shrunk(tau: Any, slab: Any, local: Any) -> Any:
        """The regularised local scale ``sqrt(slab local^2 / (slab + tau^2 local^2))`` (numpy or PyTensor)."""
        return (slab * local**2 / (slab + tau**2 * local**2)) ** 0.5

    @staticmethod
    def _half_cauchy(name: str, dims: tuple[str, ...]) -> pt.TensorVariable:
        """A standard half-Cauchy variate as ``HalfNormal(1) * sqrt(InverseGamma(1/2, 1/2))``: the sampler's
        variables ``<name>_n`` and ``<name>_ig``."""
        return pm.HalfNormal(f"{name}_n", 1.0, dims=dims) * pt.sqrt(pm.InverseGamma(f"{name}_ig", 0.5, 0.5, dims=dims))

    def to_nuts_start(self, start: dict[str, np.ndarray], spec: PriorSpec) -> dict[str, np.ndarray]:
        """The scales in the ``scale-mixture`` form, each inverse-gamma factor at 1."""
        out = dict(start)
        log_local, log_tau = out.pop("rf_local_log__"), out.pop("rf_global_log__")
        return out | {"rf_local_n_log__": log_local, "rf_local_ig_log__": np.zeros(np.shape(log_local)),
                      "rf_global_n_log__": log_tau - np.log(spec.hyper_scale), "rf_global_ig_log__": np.asarray(0.0)}

    def from_nuts(self, posterior: xr.Dataset, spec: PriorSpec) -> xr.Dataset:
        return posterior.drop_vars([name for name in self.MIXTURE if name in posterior])

    def start(self, start: dict[str, np.ndarray], ridge_rf: np.ndarray, spec: PriorSpec, seed: int | None
              ) -> dict[str, np.ndarray]:
        """The global scale at ``hyper_scale``, the slab at ``slab_scale``, each local scale ``1 + |ridge| /
        hyper_scale`` and ``rf_z`` such that ``rf`` is the ridge RF."""
        tau, slab = spec.hyper_scale, spec.slab_scale**2
        local = 1.0 + np.abs(ridge_rf) / tau
        return start | {"rf_global_log__": np.asarray(np.log(tau)), "rf_slab_log__": np.asarray(np.log(slab)),
                        "rf_local_log__": np.log(local), "rf_z": ridge_rf / (tau * self.shrunk(tau, slab, local))}


@register
class GP(Family):
    """Structured prior: smooth, local and/or low-rank, hyperparameters learned (see :mod:`bayesrf.structured`)."""

    name = "gp"
    default_hierarchical = True
    start_reads_ridge_rf = False
    structure_defaults = {"smooth": True, "length_median": 1.5, "length_log_sd": 0.75, "local": False,
                          "width_median": 3.0, "envelope_nu": float("inf"), "envelope_floor": False, "rank": 0}
    # target_accept 0.9 removes most divergences of the real neuron's local prior. The pilot run's hyperparameters
    # choose how far each coefficient is centred (bayesrf.structured.centring): non-centred, as the MAP and log
    # densities write it, the amplitude and length scales mixed slowly when the data are rich (n/D 8, min bulk ESS:
    # docs/mixing_noncentred.json rank1 94, smooth 150, local 59; centred, docs/mixing.json: 575, 1,523, 81 -- local's
    # envelope still drifts). local's coefficients are also sheared along the envelope's centre and widths
    # (bayesrf.structured.shear; tuning seed 7, n/D 8, 4 x 400 draws: max R-hat 1.170 -> 1.082, min bulk ESS 20 -> 48;
    # it still failed the checks), and its data-determined coefficients are whitened (bayesrf.structured.data_block;
    # same seed, 2 x 400 draws: min bulk ESS of rf 30 -> 438, of rf_width 61 -> 122)
    nuts_form = NutsForm(target_accept=0.9, pilot_draws=100, pilot_agree=GP_HYPERPARAMETERS)

    def problems(self, prior: dict[str, Any], structure: dict[str, Any]) -> list[str]:
        hierarchical = [] if prior.get("hierarchical", True) is True else [
            "a gp prior learns its hyperparameters: prior.hierarchical cannot be false"]
        return super().problems(prior, structure) + hierarchical + self._structure_problems(structure)

    @staticmethod
    def _structure_problems(structure: dict[str, Any]) -> list[str]:
        smooth = structure.get("smooth", True)
        problems = [] if isinstance(smooth, bool) or (isinstance(smooth, list) and set(smooth) <= set(AXES)) else [
            f"structure.smooth must be true, false or a list of axes among {list(AXES)}, got {smooth!r}"]
        problems += [f"structure.{key} must be true or false, got {structure[key]!r}"
                     for key in ("local", "envelope_floor") if not isinstance(structure.get(key, False), bool)]
        problems += [f"structure.{key} must be a number > 0, got {structure[key]!r}"
                     for key in ("length_median", "length_log_sd", "width_median", "envelope_nu")
                     if key in structure and not positive_number(structure[key])]
        rank = structure.get("rank", 0)
        if not isinstance(rank, int) or isinstance(rank, bool) or rank < 0:
            problems.append(f"structure.rank must be an integer >= 0, got {rank!r}")
        if not problems and not (smooth or structure.get("local", False) or rank):
            problems.append("a gp prior needs at least one of structure.smooth, structure.local, structure.rank")
        return problems

    def weights(self, spec: PriorSpec, dims: tuple[str, ...], laplace: str, coordinates: Coordinates | None = None
                ) -> pt.TensorVariable:
        model = pm.modelcontext(None)
        return structured_rf(spec, tuple(len(model.coords[d]) for d in dims), coordinates)

    def recentre(self, design: Design, spec: PriorSpec, pilot: xr.Dataset, start: dict[str, np.ndarray]
                 ) -> tuple[Coordinates, dict[str, np.ndarray]]:
        """:func:`bayesrf.structured.centring` at the pilot's posterior medians of the hyperparameters, and for a
        ``local`` prior :func:`bayesrf.structured.shear` there, about the pilot's posterior mean of the RF, with the
        data-determined coefficients whitened (:func:`bayesrf.structured.data_block`); a spline baseline's levels
        whitened about the start's (:func:`bayesrf.structured.baseline_whitening`)."""
        point = {name: pilot[name].median(("chain", "draw")).values for name in GP_HYPERPARAMETERS if name in pilot}
        amounts = centring(design, spec, point)
        baseline = baseline_whitening(design, spec, start["baseline_level"]) if "baseline_level" in start else None
        coordinates = Coordinates(amounts, baseline=baseline)
        if spec.local:
            mean = pilot["rf_space" if spec.rank else "rf"].mean(("chain", "draw")).values
            coordinates = Coordinates(amounts, *shear(spec, point, mean, amounts),
                                      data_block(design, spec, point, amounts, pilot), baseline)
        return coordinates, centred_start(spec, start, coordinates)

    def start(self, start: dict[str, np.ndarray], ridge_rf: np.ndarray, spec: PriorSpec, seed: int | None
              ) -> dict[str, np.ndarray]:
        """Small random ``rf_z`` (seeded; an RF of exactly 0 has no gradient for the envelope, which stops
        nutpie's start) and a smooth positive time course (the raw one must not be 0: it is normalised)."""
        out = start | {"rf_z": 0.1 * np.random.default_rng(seed).standard_normal(start["rf_z"].shape)}
        if "rf_time_z" in start:
            out["rf_time_z"] = np.ones_like(start["rf_time_z"])
        return out

    def mode_information(self, design: Design, spec: PriorSpec, values: dict[str, np.ndarray]) -> np.ndarray:
        """:func:`bayesrf.structured.coefficient_information` at ``values``' hyperparameters (and time course)."""
        point = {name: values[name] for name in GP_HYPERPARAMETERS if name in values}
        return coefficient_information(design, spec, point)[0]

    def mode_scale(self, spec: PriorSpec, values: dict[str, np.ndarray], information: np.ndarray
                   ) -> dict[str, np.ndarray]:
        """``rf_z`` in units of its posterior SD (:func:`bayesrf.structured.mode_scale`)."""
        return {"rf_z": mode_scale(spec, values, information)}

    def evidence_term(self, spec: PriorSpec, information: pt.TensorVariable, shape: tuple[int, int, int]
                      ) -> pt.TensorVariable:
        """:func:`bayesrf.structured.evidence_term`."""
        return evidence_term(spec, information, shape)

    def from_nuts(self, posterior: xr.Dataset, spec: PriorSpec) -> xr.Dataset:
        if not spec.rank:
            return posterior
        aligned = align_components(posterior["rf_time"].values, posterior["rf_space"].values)
        return posterior.assign({name: posterior[name].copy(data=aligned[name]) for name in aligned})

    def factors(self, spec: PriorSpec) -> tuple[pt.TensorVariable, pt.TensorVariable] | None:
        """A rank-k RF's ``rf_time`` (component, lag) and ``rf_space`` (component, y, x)."""
        if not spec.rank:
            return None
        model = pm.modelcontext(None)
        return model["rf_time"], model["rf_space"]

    def coords(self, spec: PriorSpec) -> dict[str, Any]:
        return {"axis": model_axes(spec), "space_axis": ["y", "x"], "component": np.arange(spec.rank)}

    def var_dims(self, spec: PriorSpec) -> dict[str, tuple[str, ...]]:
        """A rank-k prior has one spatial map (and amplitude) per component."""
        return {"rf_z": ("component", "y", "x"), "rf_amplitude": ("component",)} if spec.rank else {}
