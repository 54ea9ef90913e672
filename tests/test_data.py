"""Loading the real recording, building recordings from arrays, and every bad input."""

import hashlib

import numpy as np
import pytest
import scipy.io
import xarray as xr

import bayesrf
from bayesrf.data import recording_from_arrays
from bayesrf.recording_io import BUNDLED_RECORDING, MAT_VARIABLES

SHA256 = "b10c3f9191d0d29f51f1f907ae673fda140c57d3ebb2e7ace0f6279accb285a9"


def test_bundled_file_is_the_documented_one():
    assert hashlib.sha256(BUNDLED_RECORDING.read_bytes()).hexdigest() == SHA256


def test_real_recording_layout_and_documented_facts(real):
    assert dict(real.sizes) == {"time": 1488, "y": 20, "x": 15}
    assert real.stim.dims == ("time", "y", "x") and real.stim.dtype == np.float64
    assert set(np.unique(real.stim.values)) == {-1.0, 1.0}
    assert real.counts.dtype == np.int64 and real.counts.dims == ("time",)
    assert int(real.counts.sum()) == 5493 and int(real.counts.max()) == 9
    assert real.duration.min() == pytest.approx(0.166, abs=1e-3)
    assert real.duration.max() == pytest.approx(0.266, abs=1e-3)
    assert real.attrs["sha256"] == SHA256
    assert real.attrs["n_spikes_after_last_trigger"] == 7
    assert real.attrs["n_spikes_before_first_trigger"] == 0
    assert real.attrs["n_frames_unshown"] == 12
    # nothing lost silently: kept + dropped = all spikes in the file
    dropped = real.attrs["n_spikes_after_last_trigger"] + real.attrs["n_spikes_before_first_trigger"]
    assert int(real.counts.sum()) + dropped == real.attrs["n_spikes_total"] == 5500


def test_frames_are_not_scrambled(real):
    """Frame k of the recording is DN_stim[:, :, k] (y rows, x columns), centred."""
    mat = scipy.io.loadmat(BUNDLED_RECORDING)
    for k in (0, 1, 700, 1487):
        np.testing.assert_array_equal(real.stim.values[k], 2.0 * mat["DN_stim"][:, :, k] - 1.0)
    # balanced design documented in data/README.md: +1 in 751 of 1500 stored frames
    assert np.all((mat["DN_stim"] == 1).sum(axis=2) == 751)


def test_counts_match_direct_binning(real):
    mat = scipy.io.loadmat(BUNDLED_RECORDING)
    spikes, triggers = mat["DN_spiketimes"].ravel(), mat["DN_triggertimes"].ravel()
    k = 100
    expected = np.sum((spikes >= triggers[k]) & (spikes < triggers[k + 1]))
    assert real.counts.values[k] == expected
    np.testing.assert_allclose(real.duration.values, np.diff(triggers))


def test_netcdf_round_trip(real, tmp_path):
    path = bayesrf.save_recording(real, tmp_path / "rec.nc")
    back = bayesrf.load_recording(path)
    xr.testing.assert_equal(back[["stim", "counts", "duration"]], real[["stim", "counts", "duration"]])
    assert back.counts.dtype == np.int64
    assert back.attrs["n_spikes_after_last_trigger"] == 7
    assert back.attrs["origin_sha256"] == SHA256


def test_simulated_recording_round_trips_with_truth(small_sim, tmp_path):
    back = bayesrf.load_recording(bayesrf.save_recording(small_sim, tmp_path / "sim.nc"))
    np.testing.assert_array_equal(back.rf_true.values, small_sim.rf_true.values)


def test_from_arrays_bins_and_counts_dropped():
    spikes = [-0.5, 0.01, 0.02, 0.15, 0.29, 0.31, 0.9]
    rec = bayesrf.from_arrays(spikes, [0.0, 0.1, 0.2, 0.3], np.zeros((5, 2, 3)))
    assert rec.counts.values.tolist() == [2, 1, 1]
    assert rec.attrs["n_spikes_before_first_trigger"] == 1
    assert rec.attrs["n_spikes_after_last_trigger"] == 2
    assert rec.attrs["n_frames_unshown"] == 2
    np.testing.assert_allclose(rec.duration.values, [0.1, 0.1, 0.1])


def test_from_arrays_frame_axis_last_matches_first(rng):
    frames = rng.integers(0, 2, size=(4, 3, 6))  # (y, x, frames)
    a = bayesrf.from_arrays([0.5], np.arange(7.0), frames, frame_axis=2)
    b = bayesrf.from_arrays([0.5], np.arange(7.0), np.moveaxis(frames, 2, 0))
    xr.testing.assert_identical(a, b)


# ---------------------------------------------------------------- bad input
def _save_mat(path, **overrides):
    mat = scipy.io.loadmat(BUNDLED_RECORDING, variable_names=MAT_VARIABLES)
    content = {k: mat[k] for k in MAT_VARIABLES}
    content.update(overrides)
    content = {k: v for k, v in content.items() if v is not None}
    scipy.io.savemat(path, content)
    return path


def test_missing_variable_is_named(tmp_path):
    path = _save_mat(tmp_path / "m.mat", DN_triggertimes=None)
    with pytest.raises(bayesrf.DataError, match="DN_triggertimes"):
        bayesrf.load_recording(path)


def test_truncated_mat_file(tmp_path):
    path = tmp_path / "t.mat"
    path.write_bytes(BUNDLED_RECORDING.read_bytes()[:5000])
    with pytest.raises(bayesrf.DataError, match="truncated"):
        bayesrf.load_recording(path)


def test_not_a_mat_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("spike times: 0.1 0.2\n")
    with pytest.raises(bayesrf.DataError, match="neither a MATLAB"):
        bayesrf.load_recording(path)
    with pytest.raises(bayesrf.DataError, match="no recording file"):
        bayesrf.load_recording(tmp_path / "absent.mat")


def test_netcdf_missing_variable(real, tmp_path):
    path = tmp_path / "bad.nc"
    real.drop_vars("counts").to_netcdf(path, engine="h5netcdf")
    with pytest.raises(bayesrf.DataError, match="missing variable 'counts'"):
        bayesrf.load_recording(path)


def test_wrong_stim_shape_in_file(tmp_path):
    path = _save_mat(tmp_path / "s.mat", DN_stim=np.zeros((300, 1500), dtype=np.uint8))
    with pytest.raises(bayesrf.DataError, match="3-D"):
        bayesrf.load_recording(path)


def test_fewer_frames_than_intervals():
    with pytest.raises(bayesrf.DataError, match="fewer frames \\(2\\) than trigger intervals \\(3\\)"):
        bayesrf.from_arrays([0.1], [0.0, 0.1, 0.2, 0.3], np.zeros((2, 2, 2)))


@pytest.mark.parametrize(
    ("spikes", "triggers", "message"),
    [
        ([0.1, np.nan], [0.0, 0.1, 0.2], "spike_times contains 1 NaN/inf"),
        ([0.1], [0.0, np.inf, 0.2], "trigger_times contains 1 NaN/inf"),
        ([0.1], [0.0, 0.2, 0.1], "unsorted"),
        ([0.1], [0.0, 0.1, 0.1], "duplicate"),
        ([0.15, 0.1], [0.0, 0.1, 0.2], "spike_times must be sorted"),
        ([0.1], [0.0], "at least 2 trigger"),
        ([[0.1, 0.2], [0.3, 0.4]], [0.0, 0.1, 0.2], "1-D array"),
    ],
)
def test_bad_times(spikes, triggers, message):
    with pytest.raises(bayesrf.DataError, match=message):
        bayesrf.from_arrays(spikes, triggers, np.zeros((3, 2, 2)))


def test_nan_frames():
    frames = np.zeros((2, 2, 2))
    frames[1, 0, 1] = np.nan
    with pytest.raises(bayesrf.DataError, match="NaN"):
        bayesrf.from_arrays([0.1], [0.0, 0.1, 0.2], frames)


@pytest.mark.parametrize(
    ("counts", "duration", "message"),
    [
        ([1, -1, 0], 0.1, "counts must be >= 0"),
        ([1, 0.5, 0], 0.1, "whole numbers"),
        ([1, np.nan, 0], 0.1, "NaN or inf"),
        ([1, 0, 0], [0.1, 0.0, 0.1], "durations must be finite and > 0"),
        ([1, 0, 0], [0.1, -0.1, 0.1], "durations must be finite and > 0"),
        ([1, 0], 0.1, "counts must have shape \\(3,\\)"),
    ],
)
def test_bad_binned_arrays(counts, duration, message):
    with pytest.raises(bayesrf.DataError, match=message):
        bayesrf.from_counts(np.zeros((3, 2, 2)), counts, duration)


def test_validate_reports_wrong_dims(real):
    bad = real.rename({"y": "row"})
    with pytest.raises(bayesrf.DataError, match="stim has dims"):
        bayesrf.validate_recording(bad)


@pytest.mark.parametrize(("call", "kind"), [
    (lambda rec: bayesrf.validate_recording(rec.drop_vars("counts")), bayesrf.DataError),
    (lambda rec: bayesrf.fit_map(rec, "ridg", lags=2), bayesrf.SpecError),
    (lambda rec: bayesrf.fit_map(rec, "flat", lags=5), bayesrf.FitError),  # improper: 1,488 intervals, 1,501 weights
])
def test_each_kind_of_bad_input_is_caught_as_a_bayesrf_error(real, call, kind):
    """What callers (and the CLI's one-line errors) rely on: catching BayesRFError catches every kind."""
    with pytest.raises(bayesrf.BayesRFError) as info:
        call(real)
    assert type(info.value) is kind


def test_dropped_spikes_and_frames_warn_with_their_counts():
    frames = np.ones((5, 2, 2))  # 3 intervals from 4 triggers: 2 frames are never shown for a whole interval
    with pytest.warns(bayesrf.BayesRFWarning, match="dropped 1 spike.* before the first trigger and 2 after"), \
            pytest.warns(bayesrf.BayesRFWarning, match="dropped 2 stored frame"):
        rec = recording_from_arrays([-0.5, 0.05, 0.3, 0.9], [0.0, 0.1, 0.2, 0.3], frames)
    assert rec.attrs["n_spikes_before_first_trigger"] == 1 and rec.attrs["n_spikes_after_last_trigger"] == 2
    assert rec.attrs["n_frames_unshown"] == 2 and int(rec["counts"].sum()) == 1


@pytest.mark.parametrize("kind", ["pm1", "ternary", "gaussian"])
def test_frames_in_contrast_units_are_kept(rng, kind):
    shape = (400, 3, 3)
    frames = {"pm1": rng.choice([-1.0, 1.0], shape), "ternary": rng.choice([-1.0, 0.0, 1.0], shape, p=[0.1, 0.8, 0.1]),
              "gaussian": rng.standard_normal(shape)}[kind]
    rec = bayesrf.from_counts(frames, rng.poisson(1.0, shape[0]), 0.05)  # filterwarnings=error: no warning
    np.testing.assert_array_equal(rec["stim"].values, frames)


@pytest.mark.parametrize("offset, scale", [(127.5, 60.0), (0.0, 0.3), (2.0, 1.0)])
def test_other_frames_are_standardised_with_a_warning(rng, offset, scale):
    frames = offset + scale * rng.standard_normal((400, 3, 3))
    with pytest.warns(bayesrf.BayesRFWarning, match="standardised"):
        rec = bayesrf.from_counts(frames, rng.poisson(1.0, 400), 0.05)
    np.testing.assert_allclose(rec["stim"].values, (frames - frames.mean()) / frames.std())
    assert rec.attrs["stim_encoding"].startswith("standardised")


def test_constant_frames_are_refused(rng):
    with pytest.raises(bayesrf.DataError, match="constant stimulus"):
        bayesrf.from_counts(np.full((50, 2, 2), 3.0), rng.poisson(1.0, 50), 0.05)
