"""The wheel installs and works outside the repository (priors and the bundled neuron are package data).

The wheel is built without build isolation (the test venv's setuptools) and installed with
``--no-deps`` into a fresh venv. That venv sees the test venv's dependencies through a ``.pth``
line, which adds the directory to ``sys.path`` without running the editable finder of the
repository's own install, so ``import bayesrf`` can only find the wheel's copy. The test
checks that it does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "bayesrf", "models", "data")

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # setuptools builds in the source tree: build a copy, leave the repository clean
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, source / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
          "--wheel-dir", str(root / "dist"), str(source)], cwd=root)
    (wheel,) = (root / "dist").glob("bayesrf-*.whl")
    env_dir = root / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
          "--quiet", str(wheel)], cwd=root)
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root).strip())
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir


def test_wheel_installs_priors_and_data(wheel_venv: Path, tmp_path: Path) -> None:
    python = wheel_venv / "bin" / "python"
    shipped = sorted(path.stem for path in (REPO / "models").glob("*.toml"))  # the repository's, not the wheel's list
    code = ("import bayesrf; rec = bayesrf.load_recording(); print(bayesrf.__file__); "
            "print(rec.sizes['time'], int(rec.counts.sum())); print(*bayesrf.priors.prior_names()); "
            f"print(*(bayesrf.load_prior(name).name for name in {shipped!r}))")
    out = _run([str(python), "-c", code], cwd=tmp_path).splitlines()
    assert Path(out[0]).is_relative_to(wheel_venv), f"bayesrf was imported from {out[0]}, not from the wheel"
    assert out[1] == "1488 5493"
    assert out[2].split() == shipped, "the wheel does not ship every prior spec of models/"
    assert out[3].split() == shipped, "a shipped prior spec does not load from the wheel"


def test_wheel_cli_fits_map(wheel_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "map.nc"
    text = _run([str(wheel_venv / "bin" / "bayesrf"), "fit", "--map", "--prior", "ridge", "--out", str(out)],
                cwd=tmp_path)
    assert out.is_file() and "ridge" in text
