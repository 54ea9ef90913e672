"""MAP of the PyMC model == penalised ML (sim and real neuron, joint and per lag)."""

import glum
import numpy as np
import pytensor
import pytest

import bayesrf
from bayesrf.design import make_design
from bayesrf.priors import alpha_for

TOL = 1e-4
FLAT_INTERCEPT = {"intercept": {"family": "flat"}, "baseline": {"kind": "constant"}}


def _theta(tree):
    post = tree["posterior"]
    return np.r_[np.ravel(post["intercept"].values), post["rf"].values.ravel()]


def _ml_theta(fit):
    return np.r_[np.ravel(fit.intercept.values), fit.rf.values.ravel()]


def _model_logp(model, point):
    return float(model.compile_logp()(point))


@pytest.mark.parametrize("prior", ["flat", "ridge"])
def test_map_equals_ml_on_simulation(small_sim, prior):
    spec = bayesrf.load_prior(prior, FLAT_INTERCEPT)
    n_obs = make_design(small_sim, 3).n_obs
    mapfit = bayesrf.fit_map(small_sim, spec, lags=3)
    ml = bayesrf.fit_ml(small_sim, lags=3, penalty=None if prior == "flat" else "l2", alpha=alpha_for(spec, n_obs))
    np.testing.assert_allclose(_theta(mapfit), _ml_theta(ml), atol=TOL, rtol=0)


def _glum_fit(X, design, alpha, l1_ratio=0.0):
    """Independent reference: glum's Poisson GLM with the design's log-duration offset."""
    ref = glum.GeneralizedLinearRegressor(family="poisson", alpha=alpha, l1_ratio=l1_ratio, gradient_tol=1e-10,
                                          max_iter=1000)
    ref.fit(X, design.counts, offset=design.offset)
    return np.r_[ref.intercept_, ref.coef_]


def test_ridge_map_equals_glum_on_real_neuron(real):
    """Joint ridge with a constant baseline: bayesrf's MAP against glum (no shared code)."""
    spec = bayesrf.load_prior("ridge", FLAT_INTERCEPT)
    design = make_design(real, 5)
    mapfit = bayesrf.fit_map(real, spec, lags=5)
    np.testing.assert_allclose(_theta(mapfit), _glum_fit(design.matrix(), design, alpha_for(spec, design.n_obs)),
                               atol=TOL, rtol=0)


def test_ridge_map_per_lag_equals_ml_on_real_neuron(real):
    spec = bayesrf.load_prior("ridge", FLAT_INTERCEPT)
    alpha = alpha_for(spec, make_design(real, 5).n_obs)
    mapfit = bayesrf.fit_map(real, spec, lags=5, per_lag=True)
    ml = bayesrf.fit_ml(real, lags=5, penalty="l2", alpha=alpha, per_lag=True)
    np.testing.assert_allclose(_theta(mapfit), _ml_theta(ml), atol=TOL, rtol=0)


def test_flat_map_per_lag_equals_glum_on_real_neuron(real):
    """Plain ML of each lag alone (flat priors) against glum's unpenalised fit of that lag."""
    design = make_design(real, 5)
    post = bayesrf.fit_map(real, "flat", lags=5, per_lag=True)["posterior"]
    for lag in range(5):
        ours = np.r_[post["intercept"].values[0, 0, lag], post["rf"].values[0, 0, lag].ravel()]
        np.testing.assert_allclose(ours, _glum_fit(design.lagged[:, lag, :], design, 0.0), atol=TOL, rtol=0)


@pytest.mark.parametrize("data_name", ["small_sim", "real"])
def test_ridge_map_is_a_stationary_point_of_the_pymc_model(request, data_name):
    """Independent of our solver: PyMC's own gradient of its log-posterior vanishes at our MAP."""
    data = request.getfixturevalue(data_name)
    lags = 3 if data_name == "small_sim" else 5
    mapfit = bayesrf.fit_map(data, "ridge", lags=lags)
    model = bayesrf.build_model(data, "ridge", lags=lags)
    post = mapfit.posterior
    point = {"intercept": post.intercept.values[0, 0], "rf": post.rf.values[0, 0],
             "baseline_level": post.baseline_level.values[0, 0]}
    grad = model.compile_dlogp()(point)
    # the log-posterior's curvature is ~ sum of expected counts (~6,000 / ~5,500 here): 1e-4 is ~1e-8 relative
    assert np.max(np.abs(grad)) < 1e-4


@pytest.mark.filterwarnings("ignore:Line search failed:sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("data_name", ["small_sim", "real"])
def test_lasso_map_equals_glum_and_beats_it_on_the_pymc_log_posterior(request, data_name):
    data = request.getfixturevalue(data_name)
    lags = 3 if data_name == "small_sim" else 5
    spec = bayesrf.load_prior("lasso", FLAT_INTERCEPT | {"prior": {"scale": 0.02}})
    design = make_design(data, lags)
    alpha = alpha_for(spec, design.n_obs)
    mapfit = bayesrf.fit_map(data, spec, lags=lags)
    ref = glum.GeneralizedLinearRegressor(family="poisson", alpha=alpha, l1_ratio=1.0, gradient_tol=1e-8, max_iter=1000)
    ref.fit(design.matrix(), design.counts, offset=design.offset)
    np.testing.assert_allclose(_theta(mapfit), np.r_[ref.intercept_, ref.coef_], atol=TOL, rtol=0)
    model = bayesrf.build_model(design, spec)
    ours = {"intercept": mapfit.posterior.intercept.values[0, 0], "rf": mapfit.posterior.rf.values[0, 0]}
    theirs = {"intercept": np.asarray(ref.intercept_), "rf": ref.coef_.reshape(ours["rf"].shape)}
    assert _model_logp(model, ours) >= _model_logp(model, theirs) - 1e-9


def test_hierarchical_ridge_map_is_the_type2_stationary_point(small_sim):
    """``ridge-hier``'s MAP is its scales' type-II MAP: a stationary point of the PyMC log density plus the diagonal
    Laplace evidence term ``-1/2 sum_(l,p) log(1 + rf_scale[l]^2 t_lp)``, with ``t = counts @ X^2`` written here from
    the dense lagged design. The model's own gradient vanishes in every variable but the log scales, where it is
    the evidence term's derivative, ``sum_p s_l^2 t_lp / (1 + s_l^2 t_lp)`` (analytic), with the sign reversed."""
    mapfit = bayesrf.fit_map(small_sim, "ridge-hier", lags=3)
    post = mapfit.posterior
    assert post.rf_scale.dims == ("chain", "draw", "lag") and (post.rf_scale > 0).all()
    assert mapfit.attrs["evidence_rounds"] == 1 and mapfit.attrs["converged"] == 1
    assert "type-II MAP" in mapfit.attrs["sampler"] and mapfit["estimates"]["map"].attrs["long_name"] == "type-II MAP"
    design = make_design(small_sim, 3)
    model = bayesrf.build_model(design, "ridge-hier")
    scale = post.rf_scale.values[0, 0]
    point = {"intercept": post.intercept.values[0, 0], "rf_z": post.rf_z.values[0, 0],
             "rf_scale_log__": np.log(scale), "baseline_level": post.baseline_level.values[0, 0]}
    gradients = model.compile_fn(pytensor.grad(model.logp(), model.value_vars), inputs=model.value_vars)(point)
    grads = dict(zip([v.name for v in model.value_vars], gradients, strict=True))
    t = (design.counts @ design.matrix() ** 2).reshape(3, -1)
    share = (scale[:, None] ** 2 * t / (1 + scale[:, None] ** 2 * t)).sum(axis=1)
    # L-BFGS stops at a projected gradient of 1e-6 in its scaled problem; PyMC's own gradient is ~1e-4 there,
    # against a log-posterior curvature of ~6,000 (the expected counts): ~1e-8 relative
    for name in ("intercept", "rf_z", "baseline_level"):
        assert np.max(np.abs(grads[name])) < 1e-3, name
    np.testing.assert_allclose(grads["rf_scale_log__"], share, rtol=0, atol=1e-3)
    assert np.all(share > 1e-2), "the evidence term pulls on every scale, so the check is not trivially met"


def test_hierarchical_lasso_map_is_glums_lasso_at_its_scales():
    """At the joint mode of ``lasso-hier`` (rf = rf_scale[lag] * rf_z, rf_z ~ Laplace(0, 1)), rf is the lasso with
    per-lag penalties 1 / rf_scale[lag], the spline baseline a ridge: glum's elastic net with those per-coefficient
    penalties, given the scales (no shared code). L-BFGS-B stalls on the kinks of |rf_z|: restarted
    (bayesrf.nuts.LBFGS_RESTARTS) it reaches glum's lasso to 1e-6 with a warm PyTensor cache, but with a cold one
    (other last bits from numba's fastmath) it stalled 2.2e-4 away (rf weights here ~1e-2), hence 5e-4. Measured
    against glum with wrong penalties: one mean scale for all lags is 1.9e-3 away, scales 10 % too large 5.5e-4."""
    data = bayesrf.simulate(n_frames=600, shape=(5, 5), lags=3, seed=3)
    spec = bayesrf.load_prior("lasso-hier", {"intercept": {"family": "flat"}})
    design = make_design(data, 3)
    mapfit = bayesrf.fit_map(data, spec, lags=3)
    scale = mapfit.posterior.rf_scale.values[0, 0]
    assert np.ptp(scale) > 0.1 * scale.mean(), "the lags' scales differ, so the per-lag penalties are tested"
    Z = design.spline_basis(spec.baseline_n_basis)
    l1 = np.r_[np.repeat(1.0 / scale, design.ny * design.nx), np.zeros(Z.shape[1])]
    l2 = np.r_[np.zeros(design.n_weights), np.full(Z.shape[1], spec.baseline_scale**-2)]
    # glum: alpha (l1_ratio P1 |w| + (1 - l1_ratio) / 2 w' P2 w) per observation; alpha = 2 / n, l1_ratio = 1/2
    ref = glum.GeneralizedLinearRegressor(family="poisson", alpha=2.0 / design.n_obs, l1_ratio=0.5, P1=l1, P2=l2,
                                          gradient_tol=1e-10, max_iter=1000)
    ref.fit(np.hstack([design.matrix(), Z]), design.counts, offset=design.offset)
    np.testing.assert_allclose(_theta(mapfit), np.r_[ref.intercept_, ref.coef_[: design.n_weights]], atol=5e-4, rtol=0)


@pytest.mark.parametrize("prior, iterations", [("lasso-hier", 3), ("ridge-hier", 6)])  # type-II: round + last run
def test_hierarchical_map_warns_when_lbfgs_stops_early(small_sim, monkeypatch, prior, iterations):
    from scipy.optimize import minimize

    def three_iterations(*args, **kwargs):
        return minimize(*args, **kwargs | {"options": kwargs["options"] | {"maxiter": 3}})

    monkeypatch.setattr("bayesrf.nuts.minimize", three_iterations)
    with pytest.warns(bayesrf.BayesRFWarning, match=f"stopped before converging after {iterations} iterations"):
        mapfit = bayesrf.fit_map(small_sim, prior, lags=3)
    assert mapfit.attrs["converged"] == 0


def test_map_result_is_a_one_draw_posterior(small_sim):
    tree = bayesrf.fit_map(small_sim, "lasso", lags=3)
    assert tree.posterior.rf.dims == ("chain", "draw", "lag", "y", "x")
    assert tree.posterior.sizes["chain"] == 1 and tree.posterior.sizes["draw"] == 1
    assert {"observed_data", "constant_data"} <= set(tree.children)
    assert bayesrf.PriorSpec.from_json(tree.attrs["bayesrf_spec"]) == bayesrf.load_prior("lasso")


def test_flat_joint_on_real_neuron_is_refused(real):
    with pytest.raises(bayesrf.FitError, match="improper posterior"):
        bayesrf.fit_map(real, bayesrf.load_prior("flat"), lags=5)


@pytest.mark.parametrize(("data_name", "matrix_free"), [("small_sim", False), ("small_sim", True), ("real", False),
                                                       ("real", True)])
def test_spline_baseline_map_equals_glum_with_per_coefficient_penalties(request, monkeypatch, data_name, matrix_free):
    """Independent check: glum's ridge with a P2 vector (1/sigma^2 on weights, 1/tau^2 on the spline), for the
    dense Newton solver and the matrix-free one (:class:`bayesrf.ml.DesignOperator`, CG Newton steps)."""
    data = request.getfixturevalue(data_name)
    lags = 3 if data_name == "small_sim" else 5
    monkeypatch.setattr("bayesrf.ml.MATRIX_FREE_WEIGHTS", 0 if matrix_free else 10**9)
    spec = bayesrf.load_prior("ridge", {"intercept": {"family": "flat"}, "prior": {"scale": 0.05}})
    mapfit = bayesrf.fit_map(data, spec, lags=lags)
    assert mapfit.attrs["sampler"] == ("newton-cg" if matrix_free else "newton-cholesky")
    design = make_design(data, lags)
    Z = design.spline_basis(spec.baseline_n_basis)
    n = design.n_obs
    P2 = np.r_[np.full(design.n_weights, spec.scale**-2), np.full(Z.shape[1], spec.baseline_scale**-2)] / n
    ref = glum.GeneralizedLinearRegressor(family="poisson", alpha=1.0, l1_ratio=0.0, P2=P2, gradient_tol=1e-10,
                                          max_iter=1000)
    ref.fit(np.hstack([design.matrix(), Z]), design.counts, offset=design.offset)
    np.testing.assert_allclose(_theta(mapfit), np.r_[ref.intercept_, ref.coef_[: design.n_weights]], atol=TOL)
    np.testing.assert_allclose(mapfit.posterior.baseline_coef.values.ravel(), ref.coef_[design.n_weights :], atol=TOL)


def test_spline_basis_is_centred_and_spans_smooth_drifts(small_sim):
    design = make_design(small_sim, 3)
    Z = design.spline_basis(8)
    assert Z.shape == (design.n_obs, 7)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=5e-3)  # centred over the session's time grid
    keep = np.arange(small_sim.sizes["time"]) % 3 == 0  # a subset of intervals gets the same basis rows
    part = make_design(small_sim, 3, keep=keep)
    np.testing.assert_array_equal(part.spline_basis(8), Z[np.isin(design.time, part.time)])
    t = (design.time - design.time.min()) / np.ptp(design.time)
    for drift in (t - t.mean(), np.sin(2 * np.pi * t) - np.sin(2 * np.pi * t).mean()):
        coef, *_ = np.linalg.lstsq(Z, drift, rcond=None)
        assert np.max(np.abs(Z @ coef - drift)) < 0.02


def test_spline_baseline_recovers_a_simulated_drift():
    rec = bayesrf.simulate(n_frames=4000, shape=(5, 5), lags=2, spatial="gabor", rate=20.0, drift=-0.8, seed=4)
    tree = bayesrf.fit_map(rec, bayesrf.load_prior("ridge", ["prior.scale=0.2"]), lags=2)
    design = make_design(rec, 2)
    fitted = design.spline_basis(8) @ tree.posterior.baseline_coef.values.ravel()
    truth = rec.baseline_true.values[1:]
    assert np.max(np.abs(fitted - (truth - truth.mean()))) < 0.1
    assert tree.posterior.intercept.item() == pytest.approx(np.log(20.0), abs=0.05)


def test_stored_estimates_match_glum_and_plots_never_refit(small_sim, tmp_path, monkeypatch):
    """The fit stores the per-lag ML and the MAP (checked against glum's unpenalised Poisson GLM of each lag
    alone and against the fit itself), and the figures are drawn from them without fitting anything."""
    import warnings

    import bayesrf.posterior
    from bayesrf.plots import write_figures

    tree = bayesrf.sample(small_sim, "ridge", lags=3, method="laplace", draws=40, chains=2)
    design = make_design(small_sim, 3)
    estimates = tree["estimates"].to_dataset()
    for lag in range(3):
        glm = glum.GeneralizedLinearRegressor(family="poisson", alpha=0, gradient_tol=1e-10)
        glm.fit(design.lagged[:, lag, :], design.counts, offset=design.offset)
        np.testing.assert_allclose(estimates["ml_per_lag"].isel(lag=lag).values.ravel(), glm.coef_, atol=1e-4)
    map_rf = bayesrf.fit_map(small_sim, "ridge", lags=3, estimates=False)["posterior"]["rf"].values[0, 0]
    np.testing.assert_allclose(estimates["map"].values, map_rf, atol=1e-10)
    assert estimates["map"].attrs["long_name"] == "MAP"  # a fixed-scale prior's mode is the MAP (the figure's label)

    def refit(*args, **kwargs):
        raise AssertionError("write_figures refitted the point estimates")

    monkeypatch.setattr(bayesrf.posterior, "point_estimates", refit)
    assert (tmp_path / "a" / "compare.png") in write_figures(tree, tmp_path / "a")
    lean = bayesrf.sample(small_sim, "ridge", lags=3, method="laplace", draws=40, chains=2, estimates=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = write_figures(lean, tmp_path / "b")
    assert not (tmp_path / "b" / "compare.png").exists() and paths
    assert any("no 'estimates' group" in str(w.message) for w in caught)


def test_a_map_stored_without_estimates_compares_its_own_mode(small_sim):
    """``compare_estimates`` of a ``fit_map`` result fitted with ``estimates=False`` gives what ``estimates=True``
    would have stored: the fit's own mode and label (a per-lag fit's per-lag MAP, not a joint one; ``ridge-hier``'s
    type-II MAP, not the penalised GLM at its scales under a sampled fit's label)."""
    for prior, per_lag in (("ridge-hier", False), (bayesrf.load_prior("ridge", FLAT_INTERCEPT), True)):
        lean = bayesrf.fit_map(small_sim, prior, lags=3, per_lag=per_lag, estimates=False)
        stored = bayesrf.fit_map(small_sim, prior, lags=3, per_lag=per_lag)["estimates"].to_dataset()
        computed = bayesrf.compare_estimates(lean)
        np.testing.assert_array_equal(computed["map"].values, lean["posterior"]["rf"].values[0, 0])
        np.testing.assert_allclose(computed["map"].values, stored["map"].values, rtol=0, atol=1e-5)
        np.testing.assert_allclose(computed["ml_per_lag"].values, stored["ml_per_lag"].values, rtol=0, atol=1e-12)
        assert computed["map"].attrs["long_name"] == stored["map"].attrs["long_name"]


def _smooth_neuron(seed: int, shape: tuple[int, int, int] = (3, 10, 8)) -> tuple:
    """Reference simulation in numpy alone (not bayesrf.simulate): a Gaussian blob times a biphasic time course,
    +/-1 frames, Poisson counts with lag 0 the frame on screen, as many frames as weights. Returns the recording
    (bayesrf.from_counts; the first lags - 1 intervals, without a full window, are dropped by the fit) and the RF."""
    rng = np.random.default_rng(seed)
    lags, ny, nx = shape
    y, x = np.mgrid[:ny, :nx]
    space = np.exp(-((y - 4.5) ** 2 + (x - 3.0) ** 2) / (2 * 1.8**2))
    rf = np.array([0.4, 1.0, -0.5])[:lags, None, None] * space / np.linalg.norm(space)
    n = rf.size + lags - 1
    frames = rng.choice([-1.0, 1.0], (n, ny, nx))
    drive = sum(np.einsum("tyx,yx->t", frames[lags - 1 - lag : n - lag], rf[lag]) for lag in range(lags))
    dt, rate = 0.05, 30.0
    counts = np.r_[np.zeros(lags - 1, int), rng.poisson(rate * dt * np.exp(drive))]
    return bayesrf.from_counts(frames, counts, dt, source="test_map reference simulation"), rf


@pytest.mark.slow
def test_structured_map_is_the_type2_mode_and_recovers_an_independent_truth():
    """With as many frames as weights, the joint mode of a structured prior overfits (its amplitude grows, its length
    scales shrink); the type-II MAP is close to a truth simulated in numpy alone, closer than that joint mode, and beats
    glum's ridge Poisson GLM at the shipped ridge prior's penalty by far."""
    from bayesrf.nuts import hierarchical_start, map_pymc, model_values

    data, truth = _smooth_neuron(3)
    design = make_design(data, 3)
    ref = glum.GeneralizedLinearRegressor(family="poisson", alpha=alpha_for(bayesrf.load_prior("ridge"), design.n_obs),
                                          l1_ratio=0.0, gradient_tol=1e-8)
    ref.fit(design.matrix(), design.counts, offset=design.offset)

    def error(rf: np.ndarray) -> float:
        return 1 - np.corrcoef(np.ravel(rf), truth.ravel())[0, 1]

    for prior in ("smooth", "rank1"):
        tree = bayesrf.fit_map(data, prior, lags=3, estimates=False)
        model = bayesrf.build_model(design, prior)
        joint = model_values(model, map_pymc(model, hierarchical_start(model, design, bayesrf.load_prior(prior)))[0])
        errors = {"type-II": error(tree["posterior"]["rf"]), "joint": error(joint["rf"]), "ridge": error(ref.coef_)}
        assert errors["type-II"] < min(0.1, 0.3 * errors["ridge"], errors["joint"]), (prior, errors)
        assert tree.attrs["evidence_rounds"] >= 2 and tree.attrs["converged"] == 1


def test_type2_map_warns_when_its_rounds_do_not_settle(small_sim, monkeypatch):
    """Each round holds the information at the last mode; when the RF still moves after the last round, say so."""
    from bayesrf import inference

    monkeypatch.setattr(inference, "EVIDENCE_ROUNDS", 2)
    monkeypatch.setattr(inference, "EVIDENCE_TOL", 0.0)
    with pytest.warns(bayesrf.BayesRFWarning, match="had not settled after 2 rounds"):
        tree = bayesrf.fit_map(small_sim, "smooth", lags=2, estimates=False)
    assert tree.attrs["evidence_rounds"] == 2


def test_type2_map_rounds_stopped_early_end_at_the_converged_rounds_mode(small_sim, monkeypatch):
    """The evidence rounds stop L-BFGS early (their modes only set the next information) and a converged run ends
    them: the RF and hyperparameters are those of rounds each run to convergence (within 1e-3 of each one's norm),
    and the result says it converged."""
    from bayesrf import inference
    from bayesrf.nuts import LBFGS_FTOL, LBFGS_RESTART_GAIN

    fast = bayesrf.fit_map(small_sim, "local", lags=2, estimates=False)
    monkeypatch.setattr(inference, "EVIDENCE_ROUND_STOP", (LBFGS_FTOL, LBFGS_RESTART_GAIN))
    full = bayesrf.fit_map(small_sim, "local", lags=2, estimates=False)
    for name in ("rf", "rf_amplitude", "rf_length", "rf_center", "rf_width"):
        got, want = fast["posterior"][name].values, full["posterior"][name].values
        assert np.linalg.norm(got - want) <= 1e-3 * np.linalg.norm(want), name
    assert fast.attrs["converged"] == 1


def test_type2_map_preconditioned_ends_at_the_unpreconditioned_mode(small_sim, monkeypatch):
    """After the first round L-BFGS runs on ``rf_z`` in units of its diagonal-Laplace posterior SD
    (:func:`bayesrf.structured.mode_scale`) and on the other variables in units of their curvature, a change of units
    that leaves the mode where it is: the RF and hyperparameters are those of the runs without it (within 1e-3 of
    each one's norm). ``rf_z`` alone in those units failed this (``rf_length`` 1.4e-3 apart)."""
    from bayesrf import families

    scaled = bayesrf.fit_map(small_sim, "local", lags=2, estimates=False)
    monkeypatch.setattr(families.GP, "mode_scale", lambda self, spec, values, information: None)
    plain = bayesrf.fit_map(small_sim, "local", lags=2, estimates=False)
    for name in ("rf", "rf_amplitude", "rf_length", "rf_center", "rf_width"):
        got, want = scaled["posterior"][name].values, plain["posterior"][name].values
        assert np.linalg.norm(got - want) <= 1e-3 * np.linalg.norm(want), name
    assert scaled.attrs["converged"] == 1 and scaled.attrs["n_iter"] != plain.attrs["n_iter"]


def test_map_pymc_in_units_of_the_posterior_sd_finds_the_analytic_mode_in_fewer_iterations():
    """Independent normals with SDs from 1e-3 to 1e2: the mode is their means, and the curvature of the negative log
    density is 1 / SD^2 (curvature_scale gives the SDs back). Measured in units of their SDs the problem is isotropic
    and L-BFGS needs fewer iterations than in the raw units, where it is ill-conditioned."""
    import pymc as pm

    from bayesrf.nuts import curvature_scale, log_density_gradient, map_pymc

    mean, sd = np.linspace(-2.0, 3.0, 12), np.logspace(-3, 2, 12)
    with pm.Model() as model:
        pm.Normal("w", mean, sd)
        pm.Normal("v", 0.0, 2.0)
    start = {"w": np.zeros(12), "v": np.array(0.5)}
    curvature = curvature_scale(model, log_density_gradient(model), start, skip=["v"])
    assert list(curvature) == ["w"]
    np.testing.assert_allclose(curvature["w"], sd, rtol=1e-4)
    scaled, scaled_res = map_pymc(model, start, scale={"w": sd})
    plain, plain_res = map_pymc(model, start)
    for point in (scaled, plain):
        np.testing.assert_allclose(point["w"], mean, atol=1e-6 * sd.max(), rtol=0)
    np.testing.assert_allclose((scaled["w"] - mean) / sd, 0.0, atol=1e-6)
    assert scaled_res.nit < plain_res.nit, (scaled_res.nit, plain_res.nit)
