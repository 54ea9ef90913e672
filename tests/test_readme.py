"""Numbers in the README come from JSON files under docs/ that benchmark scripts wrote; these tests fail
when a README sentence and its JSON disagree."""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def population_memory_sentence(m: dict) -> str:
    """The README's sentence on population memory, from ``docs/population_memory.json``."""
    return (f"loading {m['n_units']} units × {m['n_frames']:,} frames × {m['shape'][0]}×{m['shape'][1]} px from NWB "
            f"({m['file_mb']:.0f} MB file, {m['n_spikes']:,} spikes) takes {m['load_s']:.1f} s; the arrays are "
            f"{m['arrays_mb']:.0f} MB (stimulus {m['stim_mb']:.0f} MB, held once; counts {m['counts_mb']:.0f} MB as "
            f"{m['counts_dtype']}), and the peak memory above the imports is {m['extra_peak_mb']:.0f} MB "
            f"({m['peak_over_arrays']:.2f}× the arrays; the spike times being binned are {m['spike_times_mb']:.0f} MB).")


def test_population_memory_sentence_matches_its_json():
    memory = json.loads((ROOT / "docs" / "population_memory.json").read_text())
    assert memory["unit_shares_stimulus"]
    assert population_memory_sentence(memory) in " ".join(README.split())
