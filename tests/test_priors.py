"""Prior specs are validated data files."""

from pathlib import Path

import pytest

import bayesrf
from bayesrf.priors import PriorSpec, alpha_for, parse_overrides, prior_names

FIXTURES = Path(__file__).parent / "fixtures" / "specs"


def test_shipped_specs_load():
    assert {"flat", "ridge", "lasso", "ridge-hier", "lasso-hier"} <= set(prior_names())
    for name in prior_names():
        spec = bayesrf.load_prior(name)
        assert PriorSpec.from_json(spec.to_json()) == spec


def test_broken_spec_lists_every_problem():
    with pytest.raises(bayesrf.SpecError) as info:
        bayesrf.load_prior(FIXTURES / "bad_everything.toml")
    message = str(info.value)
    for part in ("schema_version must be 1", "did you mean 'laplace'", "intercept.sigma must be a number > 0"):
        assert part in message


def test_missing_scale_and_bad_toml():
    with pytest.raises(bayesrf.SpecError, match="prior.scale must be a number > 0"):
        bayesrf.load_prior(FIXTURES / "missing_scale.toml")
    with pytest.raises(bayesrf.SpecError, match="not valid TOML"):
        bayesrf.load_prior(FIXTURES / "not_toml.toml")


def test_unknown_name_suggests_close_match():
    with pytest.raises(bayesrf.SpecError, match="Did you mean 'ridge'"):
        bayesrf.load_prior("ridg")


def test_overrides_as_list_and_dict_are_data_not_code():
    assert bayesrf.load_prior("ridge", ["prior.scale=0.3"]).scale == 0.3
    assert bayesrf.load_prior("lasso", {"prior": {"scale": 0.5}}).scale == 0.5
    assert parse_overrides(["intercept.mu=__import__('os')"]) == {"intercept": {"mu": "__import__('os')"}}
    with pytest.raises(bayesrf.SpecError, match="intercept.mu must be a number"):
        bayesrf.load_prior("ridge", ["intercept.mu=__import__('os')"])
    with pytest.raises(bayesrf.SpecError, match="prior.scale must be a number > 0"):
        bayesrf.load_prior("ridge", ["prior.scale=-2"])
    with pytest.raises(bayesrf.SpecError, match="unknown field prior.scal"):
        bayesrf.load_prior("ridge", ["prior.scal=2"])
    with pytest.raises(bayesrf.SpecError, match="section.field=value"):
        parse_overrides(["scale"])


def test_alpha_mapping():
    n = 1000
    assert alpha_for(bayesrf.load_prior("ridge", ["prior.scale=0.1"]), n) == pytest.approx(1 / (n * 0.01))
    assert alpha_for(bayesrf.load_prior("lasso", ["prior.scale=0.1"]), n) == pytest.approx(1 / (n * 0.1))
    assert alpha_for(bayesrf.load_prior("flat"), n) == 0.0
    with pytest.raises(bayesrf.SpecError, match="learns its scale"):
        alpha_for(bayesrf.load_prior("ridge-hier"), n)
