"""Exception and warning family of bayesrf.

Every problem that bayesrf detects in user input is raised as a subclass of
:class:`BayesRFError`, with a message that says what was expected, what
arrived, and how to fix it.
"""

from __future__ import annotations

__all__ = ["BayesRFError", "BayesRFWarning", "DataError", "FitError", "SpecError"]


class BayesRFError(Exception):
    """Base class of every error raised by bayesrf on bad input or state."""


class DataError(BayesRFError, ValueError):
    """A recording, its file or its arrays are malformed."""


class SpecError(BayesRFError, ValueError):
    """A prior specification (``models/*.toml`` or overrides) is invalid."""


class FitError(BayesRFError, RuntimeError):
    """An optimiser or sampler could not produce a trustworthy result."""


class BayesRFWarning(UserWarning):
    """Something worked but the result deserves a second look."""
