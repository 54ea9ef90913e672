"""Population recordings: NWB files written here with pynwb (not bayesrf's writer), arrays, .npz, simulation."""

import datetime as dt

import h5py
import numpy as np
import pytest
import xarray as xr
from pynwb import NWBHDF5IO, NWBFile, TimeSeries
from pynwb.base import ImageReferences, Images
from pynwb.epoch import TimeIntervals
from pynwb.image import GrayscaleImage, ImageSeries, IndexSeries

import bayesrf
from bayesrf.simulate import simulate_population

NY, NX, N_FRAMES = 4, 3, 60


def _independent_counts(spikes, onsets, stop):
    """Spikes per frame interval, counted one interval at a time (not np.histogram, as bayesrf does)."""
    ends = list(onsets[1:]) + [stop]
    return np.array([sum(1 for s in spikes if a <= s < b) for a, b in zip(onsets, ends, strict=True)])


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """Four units with a quality column, jittered frame onsets, spikes before and after the stimulus."""
    rng = np.random.default_rng(11)
    onsets = 10.0 + np.cumsum(rng.uniform(0.04, 0.06, N_FRAMES))
    stop = onsets[-1] + 0.05
    frames = rng.integers(0, 2, size=(N_FRAMES, NY, NX)).astype(np.uint8)  # bayesrf's (time, y, x)
    spikes = {17: np.sort(rng.uniform(9.0, stop + 1.0, 80)), 21: np.sort(rng.uniform(onsets[0], stop - 1e-6, 40)),
              30: np.sort(rng.uniform(onsets[0], stop - 1e-6, 25)), 42: np.sort(rng.uniform(onsets[0], stop - 1e-6, 5))}
    quality = {17: "good", 21: "mua", 30: "good", 42: "good"}
    return {"onsets": onsets, "stop": stop, "frames": frames, "spikes": spikes, "quality": quality,
            "dir": tmp_path_factory.mktemp("nwb")}


def _nwbfile():
    return NWBFile(session_description="test", identifier="test-session", session_id="s1",
                   session_start_time=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))


def _add_units(nwb, session, units=None):
    nwb.add_unit_column(name="quality", description="sorting label")
    for unit, spikes in session["spikes"].items():
        if units is None or unit in units:
            nwb.add_unit(id=unit, spike_times=spikes, quality=session["quality"][unit])


def _image_series(session, name="noise", **timing):
    timing = timing or {"timestamps": session["onsets"]}
    return ImageSeries(name=name, data=session["frames"].transpose(0, 2, 1), unit="binary", **timing)  # NWB: (frame, x, y)


def _write(path, nwb):
    with NWBHDF5IO(str(path), mode="w") as io:
        io.write(nwb)
    return path


def _epoch(session):
    table = TimeIntervals(name="noise_epoch", description="stimulus")
    table.add_interval(start_time=session["onsets"][0], stop_time=session["stop"])
    return table


@pytest.fixture(scope="module")
def nwb_path(session):
    nwb = _nwbfile()
    nwb.add_stimulus(_image_series(session))
    nwb.add_time_intervals(_epoch(session))
    _add_units(nwb, session)
    return _write(session["dir"] / "session.nwb", nwb)


def test_nwb_counts_match_an_independent_binning(nwb_path, session):
    with pytest.warns(bayesrf.BayesRFWarning, match="spike\\(s\\) of 1 unit\\(s\\) fall outside"):
        pop = bayesrf.load_population(nwb_path)
    assert pop.counts.dims == ("unit", "time") and pop.counts.dtype == np.int8
    assert pop.unit.values.tolist() == [17, 21, 30, 42] and pop.quality.values.tolist() == ["good", "mua", "good", "good"]
    for unit, spikes in session["spikes"].items():
        expected = _independent_counts(spikes, session["onsets"], session["stop"])
        np.testing.assert_array_equal(pop.counts.sel(unit=unit).values, expected)
    np.testing.assert_allclose(pop.duration.values, np.diff(np.r_[session["onsets"], session["stop"]]))
    np.testing.assert_array_equal(pop.stim.values, 2.0 * session["frames"] - 1.0)  # (time, y, x), centred
    outside = pop.n_spikes_outside_epoch.sel(unit=17).item()
    assert outside == 80 - pop.counts.sel(unit=17).sum().item() > 0
    assert pop.attrs["epoch_source"] == "TimeIntervals 'noise_epoch'" and len(pop.attrs["sha256"]) == 64


def test_select_units_by_id_and_column(nwb_path):
    with pytest.warns(bayesrf.BayesRFWarning):
        good = bayesrf.load_population(nwb_path, where={"quality": "good"})
    assert good.unit.values.tolist() == [17, 30, 42]
    picked = bayesrf.load_population(nwb_path, units=[42, 21])
    assert picked.unit.values.tolist() == [42, 21]


def test_one_unit_is_a_recording_that_fits_accept(nwb_path):
    pop = bayesrf.load_population(nwb_path, units=[21, 30])
    fit = bayesrf.fit_ml(pop.sel(unit=21), lags=2, penalty="l2", alpha=1.0)
    assert fit.rf.dims == ("lag", "y", "x")
    one = bayesrf.fit_ml(pop.sel(unit=[30]), lags=2, penalty="l2", alpha=1.0)  # a one-unit population
    alone = bayesrf.fit_ml(pop.sel(unit=30), lags=2, penalty="l2", alpha=1.0)
    np.testing.assert_allclose(one.rf.values, alone.rf.values)
    with pytest.raises(bayesrf.DataError, match="population of 2 units.*pop.sel\\(unit=id\\)"):
        bayesrf.fit_ml(pop, lags=2, penalty="l2", alpha=1.0)
    sha = {bayesrf.inference.data_checksum(pop.sel(unit=u)) for u in (21, 30)}
    assert len(sha) == 2  # units of one file get their own checksums


def test_rate_timed_series_and_its_time_range(session):
    nwb = _nwbfile()
    nwb.add_stimulus(_image_series(session, starting_time=10.0, rate=20.0))  # 10-13 s: every spike of unit 21 inside
    _add_units(nwb, session, units=[21])
    pop = bayesrf.load_population(_write(session["dir"] / "rate.nwb", nwb))
    np.testing.assert_allclose(pop.time.values, 10.0 + np.arange(N_FRAMES) / 20.0)
    np.testing.assert_allclose(pop.duration.values, 0.05)
    assert pop.attrs["n_frames_unshown"] == 0


def test_timestamps_without_epoch_drop_the_last_frame(session):
    nwb = _nwbfile()
    nwb.add_stimulus(_image_series(session))
    _add_units(nwb, session, units=[21])
    pop = bayesrf.load_population(_write(session["dir"] / "noepoch.nwb", nwb))
    assert pop.sizes["time"] == N_FRAMES - 1 and pop.attrs["n_frames_unshown"] == 1


def test_index_series_into_images(session):
    rng = np.random.default_rng(3)
    pool = rng.integers(0, 2, size=(5, NY, NX)).astype(np.uint8)
    order = rng.integers(0, 5, size=N_FRAMES)
    nwb = _nwbfile()
    images = [GrayscaleImage(name=f"img{k}", data=pool[k].T) for k in range(5)]  # NWB images are (x, y)
    templates = Images(name="pool", images=images, order_of_images=ImageReferences(name="order_of_images", data=images))
    nwb.add_stimulus_template(templates)
    nwb.add_stimulus(IndexSeries(name="shown", data=order.astype(np.uint32), indexed_images=templates, unit="N/A",
                                 timestamps=session["onsets"]))
    nwb.add_time_intervals(_epoch(session))
    _add_units(nwb, session, units=[30])
    pop = bayesrf.load_population(_write(session["dir"] / "index.nwb", nwb))
    np.testing.assert_array_equal(pop.stim.values, 2.0 * pool[order] - 1.0)


def _stimulus_variants(session):
    def several(nwb):
        nwb.add_stimulus(_image_series(session, "a"))
        nwb.add_stimulus(_image_series(session, "b"))

    def unsorted(nwb):
        nwb.add_stimulus(_image_series(session, timestamps=session["onsets"][::-1]))

    def short(nwb):  # pynwb refuses to write this; other writers do not, so the test cuts the file afterwards
        nwb.add_stimulus(_image_series(session))

    def not_images(nwb):
        nwb.add_stimulus(TimeSeries(name="notes", data=[1.0], unit="V", timestamps=[0.0]))

    return {"several": (several, "several stimulus series \\(a, b\\).*stimulus="),
            "unsorted": (unsorted, "must increase strictly"),
            "short": (short, f"{N_FRAMES} frames but {N_FRAMES - 3} timestamps"),
            "none": (not_images, "no ImageSeries, OpticalSeries or IndexSeries.*notes")}


@pytest.mark.parametrize("case", ["several", "unsorted", "short", "none"])
def test_bad_stimulus_gets_a_clear_error(session, case):
    build, message = _stimulus_variants(session)[case]
    nwb = _nwbfile()
    build(nwb)
    _add_units(nwb, session)
    path = _write(session["dir"] / f"bad_{case}.nwb", nwb)
    if case == "short":
        with h5py.File(path, "r+") as f:
            stamps = f["stimulus/presentation/noise/timestamps"][:-3]
            del f["stimulus/presentation/noise/timestamps"]
            f["stimulus/presentation/noise/timestamps"] = stamps
    with pytest.raises(bayesrf.DataError, match=message):
        bayesrf.load_population(path)


def test_named_stimulus_picks_one_of_several(session):
    nwb = _nwbfile()
    nwb.add_stimulus(_image_series(session, "a"))
    nwb.add_stimulus(_image_series(session, "b", starting_time=10.0, rate=20.0))
    _add_units(nwb, session, units=[21])
    path = _write(session["dir"] / "two.nwb", nwb)
    pop = bayesrf.load_population(path, stimulus="b")
    assert pop.attrs["stimulus_series"] == "b"
    with pytest.raises(bayesrf.DataError, match="no stimulus series 'c'.*'a', 'b'"):
        bayesrf.load_population(path, stimulus="c")


def test_missing_units_table_and_unknown_unit_ids(session, nwb_path):
    nwb = _nwbfile()
    nwb.add_stimulus(_image_series(session))
    with pytest.raises(bayesrf.DataError, match="no Units table"):
        bayesrf.load_population(_write(session["dir"] / "nounits.nwb", nwb))
    with pytest.raises(bayesrf.DataError, match=r"unit id\(s\) \[99\] are not in this population"):
        bayesrf.load_population(nwb_path, units=[21, 99])


def test_silent_unit_is_kept_and_flagged(session):
    spikes = {1: session["spikes"][21], 2: np.array([])}
    with pytest.warns(bayesrf.BayesRFWarning, match="1 unit\\(s\\) have no spike.*ids \\[2\\]"):
        pop = bayesrf.from_arrays(spikes, session["onsets"], session["frames"], stop=session["stop"])
    assert pop.unit.values.tolist() == [1, 2] and pop.counts.sel(unit=2).sum() == 0 and pop.attrs["n_units_silent"] == 1


def test_from_arrays_list_and_dict_agree_and_npz_round_trip(session, tmp_path):
    units = [21, 30, 42]
    as_list = bayesrf.from_arrays([session["spikes"][u] for u in units], session["onsets"], session["frames"],
                                  stop=session["stop"])
    as_dict = bayesrf.from_arrays({u: session["spikes"][u] for u in units}, session["onsets"], session["frames"],
                                  stop=session["stop"], columns={"depth": [100.0, 250.0, 400.0]})
    np.testing.assert_array_equal(as_list.counts.values, as_dict.counts.values)
    assert as_list.unit.values.tolist() == [0, 1, 2] and as_dict.depth.values.tolist() == [100.0, 250.0, 400.0]
    spikes = np.concatenate([session["spikes"][u] for u in units])
    owner = np.concatenate([np.full(session["spikes"][u].size, u) for u in units])
    path = tmp_path / "pop.npz"
    np.savez(path, spike_times=spikes, spike_units=owner, frames=session["frames"], frame_onsets=session["onsets"],
             stop=session["stop"], unit_ids=np.array(units), unit_depth=np.array([100.0, 250.0, 400.0]))
    back = bayesrf.load_population(path)
    np.testing.assert_array_equal(back.counts.values, as_dict.counts.values)
    np.testing.assert_array_equal(back.depth.values, as_dict.depth.values)


def test_npz_that_needs_pickle_is_refused(session, tmp_path):
    path = tmp_path / "pickled.npz"
    ragged = np.empty(2, dtype=object)
    ragged[:] = [session["spikes"][21], session["spikes"][30]]
    np.savez(path, spike_times=ragged, frames=session["frames"], frame_onsets=session["onsets"])
    with pytest.raises(bayesrf.DataError, match="need pickle.*spike_units"):
        bayesrf.load_population(path)


def test_bundled_neuron_through_nwb_equals_the_mat(real, tmp_path):
    from bayesrf.cli import main

    path = tmp_path / "neuron.nwb"
    with pytest.warns(bayesrf.BayesRFWarning, match="7 spike"):  # after the last trigger, as in the .mat
        assert main(["convert", str(bayesrf.recording_io.BUNDLED_RECORDING), str(path)]) == 0
        pop = bayesrf.load_population(path)
    unit = pop.sel(unit=0)
    for name in ("counts", "stim", "duration"):
        np.testing.assert_array_equal(unit[name].values, real[name].values, err_msg=name)
    np.testing.assert_array_equal(unit.time.values, real.time.values)


def test_simulated_population_round_trips_through_nwb(tmp_path):
    pop = simulate_population(n_units=6, n_frames=400, shape=(5, 6), lags=3, no_rf=0.3, seed=4)
    assert pop.rf_true.dims == ("unit", "lag", "y", "x")
    no_rf = ~pop.has_rf.values
    assert no_rf.any() and not np.abs(pop.rf_true.values[no_rf]).any()
    rates = pop.counts.sum("time").values / pop.duration.sum().item()
    assert np.all((rates > 0.3) & (rates < 100))  # baseline 1-30 spikes/s, modulated by the RF
    path = bayesrf.save_population(pop, tmp_path / "sim.nwb")
    back = bayesrf.load_population(path)
    for name in ("counts", "stim", "duration", "rf_true"):
        np.testing.assert_array_equal(back[name].values, pop[name].values, err_msg=name)
    for name in ("rf_type", "has_rf", "rate_hz", "center_x", "latency"):
        np.testing.assert_array_equal(back[name].values, pop[name].values, err_msg=name)
    netcdf = bayesrf.load_population(bayesrf.save_population(pop, tmp_path / "sim.nc", format="netcdf"))
    xr.testing.assert_equal(netcdf[["counts", "stim", "rf_true"]], pop[["counts", "stim", "rf_true"]])


def test_same_seed_same_population():
    a = simulate_population(n_units=3, n_frames=100, shape=(4, 4), lags=2, seed=9)
    b = simulate_population(n_units=3, n_frames=100, shape=(4, 4), lags=2, seed=9)
    xr.testing.assert_identical(a, b)
