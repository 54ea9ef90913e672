"""Structured priors (smooth, local, low-rank): Kronecker algebra, prior covariance, recovery."""

import dataclasses
import warnings

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
import xarray as xr
from pathlib import Path
from scipy.fft import dct
from scipy.optimize import minimize_scalar

import bayesrf
from bayesrf import nuts, structured
from bayesrf.design import make_design
from bayesrf.families import family_of
from bayesrf.model import intercept_mu
from bayesrf.structured import (Block, Coordinates, align_components, baseline_whitening, centred_start, centring,
                                data_block, kron_contract, se_factor, shear)

FIXTURES = Path(__file__).parent / "fixtures" / "specs"
SHAPE = (2, 4, 3)  # lag, y, x


def se_kernel(n: int, length: float) -> np.ndarray:
    """Reference: the squared-exponential kernel of a reflected axis (scipy's DCT-II), unit variance."""
    basis = dct(np.eye(n), type=2, norm="ortho", axis=0).T  # columns: the cosine basis
    cov = basis @ np.diag(np.exp(-0.5 * (np.pi * np.arange(n) * length / n) ** 2)) @ basis.T
    sd = np.sqrt(np.diag(cov))
    return cov / np.outer(sd, sd)


def test_kron_contraction_equals_dense_product(rng):
    factors = [rng.standard_normal((n, n)) for n in SHAPE]
    z = rng.standard_normal((3, *SHAPE))  # a leading batch axis is left alone
    dense = np.kron(factors[0], np.kron(factors[1], factors[2]))
    expected = np.stack([dense @ zi.ravel() for zi in z]).reshape(z.shape)
    got = kron_contract([pt.as_tensor(f) for f in factors], pt.as_tensor(z)).eval()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    partial = kron_contract([None, pt.as_tensor(factors[1]), None], pt.as_tensor(z[0])).eval()
    np.testing.assert_allclose(partial.ravel(), np.kron(np.eye(2), np.kron(factors[1], np.eye(3))) @ z[0].ravel())


@pytest.mark.parametrize("length", [0.3, 1.5, 6.0, 60.0])
def test_se_factor_squares_to_the_kernel_with_a_finite_gradient(length):
    ell = pt.dscalar("length")
    factor = se_factor(7, ell)
    value, grad = pytensor.function([ell], [factor, pytensor.grad(factor.sum(), ell)])(length)
    np.testing.assert_allclose(value @ value.T, se_kernel(7, length), atol=1e-12)
    assert np.isfinite(grad)  # the spectrum of a long length scale underflows


def test_se_factor_is_the_squared_exponential_kernel_away_from_the_edges():
    factor = se_factor(40, pt.as_tensor(2.0)).eval()
    d = np.subtract.outer(np.arange(40), np.arange(40))
    inner = slice(10, 30)
    np.testing.assert_allclose((factor @ factor.T)[inner, inner], np.exp(-0.5 * d**2 / 2.0**2)[inner, inner], atol=1e-3)


def _prior_rf(name: str, fixed: dict, draws: int = 6000, overrides: list[str] | None = None) -> tuple[np.ndarray, pm.Model]:
    data = bayesrf.simulate(n_frames=60, shape=SHAPE[1:], lags=SHAPE[0], seed=0)
    model = bayesrf.build_model(data, bayesrf.load_prior(name, overrides), lags=SHAPE[0])
    return pm.draw(pm.do(model, fixed)["rf"], draws=draws, random_seed=1).reshape(draws, -1), model


def test_smooth_prior_draws_have_the_kronecker_covariance():
    amp, lengths = 0.2, np.array([1.0, 1.5, 0.7])
    draws, _ = _prior_rf("smooth", {"rf_amplitude": amp, "rf_length": lengths})
    expected = amp**2 * np.kron(se_kernel(2, 1.0), np.kron(se_kernel(4, 1.5), se_kernel(3, 0.7)))
    # 6000 draws: the SE of a covariance entry is <= amp^2 sqrt(2 / 6000) = 0.018 amp^2
    np.testing.assert_allclose(np.cov(draws.T), expected, atol=0.08 * amp**2)


@pytest.mark.parametrize(("nu", "floor"), [(2.0, None), (np.inf, None), (np.inf, 0.3)])
def test_local_prior_sd_follows_the_envelope(nu, floor):
    amp, center, width = 0.2, np.array([1.0, 2.0]), np.array([0.8, 1.5])
    fixed = {"rf_amplitude": amp, "rf_length": np.array([1.3]), "rf_center": center, "rf_width": width}  # smoothing over lag only
    draws, _ = _prior_rf("local", fixed | ({"rf_floor": floor} if floor else {}),
                         overrides=['structure.smooth=["lag"]', f"structure.envelope_nu={nu}",
                                    f"structure.envelope_floor={'true' if floor else 'false'}"])
    y, x = np.meshgrid(np.arange(SHAPE[1]), np.arange(SHAPE[2]), indexing="ij")
    r2 = ((y - center[0]) / width[0]) ** 2 + ((x - center[1]) / width[1]) ** 2
    # nu = 2: a bivariate Student-t density profile for the prior variance, 1 / (1 + r^2 / 2)^2
    envelope = np.exp(-0.5 * r2) if np.isinf(nu) else 1 / (1 + r2 / 2)
    if floor:
        envelope = floor + (1 - floor) * envelope
    E = np.tile(envelope.ravel(), SHAPE[0])
    K = np.kron(se_kernel(2, 1.3), np.eye(SHAPE[1] * SHAPE[2]))
    np.testing.assert_allclose(np.cov(draws.T), amp**2 * E[:, None] * K * E[None, :], atol=0.08 * amp**2)


def test_rank1_prior_is_separable_with_unit_time_course():
    data = bayesrf.simulate(n_frames=60, shape=SHAPE[1:], lags=SHAPE[0], seed=0)
    model = bayesrf.build_model(data, "rank1", lags=SHAPE[0])
    rf, time, space = pm.draw([model["rf"], model["rf_time"], model["rf_space"]], draws=200, random_seed=2)
    np.testing.assert_allclose(np.linalg.norm(time, axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(rf, np.einsum("dkl,dkyx->dlyx", time, space), atol=1e-14)
    assert np.linalg.matrix_rank(rf[0].reshape(SHAPE[0], -1)) == 1


@pytest.mark.parametrize("single", [False, True])
def test_rank_k_likelihood_contraction_equals_the_dense_product(monkeypatch, rng, single):
    """A rank-k model contracts the frames with the spatial maps, then the time courses; its Poisson
    log-likelihood equals scipy's with the dense lagged design times the RF (some intervals held out)."""
    from scipy.stats import poisson

    monkeypatch.setattr("bayesrf.model.SINGLE_PRECISION_WEIGHTS", 0 if single else 10**9)
    data = bayesrf.simulate(n_frames=80, shape=SHAPE[1:], lags=SHAPE[0], seed=0)
    keep = rng.random(80) < 0.8
    design = bayesrf.make_design(data, SHAPE[0], keep=keep)
    spec = bayesrf.load_prior("rank1", ["structure.rank=2", 'baseline.kind="constant"'])
    model = bayesrf.build_model(design, spec)
    point = {name: value + 0.3 * rng.standard_normal(np.shape(value)) for name, value in model.initial_point().items()}
    outputs = [model.logp(vars=[model["counts"]]), *model.replace_rvs_by_values([model["rf"], model["intercept"]])]
    loglik, rf, intercept = model.compile_fn(outputs, point_fn=True)(point)
    rate = np.exp(intercept + design.matrix() @ rf.ravel() + design.offset)
    assert loglik == pytest.approx(poisson.logpmf(design.counts, rate).sum(), rel=1e-6 if single else 1e-12)


def test_align_components_removes_sign_flips_without_changing_the_rf(rng):
    time = np.array([0.8, -0.6])
    space = rng.standard_normal((4, 3))
    noise = 0.05 * rng.standard_normal((2, 50, 1, 2))
    flips = rng.choice([-1.0, 1.0], size=(2, 50, 1))
    t = flips[..., None] * (time + noise)
    s = flips[..., None, None] * (space + 0.05 * rng.standard_normal((2, 50, 1, 4, 3)))
    out = align_components(t, s)
    sign = np.sign(out["rf_time"][..., 0])
    assert np.all(sign == sign.flat[0])  # every draw signed alike
    peak = np.unravel_index(np.abs(space).argmax(), space.shape)
    assert np.all(out["rf_space"][..., 0, peak[0], peak[1]] > 0)  # largest spatial pixel positive
    np.testing.assert_allclose(np.einsum("cdkl,cdkyx->cdlyx", out["rf_time"], out["rf_space"]),
                               np.einsum("cdkl,cdkyx->cdlyx", t, s))


def test_bad_structured_spec_lists_every_problem():
    with pytest.raises(bayesrf.SpecError) as info:
        bayesrf.load_prior(FIXTURES / "bad_structure.toml")
    for part in ("prior.hierarchical cannot be false", "structure.smooth must be true, false or a list of axes",
                 "structure.length_median must be a number > 0", "structure.rank must be an integer >= 0",
                 "structure.envelope_nu must be a number > 0, got nan",
                 "structure.envelope_floor must be true or false, got 'yes'"):
        assert part in str(info.value)
    with pytest.raises(bayesrf.SpecError, match=r"\[structure\] is only used by family"):
        bayesrf.load_prior("ridge", {"structure": {"rank": 1}})
    with pytest.raises(bayesrf.SpecError, match="at least one of"):
        bayesrf.load_prior("smooth", {"structure": {"smooth": False}})
    assert bayesrf.load_prior("rank1", ["structure.rank=2"]).rank == 2
    spec = bayesrf.load_prior("smooth", ['structure.smooth=["x", "lag"]'])
    assert spec.smooth == ("lag", "x") and bayesrf.PriorSpec.from_json(spec.to_json()) == spec
    gaussian = bayesrf.load_prior("local", ["structure.envelope_nu=inf"])  # survives the JSON stored in results
    assert gaussian.envelope_nu == np.inf and bayesrf.PriorSpec.from_json(gaussian.to_json()) == gaussian
    with pytest.raises(bayesrf.SpecError, match="list of axes among"):
        bayesrf.load_prior("smooth", ['structure.smooth=["time"]'])


@pytest.fixture(scope="module")
def gabor():
    """A smooth Gabor RF with as many frames as weights (10 x 8 pixels, 3 lags, 240 frames)."""
    return bayesrf.simulate(n_frames=240, shape=(10, 8), lags=3, spatial="gabor",
                            spatial_params={"sigma": 1.5, "wavelength": 5.0}, rate=30.0, seed=11)


def _error(result, truth) -> float:
    return 1 - np.corrcoef(result["posterior"]["rf"].mean(("chain", "draw")).values.ravel(), truth.ravel())[0, 1]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:sampling diagnostics failed:bayesrf.BayesRFWarning")  # short chains; calibration is what is tested
def test_local_prior_is_calibrated_on_a_centre_surround_rf():
    """The learned envelope floor keeps the weak, wide surround inside the intervals (a Gaussian envelope alone
    covered 85-93 % of these weights at seeds 1-2; on the 20 x 15 peer benchmark 28-75 %)."""
    data = bayesrf.simulate(n_frames=1200, shape=(12, 12), lags=2, spatial="dog", rf_norm=0.5, rate=17.0, dt=0.2, seed=2)
    fit = bayesrf.sample(data, "local", lags=2, draws=300, tune=300, chains=2, seed=3)
    assert bayesrf.coverage(fit, data["rf_true"], probs=(0.95,))[0.95] >= 0.9
    assert 0 < float(fit["posterior"]["rf_floor"].mean()) < 0.5


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:sampling diagnostics failed:bayesrf.BayesRFWarning")  # short chains; accuracy is what is tested
def test_structured_priors_recover_a_smooth_rf_better_than_ridge_hier(gabor):
    truth = gabor["rf_true"].values
    fits = {name: bayesrf.sample(gabor, name, lags=3, draws=300, tune=300, chains=2, seed=3)
            for name in ("ridge-hier", "smooth", "local", "rank1")}
    errors = {name: _error(fit, truth) for name, fit in fits.items()}
    print(errors)
    for name in ("smooth", "local", "rank1"):
        assert errors[name] < 0.6 * errors["ridge-hier"], errors
        coverage = bayesrf.coverage(fits[name], truth, probs=(0.95,))[0.95]
        assert 0.85 <= coverage <= 1.0, (name, coverage)
        assert fits[name].attrs["n_divergent"] <= 5
    rank1 = fits["rank1"]
    svd = bayesrf.posterior_svd(rank1, n_components=1, center="none")
    # the SVD of a rank-1 draw is its own (time course, spatial map): the two decompositions agree
    np.testing.assert_allclose(svd["temporal"].isel(component=0).values, rank1["posterior"]["rf_time"].isel(component=0).values,
                               atol=1e-8)
    summary = bayesrf.summary(rank1)
    assert {"rf_amplitude[0]", "rf_length[y]", "rf_length[x]", "rf_time[0, 0]"} <= set(summary["parameters"])
    bayesrf.fit_map(gabor, "local", lags=3)  # the type-II MAP runs through the same path


def _of_values(model: pm.Model, name: str):
    """``model[name]`` as a function of the value variables (by keyword)."""
    return model.compile_fn(model.replace_rvs_by_values([model[name]])[0], inputs=model.value_vars, point_fn=False,
                            on_unused_input="ignore")


def _value_point(model: pm.Model, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A random point of ``model``'s value variables."""
    return {name: rng.normal(0.0, 0.5, np.shape(value)) for name, value in model.initial_point().items()}


def _coordinates(spec, z_shape: tuple[int, ...], rng: np.random.Generator, whitened: bool = False) -> Coordinates:
    """Random centring, and for a ``local`` prior a random shear along its 4 envelope coordinates (``whitened``: and 5
    random coefficients whitened by a random block along its 9 hyperparameter coordinates)."""
    amounts = rng.uniform(0.0, 1.0, z_shape)
    if not spec.local:
        return Coordinates(amounts)
    sheared = rng.normal(0.0, 0.5, (4, *z_shape)), rng.normal(0.0, 0.5, 4)
    if not whitened:
        return Coordinates(amounts, *sheared)
    # h: log amplitude, 3 log lengths, 2 centres, 2 log widths, floor
    block = Block(np.sort(rng.choice(amounts.size, 5, replace=False)), rng.normal(0.0, 0.5, 5),
                  rng.normal(0.0, 0.5, (9, 5)), rng.normal(0.0, 0.5, 9),
                  np.tril(rng.normal(0.0, 0.5, (5, 5))) + np.eye(5))
    return Coordinates(amounts, *sheared, block)


@pytest.mark.parametrize("name, whitened", [("smooth", False), ("local", False), ("rank1", False), ("local", True)])
def test_centred_coordinates_change_only_the_variables_with_their_jacobian(name, whitened, rng):
    """Same rf, and log-density differing by log |det d rf_z / d (rf_coef, rf_white)| (central differences of the
    model's own rf_z, which is linear in them): the shear's shift and a whitened block's slope depend on the
    hyperparameters only, so the Jacobian is block triangular."""
    data = bayesrf.simulate(n_frames=60, shape=SHAPE[1:], lags=SHAPE[0], seed=0)
    spec = bayesrf.load_prior(name)
    plain = bayesrf.build_model(data, spec, lags=SHAPE[0])
    centred = bayesrf.build_model(data, spec, lags=SHAPE[0],
                                  coordinates=_coordinates(spec, plain.initial_point()["rf_z"].shape, rng, whitened))
    point = _value_point(centred, rng)
    z_of = _of_values(centred, "rf_z")
    z = z_of(**point)
    sampled = [name for name in ("rf_coef", "rf_white") if name in point]
    sizes = np.cumsum([point[name].size for name in sampled])[:-1]

    def z_at(flat: np.ndarray) -> np.ndarray:
        parts = np.split(flat, sizes)
        return z_of(**(point | {name: part.reshape(point[name].shape)
                                for name, part in zip(sampled, parts, strict=True)}))

    flat = np.concatenate([point[name].ravel() for name in sampled])
    assert flat.size == z.size
    jacobian = np.column_stack([(z_at(flat + 1e-3 * e) - z_at(flat - 1e-3 * e)).ravel() / 2e-3
                                for e in np.eye(flat.size)])
    plain_point = {k: v for k, v in point.items() if k not in sampled} | {"rf_z": z}
    np.testing.assert_allclose(centred.compile_logp()(point),
                               plain.compile_logp()(plain_point) + np.linalg.slogdet(jacobian)[1], rtol=1e-7)
    rf = [_of_values(m, "rf") for m in (plain, centred)]
    np.testing.assert_allclose(rf[1](**point), rf[0](**plain_point), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name, whitened", [("smooth", False), ("local", False), ("rank1", False), ("local", True)])
def test_centred_start_is_the_same_point(name, whitened, rng):
    data = bayesrf.simulate(n_frames=60, shape=SHAPE[1:], lags=SHAPE[0], seed=0)
    spec = bayesrf.load_prior(name)
    plain = bayesrf.build_model(data, spec, lags=SHAPE[0])
    start = _value_point(plain, rng)
    coordinates = _coordinates(spec, start["rf_z"].shape, rng, whitened)
    centred = bayesrf.build_model(data, spec, lags=SHAPE[0], coordinates=coordinates)
    np.testing.assert_allclose(_of_values(centred, "rf_z")(**centred_start(spec, start, coordinates)), start["rf_z"],
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["smooth", "rank1"])
def test_whitened_baseline_changes_only_its_levels_by_a_constant_jacobian(name, rng):
    """A spline baseline sampled whitened (``baseline_white``): at the start :func:`centred_start` gives, the same
    levels and a log-density higher by log |det factor| (the Jacobian of the linear map; nothing else centred)."""
    data = bayesrf.simulate(n_frames=200, shape=SHAPE[1:], lags=SHAPE[0], seed=0)
    design, spec = make_design(data, SHAPE[0]), bayesrf.load_prior(name)
    plain = bayesrf.build_model(design, spec)
    start = _value_point(plain, rng)
    whitening = baseline_whitening(design, spec, rng.normal(0.0, 0.3, start["baseline_level"].shape))
    coordinates = Coordinates(np.zeros(start["rf_z"].shape), baseline=whitening)
    whitened = bayesrf.build_model(design, spec, coordinates=coordinates)
    point = centred_start(spec, start, coordinates)
    assert "baseline_level" not in point and point["baseline_white"].shape == start["baseline_level"].shape
    np.testing.assert_allclose(_of_values(whitened, "baseline_level")(**point), start["baseline_level"], rtol=1e-10)
    np.testing.assert_allclose(whitened.compile_logp()(point) - plain.compile_logp()(start),
                               np.linalg.slogdet(whitening[1])[1], rtol=1e-9)


def test_baseline_whitening_gives_the_levels_unit_curvature():
    """Reference: the Hessian of the log posterior in the levels by central differences of the plain model's
    log-density, at the true levels of a neuron of constant rate whose counts numpy draws; in the coordinates of
    :func:`baseline_whitening` it is the identity up to the counts' noise (12,000 spikes; the edge knots' B-splines
    hold a few hundred of them, so several % there). In the levels themselves it is far from it."""
    rng = np.random.default_rng(3)
    n, rate, dt = 12_000, 20.0, 0.05
    data = bayesrf.from_counts(rng.choice([0.0, 1.0], (n, 2, 2)), rng.poisson(rate * dt, n), dt)
    spec = bayesrf.load_prior("ridge")
    design = make_design(data, 1)
    model = bayesrf.build_model(design, spec)
    logp = model.compile_logp()
    point = model.initial_point() | {"intercept": np.log(rate), "rf": np.zeros((1, 2, 2))}
    levels = np.zeros(spec.baseline_n_basis - 1)

    def at(x: np.ndarray) -> float:
        return float(logp(point | {"baseline_level": x}))

    h, eye = 1e-3, np.eye(levels.size)
    hessian = -np.array([[(at(levels + h * (a + b)) - at(levels + h * (a - b)) - at(levels - h * (a - b))
                           + at(levels - h * (a + b))) / (4 * h * h) for b in eye] for a in eye])
    factor = baseline_whitening(design, spec, levels)[1]
    curvature = np.linalg.eigvalsh(factor.T @ hessian @ factor)
    assert curvature.min() > 0.85 and curvature.max() < 1.15, curvature
    assert np.linalg.cond(hessian) > 10, np.linalg.cond(hessian)
    assert baseline_whitening(design, bayesrf.load_prior("ridge", ['baseline.kind="steps"']), levels) is None


POINTS = {"smooth": {"rf_amplitude": 0.1, "rf_length": np.array([1.0, 2.0, 0.8])},
          "local": {"rf_amplitude": 0.1, "rf_length": np.array([1.0, 2.0, 0.8]), "rf_center": np.array([1.0, 1.5]),
                    "rf_width": np.array([1.2, 2.0]), "rf_floor": 0.2},
          "rank1": {"rf_amplitude": np.array([0.1]), "rf_length": np.array([2.0, 0.8]),
                    "rf_time": np.array([[0.8, -0.6]])}}
"""Typical hyperparameters of each prior, as :func:`centring` reads them."""


def _dense_patterns(spec, point: dict) -> tuple[np.ndarray, np.ndarray]:
    """Reference: each coefficient's dense pattern per unit of ``sd rf_z`` (lag x pixel, coefficient) and its log prior SD
    ``sd`` (coefficient,), from the kernels' square roots, the spectrum ``se_factor`` documents and the envelope of
    :data:`POINTS` written out."""
    lengths = dict(zip(["lag", "y", "x"][-len(point["rf_length"]):], point["rf_length"], strict=True))
    lengths.setdefault("lag", spec.length_median)
    factors = {axis: se_factor(n, pt.as_tensor(lengths[axis])).eval() for axis, n in zip("lag y x".split(), SHAPE)}
    # the SDs of se_factor's docstring: sqrt(s_k) / sqrt(mean s), s_k = exp(-(pi k length / n)^2 / 2)
    spectrum = {axis: np.exp(-0.5 * (np.pi * np.arange(n) * lengths[axis] / n) ** 2)
                for axis, n in zip("lag y x".split(), SHAPE)}
    log_sd = {axis: 0.5 * np.log(spectrum[axis] / spectrum[axis].mean()) for axis in spectrum}
    units = {axis: factors[axis] / np.exp(log_sd[axis]) for axis in factors}
    envelope = np.ones(SHAPE[1:])
    if spec.local:
        r2 = ((np.arange(4)[:, None] - 1.0) / 1.2) ** 2 + ((np.arange(3)[None, :] - 1.5) / 2.0) ** 2
        envelope = 0.2 + 0.8 * np.exp(-0.5 * r2)
    spatial = envelope.ravel()[:, None] * np.kron(units["y"], units["x"])  # (pixel, spatial mode)
    lag = point["rf_time"].T if spec.rank else units["lag"]
    spatial_sd = np.add.outer(log_sd["y"], log_sd["x"]).ravel()
    per_mode = spatial_sd if spec.rank else np.add.outer(log_sd["lag"], spatial_sd)
    total = np.log(point["rf_amplitude"]).reshape(-1, 1) + per_mode
    return np.kron(lag, spatial), total.ravel()


def test_centring_information_is_the_dense_fisher_diagonal(monkeypatch):
    """sum_t counts_t (x_t . m_k)^2 against the dense lagged design times each mode's dense pixel pattern."""
    data = bayesrf.simulate(n_frames=300, shape=SHAPE[1:], lags=SHAPE[0], seed=2)
    design = make_design(data, SHAPE[0])
    monkeypatch.setattr(structured, "CHUNK", 50)  # several chunks
    for name, point in POINTS.items():
        spec = bayesrf.load_prior(name)
        got = centring(design, spec, point)
        patterns, log_sd = _dense_patterns(spec, point)
        info = np.einsum("t,tm->m", design.counts, (design.matrix() @ patterns) ** 2)  # matrix: (t, lag * pixel)
        sd2 = np.exp(2 * log_sd)
        np.testing.assert_allclose(got, (sd2 * info / (1 + sd2 * info)).reshape(got.shape), rtol=1e-8, err_msg=name)
        assert got.min() >= 0 and got.max() < 1


@pytest.mark.parametrize("axes", [["y"], ["x"], ["lag", "x"]])
def test_information_of_a_prior_smooth_along_some_axes_is_the_dense_fisher_diagonal(axes):
    """As above for a ``smooth`` prior smoothed along ``axes`` only, whose other axes keep their pixels (identity
    factor, log SD 0): the projections take one spatial product, the other or none."""
    data = bayesrf.simulate(n_frames=300, shape=SHAPE[1:], lags=SHAPE[0], seed=2)
    design = make_design(data, SHAPE[0])
    spec = bayesrf.load_prior("smooth", [f"structure.smooth={axes}"])
    lengths = dict(zip(axes, [1.0, 2.0][: len(axes)], strict=True))
    point = {"rf_amplitude": 0.1, "rf_length": np.array(list(lengths.values()))}
    units, log_sd = {}, {}
    for axis, n in zip(("lag", "y", "x"), SHAPE, strict=True):
        if axis in lengths:  # se_factor's docstring: SDs sqrt(s_k / mean s), s_k = exp(-(pi k length / n)^2 / 2)
            spectrum = np.exp(-0.5 * (np.pi * np.arange(n) * lengths[axis] / n) ** 2)
            log_sd[axis] = 0.5 * np.log(spectrum / spectrum.mean())
            units[axis] = se_factor(n, pt.as_tensor(lengths[axis])).eval() / np.exp(log_sd[axis])
        else:
            units[axis], log_sd[axis] = np.eye(n), np.zeros(n)
    patterns = np.kron(units["lag"], np.kron(units["y"], units["x"]))  # (lag x pixel, coefficient)
    sd2 = np.exp(2 * (np.log(0.1) + np.add.outer(np.add.outer(log_sd["lag"], log_sd["y"]), log_sd["x"]).ravel()))
    info = np.einsum("t,tm->m", design.counts, (design.matrix() @ patterns) ** 2)
    got = centring(design, spec, point)
    np.testing.assert_allclose(got, (sd2 * info / (1 + sd2 * info)).reshape(got.shape), rtol=1e-8)


def test_evidence_term_is_the_laplace_log_determinant_with_the_fisher_diagonal():
    """-1/2 sum_k log(1 + sd_k^2 t_k) at :data:`POINTS`, against the dense patterns: the diagonal of the Hessian
    ``I + J' X' C X J`` of the negative log posterior in ``rf_z`` (``J`` the dense patterns times their SDs, ``X`` the
    lagged design, ``C`` the counts for the rates). By Hadamard's inequality it is at most the full Laplace term,
    -1/2 log det of that Hessian (here 1-7 % below it: the envelope makes the patterns overlap most)."""
    data = bayesrf.simulate(n_frames=300, shape=SHAPE[1:], lags=SHAPE[0], seed=2)
    design = make_design(data, SHAPE[0])
    for name, point in POINTS.items():
        spec = bayesrf.load_prior(name)
        model = bayesrf.build_model(design, spec)
        information = family_of(spec).mode_information(design, spec, point)
        with model:
            term = structured.evidence_term(spec, pt.as_tensor(information), information.shape)
        inputs = [v for v in model.value_vars if v.name in ("rf_amplitude_log__", "rf_length_log__")]
        got = pytensor.function(inputs, model.replace_rvs_by_values([term])[0])(
            rf_amplitude_log__=np.log(point["rf_amplitude"]), rf_length_log__=np.log(point["rf_length"]))
        patterns, log_sd = _dense_patterns(spec, point)
        scaled = design.matrix() @ (patterns * np.exp(log_sd))
        hessian = np.eye(log_sd.size) + scaled.T @ (design.counts[:, None] * scaled)
        np.testing.assert_allclose(got, -0.5 * np.sum(np.log(np.diag(hessian))), rtol=1e-8, err_msg=name)
        full = -0.5 * np.linalg.slogdet(hessian)[1]
        assert full - 0.1 * abs(full) <= got <= full, (name, got, full)


def test_mode_scale_is_one_over_the_root_of_the_dense_hessian_diagonal():
    """``rf_z`` in units of its diagonal-Laplace posterior SD at :data:`POINTS`: the diagonal of the Hessian
    ``I + J' X' C X J`` of the negative log posterior in ``rf_z`` from the dense patterns (as above), to the power
    -1/2."""
    data = bayesrf.simulate(n_frames=300, shape=SHAPE[1:], lags=SHAPE[0], seed=2)
    design = make_design(data, SHAPE[0])
    for name, point in POINTS.items():
        spec = bayesrf.load_prior(name)
        family = family_of(spec)
        got = family.mode_scale(spec, point, family.mode_information(design, spec, point))["rf_z"]
        patterns, log_sd = _dense_patterns(spec, point)
        scaled = design.matrix() @ (patterns * np.exp(log_sd))
        curvature = 1 + np.einsum("t,tm->m", design.counts, scaled**2)
        np.testing.assert_allclose(got, curvature.reshape(got.shape) ** -0.5, rtol=1e-8, err_msg=name)


@pytest.mark.parametrize("with_data", [5, 3])
def test_data_block_regresses_the_pilot_and_whitens_by_the_dense_information(with_data, monkeypatch, rng):
    """:func:`data_block` on a pilot whose block values are an exact linear function of its hyperparameters (amplitude
    and lengths fixed, so each coefficient's prior SD is the dense reference's): it recovers that function, and its
    factor's covariance is the inverse of the dense Fisher information plus prior precision of those values. With
    block sizes 2 and 4, five coefficients centred more than 0.5 give the top four, three give those and the next
    most centred, whose slope is 0."""
    data = bayesrf.simulate(n_frames=300, shape=SHAPE[1:], lags=SHAPE[0], spatial="gabor", rf_norm=1.0, seed=2)
    design = make_design(data, SHAPE[0])
    monkeypatch.setattr(structured, "CHUNK", 50)  # several chunks
    monkeypatch.setattr(structured, "BLOCK_SIZES", (2, 4))
    spec, point = bayesrf.load_prior("local"), POINTS["local"]
    patterns, log_sd = _dense_patterns(spec, point)
    amounts = rng.uniform(0.0, 0.5, SHAPE)
    chosen = rng.choice(amounts.size, with_data, replace=False)
    amounts.ravel()[chosen] = rng.uniform(0.6, 1.0, with_data)
    if with_data == 5:
        index = np.sort(chosen[np.argsort(amounts.ravel()[chosen])[1:]])
    else:
        others = np.setdiff1d(np.arange(amounts.size), chosen)
        index = np.sort(np.append(chosen, others[np.argmax(amounts.ravel()[others])]))
    n_draws = 40
    center, log_width = rng.normal(1.0, 0.3, (n_draws, 2)), rng.normal(0.3, 0.2, (n_draws, 2))
    floor = rng.uniform(0.1, 0.3, n_draws)
    h = np.column_stack([center, log_width, floor])
    mean, slope = rng.normal(0.0, 1.0, index.size), rng.normal(0.0, 1.0, (5, index.size))
    z = rng.normal(0.0, 1.0, (n_draws, amounts.size))
    c = amounts.ravel()[index]
    z[:, index] = (mean + (h - h.mean(0)) @ slope) * np.exp(-c * log_sd[index])
    draws = {"rf_z": (("chain", "draw", "lag", "y", "x"), z.reshape(1, n_draws, *SHAPE)),
             "rf_amplitude": (("chain", "draw"), np.full((1, n_draws), point["rf_amplitude"])),
             "rf_length": (("chain", "draw", "axis"), np.tile(point["rf_length"], (1, n_draws, 1))),
             "rf_center": (("chain", "draw", "space_axis"), center[None]),
             "rf_width": (("chain", "draw", "space_axis"), np.exp(log_width)[None]),
             "rf_floor": (("chain", "draw"), floor[None])}
    block = data_block(design, spec, point, amounts, xr.Dataset(draws))
    np.testing.assert_array_equal(block.index, index)
    np.testing.assert_allclose(block.anchor[4:], h.mean(0), rtol=1e-12)
    np.testing.assert_allclose(block.mean, mean, rtol=1e-8, atol=1e-10)
    padded = amounts.ravel()[index] <= 0.5
    np.testing.assert_allclose(block.slope[4:, ~padded], slope[:, ~padded], rtol=1e-8, atol=1e-10)
    assert np.abs(block.slope[:4]).max() < 1e-8  # amplitude and lengths did not move
    assert padded.sum() == (with_data == 3) and not block.slope[:, padded].any()  # the padding's slope is 0
    weighted = design.matrix() @ (patterns[:, index] * np.exp((1 - c) * log_sd[index]))
    precision = weighted.T @ (design.counts[:, None] * weighted) + np.diag(np.exp(-2 * c * log_sd[index]))
    np.testing.assert_allclose(block.factor @ block.factor.T, np.linalg.inv(precision), rtol=1e-8)
    assert data_block(design, spec, point, np.full(SHAPE, 0.5), xr.Dataset(draws)) is None
    monkeypatch.setattr(structured, "BLOCK_SIZES", (amounts.size,))
    assert data_block(design, spec, point, amounts, xr.Dataset(draws)).index.size == amounts.size - 1  # never all


def test_centred_sampling_gives_the_non_centred_posterior(monkeypatch):
    """The pilot-chosen centring (the default) and plain non-centred NUTS agree in every mean and SD of rf and the
    hyperparameters within Monte Carlo error (|difference| <= 4.5 combined MCSE). (``local``'s shear is checked
    exactly instead, by its Jacobian: on a neuron this small its envelope mixes too slowly, in either coordinates, for
    Monte Carlo error to mean anything; R-hat was above 1.2 in both.)"""
    import arviz_stats as azs

    from bayesrf.families import FAMILIES, NutsForm

    data = bayesrf.simulate(n_frames=1500, shape=(5, 4), lags=2, spatial="gabor", rf_norm=1.0, rate=20.0, dt=0.05, seed=4)
    kwargs = {"lags": 2, "draws": 500, "chains": 2, "cores": 2, "seed": 3, "estimates": False}
    with warnings.catch_warnings(record=True) as caught:  # non-centred fails the checks (the point of centring)
        warnings.simplefilter("always")
        centred = bayesrf.sample(data, "smooth", **kwargs)
        monkeypatch.setattr(type(FAMILIES["gp"]), "nuts_form", NutsForm(target_accept=0.9))  # no pilot: non-centred
        plain = bayesrf.sample(data, "smooth", **kwargs)
    print([str(w.message)[:200] for w in caught], {k: centred.attrs[k] for k in ("max_rhat", "min_ess_bulk")},
          {k: plain.attrs[k] for k in ("max_rhat", "min_ess_bulk")})
    assert centred.attrs["pilot_draws"] == 100 and 0 < centred.attrs["centred_fraction"] < 1
    assert centred.attrs["whitened"] == 0
    assert "pilot_draws" not in plain.attrs
    for variable in ("rf", "rf_amplitude", "rf_length"):
        draws = [tree["posterior"][variable] for tree in (centred, plain)]
        for moment, method in (("mean", "mean"), ("std", "sd")):
            value = [getattr(d, moment)(("chain", "draw")).values for d in draws]
            error = np.hypot(*[np.asarray(azs.mcse(d, method=method)) for d in draws])
            assert np.all(np.abs(value[0] - value[1]) <= 4.5 * error), (variable, moment)


def test_pilot_is_no_longer_than_the_run():
    """A run of fewer draws than ``NutsForm.pilot_draws`` gets a pilot of its own length."""
    from bayesrf.families import FAMILIES

    data = bayesrf.simulate(n_frames=300, shape=(4, 3), lags=2, spatial="gabor", rf_norm=1.0, seed=1)
    with warnings.catch_warnings(record=True) as caught:  # 20 draws fail the convergence checks
        warnings.simplefilter("always")
        tree = bayesrf.sample(data, "smooth", lags=2, draws=20, tune=20, chains=1, cores=1, seed=0, estimates=False)
    print([str(w.message)[:120] for w in caught])
    assert FAMILIES["gp"].nuts_form.pilot_draws > 20 and tree.attrs["pilot_draws"] == 20


def test_shear_keeps_a_data_determined_rf_fixed_as_the_envelope_moves(rng):
    """With every coefficient centred (c = 1), the shear's shift makes the model's own RF (its pytensor graph, not
    :func:`shear`'s inverse factors) independent of the envelope's coordinates to first order: moving them by
    1e-4 changes rf by less than a thousandth of what it changes without the shift (second order against first)."""
    data = bayesrf.simulate(n_frames=60, shape=SHAPE[1:], lags=SHAPE[0], seed=0)
    spec = bayesrf.load_prior("local")
    plain = bayesrf.build_model(data, spec, lags=SHAPE[0])
    point = {"rf_amplitude": 0.1, "rf_length": np.array([1.0, 2.0, 0.8]), "rf_center": np.array([1.0, 1.5]),
             "rf_width": np.array([1.2, 2.0]), "rf_floor": 0.2}
    values = _value_point(plain, rng) | {
        "rf_amplitude_log__": np.log(0.1), "rf_length_log__": np.log(point["rf_length"]), "rf_center": point["rf_center"],
        "rf_width_log__": np.log(point["rf_width"]), "rf_floor_logodds__": np.log(0.2 / 0.8)}
    rf = _of_values(plain, "rf")(**values)
    ones = np.ones(values["rf_z"].shape)
    coordinates = Coordinates(ones, *shear(spec, point, rf, ones))
    sheared = bayesrf.build_model(data, spec, lags=SHAPE[0], coordinates=coordinates)
    start = centred_start(spec, values, coordinates)
    moved = {name: start[name] + 1e-4 * rng.choice([-1.0, 1.0], np.shape(start[name]))
             for name in ("rf_center", "rf_width_log__")}
    change = np.abs(_of_values(sheared, "rf")(**(start | moved)) - rf).max()
    unsheared = np.abs(_of_values(plain, "rf")(**(values | moved)) - rf).max()
    print(change, unsheared)
    assert change < 1e-3 * unsheared and unsheared > 1e-6


def test_gp_start_fits_no_ridge_and_takes_the_intercept_of_the_model_without_an_rf(monkeypatch):
    """A gp start ignores the ridge RF, so hierarchical_start fits none (16 s at 40 x 40 px x 8 lags): its
    intercept is the MAP of the intercept-only model (written here, solved by scipy), its RF near 0."""
    data = bayesrf.simulate(n_frames=300, shape=SHAPE[1:], lags=SHAPE[0], seed=1)
    spec = dataclasses.replace(bayesrf.load_prior("smooth"), baseline_kind="constant")
    design = make_design(data, SHAPE[0])
    model = bayesrf.build_model(data, spec, lags=SHAPE[0])

    def no_ridge(*args, **kwargs):
        raise AssertionError("a gp start fitted the ridge RF it ignores")

    monkeypatch.setattr(nuts, "solve_blocks", no_ridge)
    start = nuts.hierarchical_start(model, design, spec)
    counts, duration = design.counts, np.exp(design.offset)
    mu, sd = intercept_mu(spec, design), spec.intercept_sigma
    reference = minimize_scalar(lambda b: np.sum(np.exp(b) * duration - counts * b) + (b - mu) ** 2 / (2 * sd**2),
                                bracket=(mu - 1, mu + 1), tol=1e-12).x
    assert float(start["intercept"]) == pytest.approx(reference, abs=1e-7)
    assert np.abs(start["rf_z"]).max() < 1.0
