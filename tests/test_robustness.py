"""Robustness: property-based tests (hypothesis) of the likelihood, the design and the loaders,
degenerate data, and reproducibility of saved results."""

import shutil
import warnings

import numpy as np
import pytest
import scipy.io
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import approx_fprime

import bayesrf
from bayesrf.recording_io import BUNDLED_RECORDING, MAT_VARIABLES
from bayesrf.design import make_design
from bayesrf.errors import DataError, FitError
from bayesrf.likelihood import MAX_ETA, poisson_grad, poisson_nll

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
finite = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)


@st.composite
def glm_problems(draw, max_scale: float = 3.0):
    n, p = draw(st.integers(1, 25)), draw(st.integers(1, 5))
    A = draw(arrays(np.float64, (n, p), elements=finite))
    theta = draw(arrays(np.float64, (p,), elements=st.floats(-max_scale, max_scale)))
    offset = draw(arrays(np.float64, (n,), elements=st.floats(-5.0, 1.0)))
    counts = draw(arrays(np.int64, (n,), elements=st.integers(0, 2000)))
    return theta, A, counts, offset


@FAST
@given(glm_problems())
def test_nll_and_gradient_are_finite_and_match_finite_differences(problem):
    theta, A, counts, offset = problem
    value, grad = poisson_nll(theta, A, counts, offset), poisson_grad(theta, A, counts, offset)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    fd = approx_fprime(theta, poisson_nll, 1e-6, A, counts, offset)
    scale = 1.0 + np.abs(grad).max() + np.abs(counts).sum() * 1e-6
    assert np.max(np.abs(fd - grad)) < 1e-3 * scale


@FAST
@given(glm_problems(max_scale=500.0))
def test_any_finite_input_gives_a_finite_nll_or_a_clear_error(problem):
    theta, A, counts, offset = problem
    try:
        value = poisson_nll(theta, A, counts, offset)
    except FitError as err:
        assert "overflow" in str(err) and (A @ theta + offset).max() > MAX_ETA
    else:
        assert np.isfinite(value)


@pytest.mark.parametrize("bad, match", [
    ({"counts": np.array([1, -1, 0])}, "counts must be finite and >= 0"),
    ({"theta": np.array([np.nan, 0.0])}, "theta contains NaN"),
    ({"A": np.ones((3, 3))}, "need A"),
    ({"offset": np.zeros(2)}, "need A"),
])
def test_likelihood_names_bad_input(bad, match):
    args = {"theta": np.zeros(2), "A": np.ones((3, 2)), "counts": np.array([1, 2, 0]), "offset": np.zeros(3)} | bad
    with pytest.raises(DataError, match=match):
        poisson_nll(**args)


@FAST
@given(st.integers(1, 12), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_design_matches_a_naive_lag_loop(n_time, ny, nx, lags, seed):
    """The lagged design against an explicit loop over intervals and lags, or a DataError that says why."""
    rng = np.random.default_rng(seed)
    rec = bayesrf.from_counts(rng.choice([-1.0, 1.0], size=(n_time, ny, nx)), rng.poisson(2.0, n_time), np.full(n_time, 0.1))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bayesrf.BayesRFWarning)  # tiny grids may have constant pixels
            design = make_design(rec, lags)
    except DataError as err:
        assert n_time < lags + 1 and "lags" in str(err)
        return
    frames = rec["stim"].values.reshape(n_time, -1)
    naive = np.array([np.concatenate([frames[t - lag] for lag in range(lags)]) for t in range(lags - 1, n_time)])
    np.testing.assert_array_equal(design.matrix(), naive)
    np.testing.assert_array_equal(design.counts, rec["counts"].values[lags - 1 :])


ORIGINAL = BUNDLED_RECORDING.read_bytes()


def _load_or_error(path):
    """Load a (corrupted) file: a DataError, or a valid recording whose checksum shows it is not the original."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bayesrf.BayesRFWarning)
            rec = bayesrf.load_recording(path)
    except DataError:
        return None
    bayesrf.validate_recording(rec)
    assert rec.attrs["sha256"] != bayesrf.load_recording().attrs["sha256"]
    return rec


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, len(ORIGINAL) - 1))
def test_truncated_file_is_a_data_error(tmp_path, cut):
    path = tmp_path / "cut.mat"
    path.write_bytes(ORIGINAL[:cut])
    with pytest.raises(DataError):
        bayesrf.load_recording(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, len(ORIGINAL) - 1), st.integers(1, 255)), min_size=1, max_size=8,
                unique_by=lambda flip: flip[0]))
def test_flipped_bytes_give_an_error_or_a_recording_marked_as_different(tmp_path, flips):
    data = bytearray(ORIGINAL)
    for position, mask in flips:
        data[position] ^= mask
    path = tmp_path / "flipped.mat"
    path.write_bytes(bytes(data))
    _load_or_error(path)  # never another exception type, never a silent copy of the original


def test_corrupted_bundled_copy_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "nda_ex_6_data.mat"
    data = bytearray(ORIGINAL)
    data[-100] ^= 1
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(bayesrf.recording_io, "BUNDLED_RECORDING", copy)
    with pytest.raises(DataError, match="corrupted"):
        bayesrf.recording_io.load_recording()


def _mat_with(tmp_path, **changes):
    mat = {k: v for k, v in scipy.io.loadmat(BUNDLED_RECORDING).items() if k in MAT_VARIABLES}
    for key, value in changes.items():
        if value is None:
            del mat[key]
        else:
            mat[key] = value
    path = tmp_path / "changed.mat"
    scipy.io.savemat(path, mat)
    return path


@pytest.mark.parametrize("changes, match", [
    ({"DN_stim": None}, "lacks the variable"),
    ({"DN_triggertimes": None, "DN_spiketimes": None}, "DN_spiketimes, DN_triggertimes"),
    ({"DN_stim": np.full((20, 15, 1500), "a")}, "real numbers"),
    ({"DN_stim": np.ones((20, 15))}, "3-D"),
    ({"DN_triggertimes": np.array([[0.0], [0.2], [0.1]])}, "sorted|increasing|duration"),
    ({"DN_spiketimes": np.array([[np.nan], [1.0]])}, "NaN"),
])
def test_wrong_or_missing_variables_name_the_problem(tmp_path, changes, match):
    with pytest.raises(DataError, match=match):
        bayesrf.load_recording(_mat_with(tmp_path, **changes))


def test_almost_binary_frames_are_refused(tmp_path):
    stim = scipy.io.loadmat(BUNDLED_RECORDING)["DN_stim"].copy()
    stim[3, 4, 10] = 129  # one flipped bit in a 0/1 frame
    with pytest.raises(DataError, match=r"binary 0/1 except for 1 pixel value.*frame 10, y 3, x 4"):
        bayesrf.load_recording(_mat_with(tmp_path, DN_stim=stim))


def test_extra_variables_are_reported_not_silently_dropped(tmp_path):
    path = _mat_with(tmp_path, notes=np.array([[1.0]]))
    with pytest.warns(bayesrf.BayesRFWarning, match="ignoring variable.*notes"):
        rec = bayesrf.load_recording(path)
    assert rec.attrs["ignored_variables"] == "notes"


@pytest.fixture(scope="module")
def small():
    return bayesrf.simulate(n_frames=300, shape=(4, 4), lags=2, rate=20.0, seed=2)


def test_all_zero_counts_is_a_clear_error(small):
    zero = small.assign(counts=xr.zeros_like(small["counts"]))
    for fit in (lambda: bayesrf.fit_ml(zero, lags=2), lambda: bayesrf.fit_map(zero, "ridge", lags=2),
                lambda: bayesrf.sample(zero, "ridge", lags=2, draws=10, tune=10, chains=1)):
        with pytest.raises(FitError, match="all spike counts are zero"):
            fit()


def test_constant_stimulus_warns_and_ml_refuses(small):
    flat = small.assign(stim=xr.ones_like(small["stim"]))
    with pytest.warns(bayesrf.BayesRFWarning, match="16 of 16 pixels never change"):
        with pytest.raises(FitError, match="not identifiable"):
            bayesrf.fit_ml(flat, lags=1)


def test_one_frame_per_lag_is_refused_and_two_need_a_prior(small):
    with pytest.raises(DataError, match="cannot support 2 lags"):
        make_design(small.isel(time=slice(0, 2)), 2)
    few = small.isel(time=slice(0, 3))  # 3 frames: some pixels never change, and ML has 2 intervals for 33 parameters
    with pytest.warns(bayesrf.BayesRFWarning, match="never change"):
        with pytest.raises(FitError, match="at least as many intervals as parameters"):
            bayesrf.fit_ml(few, lags=2)
    with pytest.warns(bayesrf.BayesRFWarning, match="never change"):
        assert np.isfinite(bayesrf.fit_map(few, "ridge", lags=2).posterior.rf).all()


def test_huge_counts_fit_without_overflow():
    rec = bayesrf.simulate(n_frames=400, shape=(3, 3), lags=1, rate=2e6, rf_norm=0.5, seed=3)
    assert rec["counts"].min() > 1e4
    ml = bayesrf.fit_ml(rec, lags=1)
    np.testing.assert_allclose(ml["rf"].values, rec["rf_true"].values, atol=0.01)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:sampling diagnostics failed:bayesrf.BayesRFWarning")  # short chains on purpose
def test_same_seed_gives_identical_saved_content(tmp_path):
    """Reproducibility: two fits with one seed save the same content; save -> load -> save is stable."""
    rec = bayesrf.simulate(n_frames=300, shape=(3, 3), lags=2, seed=4)
    paths = []
    for i in range(2):
        tree = bayesrf.sample(rec, "ridge", lags=2, draws=50, tune=50, chains=2, seed=9)
        paths.append(bayesrf.save(tree, tmp_path / f"fit{i}.nc"))
    first, second = (bayesrf.load(p) for p in paths)
    _assert_same_content(first, second)
    again = bayesrf.save(first, tmp_path / "again.nc")
    _assert_same_content(first, bayesrf.load(again))
    shutil.rmtree(tmp_path)


VOLATILE = {"created_at", "wall_time_s", "sampling_time"}  # timestamps and timings (and bayesrf's time_* attrs)


def _stable(attrs: dict) -> dict:
    return {k: v for k, v in attrs.items() if k not in VOLATILE and not k.startswith("time_")}


def _assert_same_content(a: xr.DataTree, b: xr.DataTree) -> None:
    assert _stable(a.attrs) == _stable(b.attrs)
    assert set(a.children) == set(b.children)
    for name in a.children:
        da, db = a[name].to_dataset(), b[name].to_dataset()
        for ds in (da, db):
            ds.attrs = _stable(ds.attrs)
        ignore = [v for v in da.data_vars if v in VOLATILE or "time" in v and name == "sample_stats"]
        xr.testing.assert_identical(da.drop_vars(ignore), db.drop_vars(ignore))
