"""bayesrf: Bayesian linear-nonlinear-Poisson receptive fields with uncertainty."""

from importlib.metadata import PackageNotFoundError, version

from .data import from_counts, validate_recording
from .recording_io import load_recording, save_recording
from .design import Design, make_design
from .errors import BayesRFError, BayesRFWarning, DataError, FitError, SpecError
from .inference import fit_map, sample
from .heldout import block_split, heldout_log_likelihood
from .ml import fit_ml
from .population import from_arrays, load_population, save_population, validate_population
from .population_fit import fit_population, unit_result
from .population_store import load_population_result
from .model import build_model
from .priors import PriorSpec, load_prior
from .posterior import compare_estimates, posterior_svd, rf_summary, summary, svd_summary
from .results import load, posterior_predictive, predict, save
from .simulate import simulate, simulate_population
from .svd import rf_svd
from .validate import coverage, sbc

try:
    __version__ = version("bayesrf")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = [
    "BayesRFError",
    "BayesRFWarning",
    "DataError",
    "Design",
    "FitError",
    "SpecError",
    "PriorSpec",
    "block_split",
    "build_model",
    "compare_estimates",
    "coverage",
    "heldout_log_likelihood",
    "posterior_predictive",
    "posterior_svd",
    "rf_summary",
    "summary",
    "svd_summary",
    "fit_map",
    "fit_ml",
    "fit_population",
    "unit_result",
    "load",
    "load_population_result",
    "load_prior",
    "predict",
    "sample",
    "save",
    "sbc",
    "from_arrays",
    "load_population",
    "save_population",
    "validate_population",
    "from_counts",
    "load_recording",
    "make_design",
    "rf_svd",
    "save_recording",
    "simulate",
    "simulate_population",
    "validate_recording",
]
