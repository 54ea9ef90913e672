"""The RF under a structured (``family = "gp"``) prior, as PyMC variables.

Structured (``family = "gp"``) priors, after automatic smoothness / locality
determination (Sahani & Linden 2003; Park & Pillow 2011) and bilinear RFs::

    rf = rf_amplitude * envelope(y, x) * (L_lag (x) L_y (x) L_x) rf_z          (rank 0)
    rf = sum_k rf_time[k, lag] * rf_space[k, y, x]                             (rank k)
    rf_space[k] = rf_amplitude[k] * envelope(y, x) * (L_y (x) L_x) rf_z[k]
    rf_time[k]  = L_lag rf_time_z[k] / ||L_lag rf_time_z[k]||                   (unit norm; the lag
                  kernel's length is fixed at length_median, and ||rf_time_z[k]|| is held near 1 by a
                  soft constraint that leaves the prior of rf unchanged)

``L_a`` (``a`` in ``structure.smooth``) is a square-root factor (:func:`se_factor`, in a fixed cosine
basis) of ``K_a``, the unit-variance squared-exponential kernel ``~ exp(-(i - j)^2 / (2 rf_length[a]^2))``
over axis ``a`` (identity when ``smooth = false``); the product is a contraction of the three small factors
with ``rf_z`` over one axis at a time — the 1,500 x 1,500 covariance is never
formed. So the prior covariance of a rank-0 RF is ``rf_amplitude^2 E (K_lag (x) K_y (x) K_x) E``
with ``E = diag(envelope)``, ``envelope = (1 + r^2 / nu)^(-nu / 2)``, ``r^2 = (y - c_y)^2 / w_y^2 + (x - c_x)^2 / w_x^2``
(``rf_center``, ``rf_width``, ``nu = envelope_nu``; Gaussian ``exp(-r^2 / 2)`` for ``nu = inf``; 1 without ``local``;
with ``envelope_floor``, ``rf_floor + (1 - rf_floor) *`` that). Hyperpriors: ``rf_amplitude ~
HalfNormal(hyper_scale)``, ``rf_length ~ LogNormal(log length_median, length_log_sd)``,
``rf_center ~ Normal(grid centre, grid size / 2)``, ``rf_width ~ LogNormal(log width_median, 0.75)``,
``rf_floor ~ Beta(1, 9)``.
NUTS samples ``rf_z`` partially centred (:func:`centring`, chosen from a pilot run by :func:`bayesrf.sample`):
in the cosine basis each coefficient is ``rf_coef ~ N(0, sd^c)``, ``rf_z = rf_coef / sd^c``, with ``sd`` its prior SD
(:func:`coefficient_log_sd`) and ``c`` in [0, 1] the share of its posterior the data determine. The prior is the
same; with rich data the amplitude and length scales then move without dragging every weight along. A ``local``
prior's coefficients are also sheared along the envelope (:func:`shear`): ``rf_coef`` is sampled about
``B (g - g0)``, the shift of its posterior mean with the envelope's centre and log widths ``g``
(:func:`envelope_coordinates`), so that moving the envelope does not drag the data-determined weights either
(Jacobian 1: the prior is the same). The few coefficients the data determine most are sampled whitened instead, along
every hyperparameter (:func:`data_block`), and so are a spline baseline's levels (:func:`baseline_whitening`).
A rank-k RF's components are identified up to a joint sign flip of ``(rf_time[k],
rf_space[k])``, which leaves ``rf`` unchanged; :func:`bayesrf.sample` reports them
signed like :func:`bayesrf.posterior_svd` (agreeing with the posterior mean).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from .svd import align_signs

if TYPE_CHECKING:
    from .design import Design
    from .priors import PriorSpec

__all__ = ["AXES", "BLOCK_CENTRING", "BLOCK_SIZES", "CHUNK", "Block", "Coordinates", "LOGGED",
           "STRUCTURED_HYPERPARAMETERS", "align_components", "baseline_whitening", "centred_start", "centring",
           "coefficient_information", "coefficient_log_sd", "cosine_spectrum", "data_block", "diagonal_evidence",
           "envelope_coordinates", "envelope_values", "evidence_term", "flat_whitened", "hyperparameter_coordinates",
           "kron_contract", "mode_log_sd", "mode_scale", "model_axes", "se_factor", "shear", "smooth_axes",
           "structured_rf"]

AXES = ("lag", "y", "x")
"""The RF's axes, in order."""
STRUCTURED_HYPERPARAMETERS = ("rf_amplitude", "rf_length", "rf_center", "rf_width", "rf_floor")
"""The structured (``gp``) priors' learned prior parameters (present depending on the spec)."""
WIDTH_LOG_SD = 0.75
FLOOR_BETA = 9.0
"""``rf_floor ~ Beta(1, FLOOR_BETA)``: prior mean 0.1 of the envelope floor."""
LOGGED = ("rf_amplitude", "rf_length", "rf_width")
"""Hyperparameters whose log is a coordinate of :func:`hyperparameter_coordinates`."""
NORM_SD = 0.1
"""SD of the soft constraint ``||rf_time_z[k]|| ~ 1`` of low-rank priors (does not change the prior of ``rf``)."""


@dataclass(frozen=True)
class Block:
    """The data-determined coefficients of ``rf_z`` (:func:`data_block`), sampled whitened: their centred values
    ``sd^c rf_z`` are ``mean + (h - anchor) . slope + factor @ rf_white`` (``h`` the :func:`hyperparameter_coordinates`).

    Attributes
    ----------
    index : ndarray of int (n,)
        Their flat indices in ``rf_z``.
    mean : ndarray (n,)
        Their centred values at ``h = anchor``.
    slope : ndarray (hyperparameter coordinate, n)
        How those values move with ``h``.
    anchor : ndarray (hyperparameter coordinate,)
    factor : ndarray (n, n)
        Lower-triangular square root of their covariance given ``h``.
    """

    index: np.ndarray
    mean: np.ndarray
    slope: np.ndarray
    anchor: np.ndarray
    factor: np.ndarray


@dataclass(frozen=True)
class Coordinates:
    """NUTS's coordinates of ``rf_z``, chosen from a pilot run (:meth:`bayesrf.families.Family.recentre`).

    Attributes
    ----------
    centring : ndarray, the shape of ``rf_z``
        How far each coefficient is centred (:func:`centring`), in [0, 1].
    shear : ndarray (envelope coordinate, *shape of ``rf_z``), optional
        ``B`` of :func:`shear` (``local`` priors; None: no shear).
    anchor : ndarray (envelope coordinate,), optional
        ``g0`` of :func:`shear`, where the shift ``B (g - g0)`` is 0.
    block : Block, optional
        Coefficients sampled whitened instead (the shear is then unused for them).
    baseline : tuple of ndarray (knot,) and (knot, knot), optional
        A spline baseline's levels sampled whitened, ``baseline_level = mean + factor @ baseline_white``
        (:func:`baseline_whitening`; None: sampled as themselves).
    """

    centring: np.ndarray
    shear: np.ndarray | None = None
    anchor: np.ndarray | None = None
    block: Block | None = None
    baseline: tuple[np.ndarray, np.ndarray] | None = None


def smooth_axes(smooth: bool | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``true`` -> all axes, ``false`` -> none, a list -> those axes (in (lag, y, x) order)."""
    if isinstance(smooth, bool):
        return AXES if smooth else ()
    return tuple(axis for axis in AXES if axis in smooth)


def cosine_spectrum(n: int, length: Any, xp: Any = pt) -> tuple[Any, Any]:
    """The factor of :func:`se_factor` split as ``F = rows * exp(log_sd)[None, :]``.

    ``rows`` (n, n) is the cosine (DCT-II) basis with each row rescaled by ``sqrt(mean variance / variance)``, which
    is close to 1 away from the edges; ``log_sd`` (n,) is the log prior SD of each basis coefficient of a
    unit-variance kernel, ``log sqrt(s_k) - log sqrt(mean_k s_k)`` (see :func:`se_factor`). ``xp`` is ``pytensor.tensor``
    (symbolic ``length``) or ``numpy`` (a number).
    """
    i, k = np.arange(n)[:, None], np.arange(n)
    basis = np.sqrt(2.0 / n) * np.cos(np.pi * (i + 0.5) * k / n)
    basis[:, 0] = np.sqrt(1.0 / n)
    log_root = -0.25 * (np.pi * k * length / n) ** 2
    variance = xp.dot(basis**2, xp.exp(2 * log_root))  # >= 1/n (the constant term)
    mean_variance = xp.sum(xp.exp(2 * log_root)) / n  # the mean of variance over rows (the basis is orthonormal)
    return basis / xp.sqrt(variance / mean_variance)[:, None], log_root - 0.5 * xp.log(mean_variance)


def se_factor(n: int, length: pt.TensorVariable) -> pt.TensorVariable:
    """Factor ``F`` (n, n) of a unit-variance squared-exponential kernel, ``F F^T ~ exp(-(i - j)^2 / (2 length^2))``.

    ``F = D U diag(sqrt(s))``: ``U`` is the orthonormal cosine (DCT-II) basis, fixed; ``s_k =
    exp(-(pi k length / n)^2 / 2)`` is the kernel's spectrum at the basis frequencies (the kernel of a
    reflected axis); ``D`` rescales each row to prior variance 1. Because the basis does not depend on
    ``length``, a longer length scale only switches off high-frequency coefficients (as in fastASD, Aoi &
    Pillow 2017). A Cholesky factor's columns rotate with the length scale instead; with it, NUTS mixed
    badly when a length scale was weakly identified (real neuron, ``local``, 4 x 1000 draws: min ESS 37,
    R-hat 1.085, 143 s; with this factor 353, 1.012, 75 s). ``sqrt(s)`` is computed as ``exp(-(pi k length / n)^2 / 4)`` so
    that it has a finite gradient where ``s`` underflows. Computed by :func:`cosine_spectrum`.
    """
    rows, log_sd = cosine_spectrum(n, length)
    return rows * pt.exp(log_sd)[None, :]


def kron_contract(factors: list, z: Any, xp: Any = pt) -> Any:
    """``(F_1 (x) ... (x) F_m) vec(z)`` as ``z`` (..., n_1, ..., n_m) contracted with each factor on its axis.

    ``factors[i]`` (n_i, n_i) or None (identity). Costs ``sum_i n_i`` times the size of ``z``. ``xp``:
    ``pytensor.tensor`` or ``numpy``.
    """
    m = len(factors)
    for i, factor in enumerate(factors):
        if factor is not None:
            axis = z.ndim - m + i
            z = xp.moveaxis(xp.tensordot(factor, z, axes=[[1], [axis]]), 0, axis)
    return z


def model_axes(spec: PriorSpec) -> list[str]:
    """Axes whose kernel length scale ``rf_length`` is learned (coords of dim ``axis``)."""
    return [axis for axis in spec.smooth if not (spec.rank and axis == "lag")]


def envelope_values(spec: PriorSpec, ny: int, nx: int, center: Any, width: Any, floor: Any = None, xp: Any = pt) -> Any:
    """The envelope (y, x) of :func:`_envelope` at given ``rf_center``, ``rf_width`` (and ``rf_floor``), in
    ``xp`` (``pytensor.tensor`` or ``numpy``)."""
    dy = (np.arange(ny) - center[0]) / width[0]
    dx = (np.arange(nx) - center[1]) / width[1]
    r2 = dy[:, None] ** 2 + dx[None, :] ** 2
    nu = spec.envelope_nu
    envelope = xp.exp(-0.5 * r2) if np.isinf(nu) else (1 + r2 / nu) ** (-nu / 2)
    return envelope if floor is None else floor + (1 - floor) * envelope


def envelope_coordinates(center: Any, width: Any, xp: Any = pt) -> Any:
    """The envelope's coordinates ``g`` that :func:`shear` follows: ``rf_center`` (2) and ``log rf_width`` (2), in ``xp``
    (``pytensor.tensor`` or ``numpy``). Not the floor: shearing along it too made the far, prior-dominated weights
    stall (tuning seed 7, ``local`` at n/D 8, 4 x 400 draws: max R-hat of ``rf`` 1.229, against 1.076 unsheared).
    Not the log amplitude and length scales either, with each coefficient's share of data ``c`` following its prior
    SD (same seed and size: max R-hat of ``rf`` 1.075 -> 1.047, but min bulk ESS of ``rf_amplitude`` 393 -> 113,
    ``rf_length`` 197 -> 94, ``rf_width`` 228 -> 74; both fail the checks, the worst weights the same edge pixels
    2.7-3 widths from the envelope's centre)."""
    return xp.concatenate([center, xp.log(width)])


def _envelope(spec: PriorSpec, ny: int, nx: int) -> tuple[pt.TensorVariable | float, pt.TensorVariable | None]:
    """Spatial envelope (y, x) of the prior SD, peak 1 (``local = true``), else 1; and its
    :func:`envelope_coordinates` (None without ``local``).

    ``(1 + r^2 / nu)^(-nu / 2)`` of the scaled distance ``r`` from the centre (``nu = envelope_nu``), the
    Gaussian ``exp(-r^2 / 2)`` when ``nu`` is infinite; with ``envelope_floor``, ``floor + (1 - floor) *``
    that, ``rf_floor ~ Beta(1, 9)``. A Gaussian envelope alone shrinks the weights a few widths out to zero
    with tiny intervals: on simulated centre-surround RFs it fitted the centre and its 95 % intervals covered
    28-75 % of the true weights (the surround outside them). A heavy tail (``nu = 4``) fixed that but, on
    Gabor RFs (a Gaussian envelope), biased the profile: coverage 81 % at n/D = 4. The learned floor keeps the
    Gaussian profile and lets the data keep a surround (n/D = 4, 4 x 1000 draws: coverage 96 % Gabor, 98 %
    centre-surround; error 0.003 / 0.005; the Gabor's error with ``nu = 4`` was 0.008).
    """
    if not spec.local:
        return 1.0, None
    grid = np.array([ny, nx], dtype=float)
    center = pm.Normal("rf_center", mu=(grid - 1) / 2, sigma=grid / 2, dims="space_axis")
    width = pm.LogNormal("rf_width", mu=np.log(spec.width_median), sigma=WIDTH_LOG_SD, dims="space_axis")
    floor = pm.Beta("rf_floor", alpha=1.0, beta=FLOOR_BETA) if spec.envelope_floor else None
    return envelope_values(spec, ny, nx, center, width, floor), envelope_coordinates(center, width)


def _lengths(spec: PriorSpec, length: Any) -> dict[str, Any]:
    """Each smoothed axis's kernel length scale, from ``rf_length`` (dim ``axis``); a rank-k time course's is fixed."""
    axes = model_axes(spec)
    lengths = {axis: length[axes.index(axis)] for axis in axes}  # length is None when axes is empty
    if spec.rank and "lag" in spec.smooth:
        lengths["lag"] = spec.length_median
    return lengths


def mode_log_sd(lengths: dict[str, Any], axes: tuple[str, ...], shape: tuple[int, ...], xp: Any = pt) -> Any:
    """Log prior SD, per unit amplitude, of each coefficient ``rf_z`` scales (shape ``shape`` over ``axes``):
    the sum over the smoothed axes of :func:`cosine_spectrum`'s ``log_sd``, 0 along an axis without a kernel."""
    total = xp.zeros(shape)
    for i, (axis, n) in enumerate(zip(axes, shape, strict=True)):
        if axis in lengths:
            along = [n if j == i else 1 for j in range(len(shape))]
            total = total + xp.reshape(cosine_spectrum(n, lengths[axis], xp)[1], along)
    return total


def coefficient_log_sd(spec: PriorSpec, shape: tuple[int, int, int], amplitude: Any, lengths: dict[str, Any],
                       xp: Any = pt) -> Any:
    """Log prior SD of each coefficient ``rf_z`` scales (``shape``: (lag, y, x), or (component, y, x) for a rank-k
    prior, whose ``amplitude`` has one value per component): ``log amplitude + mode_log_sd``."""
    if spec.rank:
        return xp.log(amplitude)[:, None, None] + mode_log_sd(lengths, AXES[1:], shape[1:], xp)[None]
    return xp.log(amplitude) + mode_log_sd(lengths, AXES, shape, xp)


def _point_log_sd(spec: PriorSpec, shape: tuple[int, int, int], point: dict[str, np.ndarray]) -> np.ndarray:
    """:func:`coefficient_log_sd` in numpy at ``point``'s ``rf_amplitude`` and ``rf_length`` (values by name)."""
    lengths = _lengths(spec, point.get("rf_length"))
    return coefficient_log_sd(spec, shape, np.asarray(point["rf_amplitude"]), lengths, np)


def _shift(g: Any, shear: Any, anchor: Any, xp: Any = pt) -> Any:
    """``B (g - g0)`` of :func:`shear` (``B = shear``, ``g0 = anchor``; 0 when ``shear`` is None), the shape of ``rf_z``."""
    return 0.0 if shear is None else xp.tensordot(g - anchor, shear, axes=1)


def hyperparameter_coordinates(values: dict[str, Any], xp: Any = pt) -> Any:
    """``h`` of :class:`Block`: log ``rf_amplitude``, log ``rf_length``, ``rf_center``, log ``rf_width`` and ``rf_floor``
    (those in ``values``, in that order) as one vector, in ``xp`` (``pytensor.tensor`` or ``numpy``)."""
    return xp.concatenate([xp.reshape(xp.log(values[name]) if name in LOGGED else values[name], (-1,))
                           for name in STRUCTURED_HYPERPARAMETERS if name in values])


def _hyperparameters(start: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The structured hyperparameters at a point of value variables (their log / log-odds transforms undone)."""
    out = {}
    for name in STRUCTURED_HYPERPARAMETERS:
        if f"{name}_log__" in start:
            out[name] = np.exp(start[f"{name}_log__"])
        elif f"{name}_logodds__" in start:
            out[name] = 1 / (1 + np.exp(-start[f"{name}_logodds__"]))
        elif name in start:
            out[name] = start[name]
    return out


def _centred(spec: PriorSpec, z: np.ndarray, values: dict[str, np.ndarray], amounts: np.ndarray) -> np.ndarray:
    """The centred coefficients ``sd^c z`` (``c = amounts``, :func:`centring`) at the hyperparameters ``values``."""
    return z * np.exp(amounts * _point_log_sd(spec, z.shape, values))


def centred_start(spec: PriorSpec, start: dict[str, np.ndarray], coordinates: Coordinates) -> dict[str, np.ndarray]:
    """A start point (value variables) of the non-centred model as one of the model in ``coordinates``
    (:func:`structured_rf`): ``rf_coef = rf_z * sd^centring - B (g - g0)`` at the start's hyperparameters,
    ``rf_white`` solving :class:`Block`'s equation for the coefficients in ``coordinates.block``, and
    ``baseline_white`` solving :class:`Coordinates`' ``baseline`` equation for the start's ``baseline_level``."""
    values = _hyperparameters(start)
    g = envelope_coordinates(values["rf_center"], values["rf_width"], np) if spec.local else None
    out = {name: value for name, value in start.items() if name != "rf_z"}
    if coordinates.baseline is not None:
        mean, factor = coordinates.baseline
        out["baseline_white"] = np.linalg.solve(factor, out.pop("baseline_level") - mean)
    centred = _centred(spec, start["rf_z"], values, coordinates.centring)
    coef = centred - _shift(g, coordinates.shear, coordinates.anchor, np)
    if (block := coordinates.block) is None:
        return out | {"rf_coef": coef}
    h = hyperparameter_coordinates(values, np)
    offset = centred.reshape(-1)[block.index] - block.mean - (h - block.anchor) @ block.slope
    white = np.linalg.solve(block.factor, offset)
    return out | {"rf_coef": np.delete(coef.reshape(-1), block.index), "rf_white": white}


def _standard(dims: tuple[str, ...], spec: PriorSpec, shape: tuple[int, int, int], amplitude: pt.TensorVariable,
              lengths: dict[str, Any], coordinates: Coordinates | None, g: pt.TensorVariable | None
              ) -> pt.TensorVariable:
    """``rf_z`` (``shape`` over ``dims``), standard normal: sampled as itself (``coordinates`` None), or as
    ``rf_coef ~ N(-B (g - g0), sd^c)``, ``rf_z = (rf_coef + B (g - g0)) / sd^c`` (``c`` the centring, ``sd`` the prior SD
    of the coefficient ``rf_z`` scales, :func:`coefficient_log_sd`; ``B``, ``g0`` the shear, ``g`` the envelope's
    coordinates; see :class:`Coordinates`). Given the hyperparameters, ``rf_coef + B (g - g0) ~ N(0, sd^c)``. The
    coefficients of ``coordinates.block`` are sampled whitened instead (:func:`_whitened`)."""
    if coordinates is None:
        return pm.Normal("rf_z", 0.0, 1.0, dims=dims)
    power = pm.Data("rf_centring", coordinates.centring, dims=dims) * coefficient_log_sd(spec, shape, amplitude, lengths)
    shift = 0.0 if coordinates.shear is None else _shift(g, pm.Data("rf_shear", coordinates.shear),
                                                         pm.Data("rf_shear_anchor", coordinates.anchor))
    if coordinates.block is None:
        coef = pm.Normal("rf_coef", -shift, pt.exp(power), dims=dims)
        return pm.Deterministic("rf_z", (coef + shift) * pt.exp(-power), dims=dims)
    centred = _whitened(coordinates.block, power.flatten(), (shift + pt.zeros(shape)).flatten(), int(np.prod(shape)))
    return pm.Deterministic("rf_z", centred.reshape(shape) * pt.exp(-power), dims=dims)


def _whitened(block: Block, log_sd: pt.TensorVariable, shift: pt.TensorVariable, size: int) -> pt.TensorVariable:
    """The ``size`` centred coefficients ``sd^c rf_z``, flat (``log_sd`` their log prior SDs, ``shift`` the shear's
    shift): ``rf_coef ~ N(-shift, sd^c)`` outside ``block``, :class:`Block`'s ``mean + (h - anchor) . slope +
    factor @ rf_white`` in it, ``rf_white`` flat and a potential giving those values their prior ``N(0, sd^c)`` times
    ``|det factor|``: a shift and a fixed linear map of ``rf_white``, so the prior is the same."""
    data = {name: pm.Data(f"rf_block_{name}", getattr(block, name)) for name in ("index", "mean", "slope", "anchor",
                                                                                  "factor")}
    index, rest = data["index"], pm.Data("rf_block_rest", np.delete(np.arange(size), block.index))
    coef = pm.Normal("rf_coef", -shift[rest], pt.exp(log_sd[rest]))
    model = pm.modelcontext(None)
    h = hyperparameter_coordinates({name: model[name] for name in STRUCTURED_HYPERPARAMETERS
                                    if name in model.named_vars})
    values = flat_whitened("rf_white", data["mean"] + pt.dot(h - data["anchor"], data["slope"]), data["factor"],
                           lambda x: pm.logp(pm.Normal.dist(0.0, pt.exp(log_sd[index])), x).sum(), "rf_block_prior",
                           shape=block.index.size)
    return pt.set_subtensor(pt.set_subtensor(pt.zeros(size)[rest], coef + shift[rest])[index], values)


def flat_whitened(name: str, shift: Any, factor: Any, log_prior: Callable[[pt.TensorVariable], pt.TensorVariable],
                  potential: str, **kwargs: Any) -> pt.TensorVariable:
    """Values sampled whitened: ``shift + factor @ name``, with ``name`` a flat variable (``kwargs``: its ``dims`` or
    ``shape``) and a potential ``potential`` giving the values their prior, ``log_prior(values)``, times
    ``|det factor|`` (``factor`` lower-triangular and fixed): a shift and a fixed linear map, so the prior is the
    same."""
    values = shift + pt.dot(factor, pm.Flat(name, **kwargs))
    log_det = pt.sum(pt.log(pt.abs(pt.diag(factor))))  # constant; keeps the log density exact
    pm.Potential(potential, log_prior(values) + log_det)
    return values


def structured_rf(spec: PriorSpec, shape: tuple[int, int, int], coordinates: Coordinates | None = None
                  ) -> pt.TensorVariable:
    """The RF under a ``gp`` prior (see the module docstring); ``coordinates``: sample ``rf_z`` partially centred
    (:func:`centring`) and sheared (:func:`shear`), the same prior."""
    _, ny, nx = shape
    # a rank-k time course is normalised: its kernel's length is fixed at the hyperprior median, because a
    # learned one couples to the free norm of L_lag z (simulated Gabor, 2 x 300 draws: its ESS was 12)
    length = pm.LogNormal("rf_length", mu=np.log(spec.length_median), sigma=spec.length_log_sd,
                          dims="axis") if model_axes(spec) else None
    lengths = _lengths(spec, length)
    factors = [se_factor(n, lengths[axis]) if axis in lengths else None for axis, n in zip(AXES, shape, strict=True)]
    envelope, g = _envelope(spec, ny, nx)
    if not spec.rank:
        amplitude = pm.HalfNormal("rf_amplitude", sigma=spec.hyper_scale)
        z = _standard(AXES, spec, shape, amplitude, lengths, coordinates, g)
        return pm.Deterministic("rf", amplitude * envelope * kron_contract(factors, z), dims=("lag", "y", "x"))
    amplitude = pm.HalfNormal("rf_amplitude", sigma=spec.hyper_scale, dims="component")
    z = _standard(("component", "y", "x"), spec, (spec.rank, ny, nx), amplitude, lengths, coordinates, g)
    space = pm.Deterministic("rf_space", amplitude[:, None, None] * envelope * kron_contract(factors[1:], z),
                             dims=("component", "y", "x"))
    time_z = pm.Normal("rf_time_z", 0.0, 1.0, dims=("component", "lag"))
    # Only the direction of time_z matters (rf_time is normalised) and it is uniform whatever the norm's
    # distribution; a tight soft constraint on the norm removes the funnel between them
    # (simulated Gabor, 2 x 300 draws: min ESS of rf_time_z 38 -> 105; the steps per draw, ~125, are set by
    # the amplitude and length scales)
    pm.Potential("rf_time_norm", -0.5 * ((pt.sqrt(pt.sum(time_z**2, axis=1)) - 1.0) / NORM_SD) ** 2)
    raw = kron_contract(factors[:1], time_z)
    time = pm.Deterministic("rf_time", raw / pt.sqrt(pt.sum(raw**2, axis=1, keepdims=True)), dims=("component", "lag"))
    return pm.Deterministic("rf", pt.tensordot(time, space, axes=[[0], [0]]), dims=("lag", "y", "x"))


def centring(design: Design, spec: PriorSpec, point: dict[str, np.ndarray]) -> np.ndarray:
    """How far to centre each coefficient of ``rf_z`` for NUTS, from the data: ``c_k = s_k t_k / (1 + s_k t_k)``.

    ``s_k`` is the prior variance of the coefficient ``rf_z[k]`` scales, ``(amplitude * exp(mode_log_sd))^2``, and
    ``t_k`` its Fisher information, ``sum_t counts_t (x_t . m_k)^2`` (``x_t`` the stimulus window of interval
    ``t``, ``m_k`` the pattern the coefficient adds to the RF, envelope included; the counts make the sum an
    unbiased estimate of the rate-weighted one). ``c_k`` is the fraction of the coefficient's posterior the data
    determine for a Gaussian likelihood, the partial centring that decorrelates it from its prior SD
    (Papaspiliopoulos, Roberts & Skold 2007; Gorinova, Moore & Hoffman 2020): 0 leaves it non-centred (prior
    dominated), 1 centres it (data dominated). Computed at ``point``, typical hyperparameter values
    (``rf_amplitude``, ``rf_length``, ``rf_time``, ``rf_center``, ``rf_width``, ``rf_floor`` as the spec has them).

    Returns
    -------
    ndarray, the shape of ``rf_z``: (lag, y, x), or (component, y, x) for a rank-k prior.
    """
    information, log_sd = coefficient_information(design, spec, point)
    prior_by_data = np.exp(2 * log_sd) * information
    return prior_by_data / (1 + prior_by_data)


def coefficient_information(design: Design, spec: PriorSpec, point: dict[str, np.ndarray]
                            ) -> tuple[np.ndarray, np.ndarray]:
    """``t_k`` and ``log sd_k`` of :func:`centring` at ``point``: each coefficient's Fisher information per unit of
    its prior SD and its log prior SD, both the shape of ``rf_z``."""
    frames, lag_patterns, log_sd = _modes(design, spec, point)
    return _information(design, frames, lag_patterns).reshape(log_sd.shape), log_sd


def mode_scale(spec: PriorSpec, point: dict[str, np.ndarray], information: np.ndarray) -> np.ndarray:
    """``1 / sqrt(1 + sd_k^2 t_k)``: each coefficient of the non-centred ``rf_z`` in units of its posterior SD under
    the diagonal Laplace approximation (:func:`evidence_term`), ``sd_k`` its prior SD at ``point``'s hyperparameters
    and ``t_k`` its Fisher information ``information`` (:func:`coefficient_information`), both the shape of ``rf_z``.

    :func:`bayesrf.inference.map_values` runs L-BFGS on ``rf_z / mode_scale`` once the information is a mode's, a
    diagonal preconditioner that leaves the mode where it is."""
    return 1 / np.sqrt(1 + np.exp(2 * _point_log_sd(spec, information.shape, point)) * information)


def evidence_term(spec: PriorSpec, information: pt.TensorVariable, shape: tuple[int, int, int]) -> pt.TensorVariable:
    """The log-determinant term of the Laplace-approximate marginal likelihood of a ``gp`` prior's hyperparameters
    (MacKay 1992; Sahani & Linden 2003), with the Hessian in ``rf_z`` taken as diagonal:
    ``-1/2 sum_k log(1 + sd_k^2 t_k)``, ``sd_k`` the prior SD of the coefficient ``rf_z[k]`` scales at the current
    model's ``rf_amplitude`` and ``rf_length`` (:func:`coefficient_log_sd`) and ``t_k`` its Fisher information
    (``information``, :func:`coefficient_information`, of ``shape``, that of ``rf_z``). Added to the log density,
    whose mode over ``rf_z`` given the hyperparameters is the rest of that approximation, its maximum over the
    hyperparameters is their type-II MAP instead of the joint mode, which lets the amplitude grow and the length
    scales shrink without paying for the freedom (simulated Gabor, 40 x 40 px x 8 lags, 20,000 frames, tuning seed 0:
    ``smooth``'s error 0.504 -> 0.035, the NUTS posterior mean's 0.035; held-out seeds: ``docs/map_quality.json``).
    The envelope and a rank-k time course enter ``t_k``, fixed at the point it was computed at. ``t_k`` is the
    Poisson exp-link information (the counts for the rates), whatever the spec's likelihood and nonlinearity."""
    model = pm.modelcontext(None)
    length = model["rf_length"] if "rf_length" in model.named_vars else None
    log_sd = coefficient_log_sd(spec, shape, model["rf_amplitude"], _lengths(spec, length))
    return diagonal_evidence(log_sd, information)


def diagonal_evidence(log_sd: pt.TensorVariable, information: pt.TensorVariable) -> pt.TensorVariable:
    """``-1/2 sum_k log(1 + sd_k^2 t_k)``: the Laplace log-determinant term of independent Gaussian coefficients of
    prior SDs ``exp(log_sd)`` and Fisher information ``information`` per unit of them, the Hessian taken as diagonal
    (:func:`evidence_term`; broadcast against each other)."""
    return -0.5 * pt.sum(pt.log1p(pt.exp(2 * log_sd) * information))


def _modes(design: Design, spec: PriorSpec, point: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The patterns ``m_k`` of :func:`centring` at ``point``: each frame's projection on the spatial modes (frames,
    spatial mode), the lag patterns (lag, lag mode or component), and the coefficients' log prior SDs (shape of
    ``rf_z``)."""
    L, ny, nx = design.n_lags, design.ny, design.nx
    lengths = _lengths(spec, point.get("rf_length"))
    # each frame's projection on the spatial modes (the pixels of mode (i, j): envelope * rows_y[:, i] rows_x[:, j]),
    # as two matrix products (x, then y per frame): 0.2 s instead of einsum's 1.1 s at 20,000 x 40 x 40 (2 cores; the
    # same values to 1e-15 relative); an axis without a length scale keeps its pixels
    frames = design.frames.reshape(-1, ny, nx)
    if spec.local:
        frames = frames * envelope_values(spec, ny, nx, point["rf_center"], point["rf_width"], point.get("rf_floor"), np)
    if "x" in lengths:
        frames = (frames.reshape(-1, nx) @ cosine_spectrum(nx, lengths["x"], np)[0]).reshape(-1, ny, nx)
    if "y" in lengths:
        frames = np.matmul(cosine_spectrum(ny, lengths["y"], np)[0].T, frames)
    if spec.rank:
        lag_patterns = np.asarray(point["rf_time"]).T  # (lag, component)
    else:
        lag_patterns = cosine_spectrum(L, lengths["lag"], np)[0] if "lag" in lengths else np.eye(L)
    return frames.reshape(-1, ny * nx), lag_patterns, _point_log_sd(spec, (spec.rank or L, ny, nx), point)


BLOCK_CENTRING = 0.5
""":func:`data_block` whitens the coefficients centred more than this (:func:`centring`), padded to one of
:data:`BLOCK_SIZES`."""
BLOCK_SIZES = (16, 32, 64, 128, 256, 500)
"""How many coefficients :func:`data_block` whitens, the most centred first: the first of these sizes that holds every
coefficient centred more than :data:`BLOCK_CENTRING`, else the last (the whitening costs ``size^2`` per gradient),
and never all of them. A few sizes rather than the exact count, because the sampled model's shape follows the size:
the units of a population (:func:`bayesrf.population_fit.fit_population`) then share a few compiled models instead of
compiling one each (20 x 15 px, 5 lags, 3,000 frames: 54-167 coefficients centred more than 0.5 in 4 simulated units,
a compilation of 39-46 s each; session 44)."""


def data_block(design: Design, spec: PriorSpec, point: dict[str, np.ndarray], amounts: np.ndarray, pilot: xr.Dataset
               ) -> Block | None:
    """The data-determined coefficients and how to whiten them (:class:`Block`; None if no coefficient is centred
    more than :data:`BLOCK_CENTRING`). The block is padded with the next most centred coefficients up to one of
    :data:`BLOCK_SIZES`.

    With rich data a few coefficients are determined by the data and correlated with each other (under a narrow
    envelope, modes of one parity look alike), and their values follow the hyperparameters. The ``mean`` and ``slope``
    are the least-squares regression of their centred values ``sd^c rf_z`` in the pilot's draws on the draws'
    :func:`hyperparameter_coordinates` (``anchor`` their mean), the padding's slope 0; ``factor`` is the Cholesky factor
    of the inverse of their Fisher information plus prior precision at ``point`` (a Gaussian approximation of their
    posterior given the hyperparameters).

    Why (tuning seed 7, ``local`` at n/D 8, 2 x 400 draws; sessions 42-43): with the shear alone, 55 of 1,500
    coefficients were centred more than 0.5; correlated up to 0.98 (condition number 1,068), their bulk ESS was 19-56
    under NUTS's diagonal mass matrix, the others' above 1,100. Whitened this way, the min bulk ESS of ``rf`` rose from
    30 to 438 and of ``rf_width`` from 61 to 122, max R-hat of ``rf`` fell from 1.069 to 1.019, at 28 steps per draw
    (31 before). Whitening by the Fisher covariance with the shear's slope instead reached 183 for ``rf`` and left
    ``rf_width`` at 48: one direction of the block moved with log ``rf_width[y]`` (correlation 0.84), the floor and
    the lag length scale, with 45 times its Fisher variance; a regression on every hyperparameter removes it (on
    the shear-only run's draws, the largest remaining variance ratio was 4).

    Why the padding's slope is 0 (the real neuron, ``local``, 4 x 1,000 draws, seed 0; session 54): with the
    regression's slope for all 64 coefficients of the block (7 padded), max R-hat was 1.406, min bulk ESS 8, 85
    divergences; with slope 0 for the padded ones 1.010, 365, none (no block: 1.012, 288; a block of the 57 unpadded:
    1.021, 203). A padded coefficient is barely determined by the data; its regressed slope is likely mostly noise
    that couples it to the hyperparameters. The choice rests on one run each: in session 57, most likely on another
    machine (the same code and package versions), the shipped version gave 1.057, 85 and 82 divergences; on the real
    neuron ``local``'s chains are so close to failing that rounding decides (``benchmarks/bench_bayes.py``, rerun 3).

    Parameters
    ----------
    design, spec, point, amounts
        As :func:`centring` reads them, and its result.
    pilot : xarray.Dataset
        The pilot's posterior (``rf_z`` and the hyperparameters).
    """
    flat = amounts.reshape(-1)
    count = int(np.sum(flat > BLOCK_CENTRING))
    if not count:
        return None
    size = min(next((size for size in BLOCK_SIZES if size >= count), BLOCK_SIZES[-1]), flat.size - 1)
    index = np.sort(np.argsort(flat)[::-1][:size])
    draws = pilot.stack(sample=("chain", "draw")).transpose("sample", ...)
    centred, h = [], []
    for i in range(draws.sizes["sample"]):
        values = {name: draws[name].values[i] for name in STRUCTURED_HYPERPARAMETERS if name in draws}
        centred.append(_centred(spec, draws["rf_z"].values[i], values, amounts).reshape(-1)[index])
        h.append(hyperparameter_coordinates(values, np))
    anchor = np.mean(h, axis=0)
    regressors = np.column_stack([np.ones(len(h)), np.asarray(h) - anchor])
    fit = np.linalg.lstsq(regressors, np.asarray(centred), rcond=None)[0]
    frames, lag_patterns, log_sd = _modes(design, spec, point)
    log_sd, c = log_sd.reshape(-1)[index], flat[index]
    scale = np.exp((1 - c) * log_sd)  # the pattern a unit of sd^c rf_z adds is sd^(1 - c) m_k
    precision = scale[:, None] * _block_information(design, frames, lag_patterns, index) * scale + np.diag(
        np.exp(-2 * c * log_sd))
    slope = fit[1:] * (c > BLOCK_CENTRING)  # the padding's values stay put
    return Block(index, fit[0], slope, anchor, _covariance_factor(precision))


def shear(spec: PriorSpec, point: dict[str, np.ndarray], mean: np.ndarray, amounts: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """How the posterior mean of each sampled coefficient moves with the envelope: ``B``, and where, ``g0``.

    With the data determining the RF, moving the envelope ``E`` (``rf_center``, ``rf_width``) moves
    every coefficient the RF's weights depend on: ``sd z = U(X / E)`` (``X`` the RF, or a rank-k prior's ``rf_space``;
    ``U`` the inverse of the cosine factors' rows), so NUTS must move them together and mixes slowly. For a
    Gaussian likelihood the posterior mean of ``z`` given the hyperparameters is ``c U(X / E) / sd`` (``c`` the
    coefficient's ``amounts`` of :func:`centring`), that of the sampled ``sd^c z`` is ``c sd^(c - 1) U(X / E)``, and
    ``B`` (envelope coordinate, *shape of ``rf_z``) is its derivative in the envelope's coordinates ``g``
    (:func:`envelope_coordinates`; central differences) at ``g0``, the coordinates of ``point``. :func:`structured_rf`
    then samples each coefficient about ``B (g - g0)``, a shear with Jacobian 1.

    What the shear leaves slow, the few data-determined coefficients, :func:`data_block` whitens.

    Parameters
    ----------
    spec : PriorSpec
        A ``local`` ``gp`` prior.
    point : dict
        Typical hyperparameters (``rf_amplitude``, ``rf_length``, ``rf_center``, ``rf_width``, ``rf_floor``), as
        :func:`centring` reads them.
    mean : ndarray
        The RF's posterior mean, (lag, y, x); (component, y, x) ``rf_space`` for a rank-k prior.
    amounts : ndarray
        :func:`centring` at ``point``, the shape of ``rf_z``.

    Returns
    -------
    tuple of ``B`` and ``g0`` (envelope coordinate,).
    """
    ny, nx = mean.shape[1:]
    lengths = _lengths(spec, point.get("rf_length"))
    axes = ("component", *AXES[1:]) if spec.rank else AXES  # no factor along a rank-k prior's components
    inverses = [np.linalg.inv(cosine_spectrum(n, lengths[axis], np)[0]) if axis in lengths else None
                for axis, n in zip(axes, mean.shape, strict=True)]
    log_sd = coefficient_log_sd(spec, mean.shape, np.asarray(point["rf_amplitude"]), lengths, np)
    anchor = envelope_coordinates(point["rf_center"], point["rf_width"], np)
    # c sd^(c - 1) in logs: 0 where c is 0 (a prior-dominated mode whose sd^-1 overflows)
    log_c = np.log(amounts, out=np.full(amounts.shape, -np.inf), where=amounts > 0)
    factor = np.exp(log_c + (amounts - 1) * log_sd)

    def coefficient_mean(g: np.ndarray) -> np.ndarray:
        scaled = mean / envelope_values(spec, ny, nx, g[:2], np.exp(g[2:]), point.get("rf_floor"), np)
        return factor * kron_contract(inverses, scaled, np)

    step = 1e-5
    return np.stack([(coefficient_mean(anchor + step * e) - coefficient_mean(anchor - step * e)) / (2 * step)
                     for e in np.eye(anchor.size)]), anchor


CHUNK = 2**22
"""Elements of the stimulus windows :func:`_information` holds at once (32 MB)."""


def baseline_whitening(design: Design, spec: PriorSpec, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """:class:`Coordinates`' ``baseline`` for a spline baseline (None for another): about ``levels`` (knot,), by the
    Cholesky factor of the inverse of the levels' Fisher information plus the random walk's prior precision (a
    Gaussian approximation of their posterior given the rest; the counts stand for the expected counts, as in
    :func:`data_block`).

    Why (tuning seed 7, ``rank1`` at n/D 16, session 49): sampled as themselves, the 7 levels of the default spline
    were correlated up to 0.84 (each is relative to the first B-spline coefficient, and neighbouring B-splines
    overlap; their correlation matrix's eigenvalues spanned 0.09-4.1) and were the slowest variables of the fit,
    bulk ESS 438-854 and R-hat up to 1.011 (the intercept's ESS 2,700), which failed the checks."""
    if spec.baseline_kind != "spline":
        return None
    n = spec.baseline_n_basis - 1
    steps = np.eye(n) - np.eye(n, k=-1)  # levels -> their steps baseline_coef, iid N(0, scale^2) under the prior
    basis = design.baseline_basis("spline", spec.baseline_n_basis) @ steps
    precision = basis.T @ (design.counts[:, None] * basis) + steps.T @ steps / spec.baseline_scale**2
    return np.asarray(levels, dtype=float), _covariance_factor(precision)


def _covariance_factor(precision: np.ndarray) -> np.ndarray:
    """Lower-triangular Cholesky factor of the inverse of ``precision`` (symmetrised against round-off)."""
    covariance = np.linalg.inv(precision)
    return np.linalg.cholesky((covariance + covariance.T) / 2)


def _projections(design: Design, frames: np.ndarray, lag_patterns: np.ndarray
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``x_t . m`` for every lag pattern (columns of ``lag_patterns``, (lag, k)) times every column of ``frames``
    (frames, p), ``x_t`` interval ``t``'s window of ``frames`` (lag 0 = the interval's own frame, as
    :attr:`bayesrf.design.Design.lagged`), ``CHUNK`` elements at a time: each chunk's counts (t,) and those (t, p, k).
    One matrix product per chunk (its windows as rows of lags), not an einsum over (t, p, lag): the information of
    every coefficient at 40 x 40 px x 8 lags from 20,000 frames takes 0.9 s instead of 1.7 s (2 cores; same values to
    3e-16 relative)."""
    L, p, k = design.n_lags, frames.shape[1], lag_patterns.shape[1]
    windows = np.lib.stride_tricks.sliding_window_view(frames, L, axis=0)  # (t, p, lag), oldest frame first
    step = max(1, CHUNK // (L * p))
    for begin in range(0, design.n_obs, step):
        chunk = windows[design.rows[begin : begin + step]]
        yield design.counts[begin : begin + step], (chunk.reshape(-1, L) @ lag_patterns[::-1]).reshape(len(chunk), p, k)


def _information(design: Design, frames: np.ndarray, lag_patterns: np.ndarray) -> np.ndarray:
    """``sum_t counts_t (x_t . m)^2`` (:func:`_projections`): shape (k, p)."""
    total = np.zeros(frames.shape[1] * lag_patterns.shape[1])
    for counts, projected in _projections(design, frames, lag_patterns):
        total += counts @ np.square(projected, out=projected).reshape(len(counts), -1)
    return total.reshape(frames.shape[1], -1).T


def _block_information(design: Design, frames: np.ndarray, lag_patterns: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``sum_t counts_t (x_t . m_i) (x_t . m_j)`` (:func:`_projections`) for the patterns at flat ``index`` of (k, p)."""
    pattern, pixel = np.unravel_index(index, (lag_patterns.shape[1], frames.shape[1]))
    total = np.zeros((index.size, index.size))
    for counts, projected in _projections(design, frames, lag_patterns):
        chosen = projected[:, pixel, pattern]
        total += chosen.T @ (counts[:, None] * chosen)
    return total


def align_components(time: np.ndarray, space: np.ndarray) -> dict[str, np.ndarray]:
    """Sign the components of a low-rank RF like :func:`bayesrf.posterior_svd` does.

    ``(time[k], space[k])`` and ``(-time[k], -space[k])`` give the same RF. Each
    draw's component is flipped when it disagrees (``u . u_ref + v . v_ref < 0``)
    with the component of the mean over draws, itself signed so its largest spatial
    pixel is positive (the mean is taken after aligning to the first draw); the rule is
    :func:`bayesrf.svd.align_signs`'s.

    Parameters
    ----------
    time : ndarray (chain, draw, component, lag)
    space : ndarray (chain, draw, component, y, x)

    Returns
    -------
    dict with the aligned ``rf_time`` and ``rf_space``.
    """
    comps = xr.Dataset({"spatial": (("chain", "draw", "component", "y", "x"), space),
                        "temporal": (("chain", "draw", "component", "lag"), time)})
    to_first = align_signs(comps, reference=comps.isel(chain=0, draw=0))
    aligned = align_signs(comps, reference=align_signs(to_first.mean(("chain", "draw"))))
    return {"rf_time": aligned["temporal"].values, "rf_space": aligned["spatial"].values}
