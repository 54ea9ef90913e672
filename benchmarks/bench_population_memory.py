"""Peak memory of loading a population from NWB, against the size of its arrays.

Writes an NWB file of 500 units x 50,000 frames x 20 x 15 pixels (Poisson spike trains
at 1-30 spikes/s, 0.05 s frames) with bayesrf's writer, then loads it with
``bayesrf.load_population`` in a fresh process and reports that process's peak resident
memory above its level after the imports, next to the bytes of the loaded arrays
(``stim``, ``counts``, ``duration``). The stimulus must be held once, not per unit: the
ratio of the extra peak to the arrays' size says how many copies loading makes on the
way, and one unit's recording (``pop.sel(unit=id)``) must share the stimulus's memory.

Run: ``python benchmarks/bench_population_memory.py [--units 500 --frames 50000]``;
writes ``docs/population_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "docs" / "population_memory.json"
SHAPE = (20, 15)
DT = 0.05


def write_file(path: Path, n_units: int, n_frames: int, seed: int = 0) -> dict[str, float]:
    """An NWB file of the given size; returns its size and the time to write it."""
    from bayesrf.nwb import write_nwb

    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 2, size=(n_frames, *SHAPE), dtype=np.uint8)
    edges = np.arange(n_frames + 1) * DT
    rates = np.exp(rng.uniform(np.log(1.0), np.log(30.0), n_units))
    spikes = {u: np.sort(rng.uniform(0.0, edges[-1], rng.poisson(r * edges[-1]))) for u, r in enumerate(rates)}
    started = time.perf_counter()
    write_nwb(path, spikes, frames, edges)
    return {"write_s": time.perf_counter() - started, "file_mb": path.stat().st_size / 2**20,
            "n_spikes": int(sum(s.size for s in spikes.values()))}


def _status_kb(field: str) -> int:
    """A ``/proc/self/status`` memory field in kB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status (this benchmark needs Linux)")


def measure(path: Path) -> dict[str, float]:
    """Run in a fresh process: peak RSS of load_population above the resident memory after the imports.

    The imports peak higher than they settle, so the high-water mark is reset after them
    (writing 5 to ``/proc/self/clear_refs``) and read (``VmHWM``) after loading.
    """
    import bayesrf

    Path("/proc/self/clear_refs").write_text("5")
    before_kb = _status_kb("VmRSS")
    started = time.perf_counter()
    pop = bayesrf.load_population(path)
    load_s = time.perf_counter() - started
    peak_kb = _status_kb("VmHWM")
    arrays = sum(pop[name].nbytes for name in ("stim", "counts", "duration"))
    unit = pop.sel(unit=int(pop.unit[0]))
    return {"load_s": load_s, "extra_peak_mb": (peak_kb - before_kb) / 1024, "arrays_mb": arrays / 2**20,
            "stim_mb": pop.stim.nbytes / 2**20, "counts_mb": pop.counts.nbytes / 2**20,
            "counts_dtype": str(pop.counts.dtype),
            "unit_shares_stimulus": bool(np.shares_memory(unit.stim.values, pop.stim.values))}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=OUT, help="JSON results file")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process's job
    args = parser.parse_args(argv)
    if args.measure is not None:
        print(json.dumps(measure(args.measure)))
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "population.nwb"
        written = write_file(path, args.units, args.frames)
        child = subprocess.run([sys.executable, __file__, "--measure", str(path)], capture_output=True, text=True,
                               check=True)
        result = {"n_units": args.units, "n_frames": args.frames, "shape": list(SHAPE), **written,
                  **json.loads(child.stdout.splitlines()[-1])}
    result["peak_over_arrays"] = result["extra_peak_mb"] / result["arrays_mb"]
    result["spike_times_mb"] = result["n_spikes"] * 8 / 2**20  # float64 spike times, held while binning
    print(f"{args.units} units x {args.frames:,} frames x {SHAPE[0]}x{SHAPE[1]} px: file {result['file_mb']:.0f} MB "
          f"({result['n_spikes']:,} spikes) written in {result['write_s']:.1f} s")
    print(f"load_population: {result['load_s']:.1f} s; arrays {result['arrays_mb']:.0f} MB (stim {result['stim_mb']:.0f}, "
          f"counts {result['counts_mb']:.0f} as {result['counts_dtype']}); peak above the imports "
          f"{result['extra_peak_mb']:.0f} MB = {result['peak_over_arrays']:.2f}x the arrays "
          f"(the spike times alone are {result['spike_times_mb']:.0f} MB); "
          f"one unit shares the stimulus: {result['unit_shares_stimulus']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
