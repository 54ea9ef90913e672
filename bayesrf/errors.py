"""Exception and warning family of bayesrf.

Every problem that bayesrf detects in user input is raised as a subclass of
:class:`BayesRFError`, with a message that says what was expected, what
arrived, and how to fix it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TypeVar

__all__ = ["BayesRFError", "BayesRFWarning", "DataError", "FitError", "SpecError", "recorded"]

T = TypeVar("T")


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


def recorded(call: Callable[[], T]) -> tuple[T, str]:
    """``call()`` and the distinct first sentences of the warnings it gave (recorded, not silenced)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = call()
    return value, " | ".join(sorted({str(w.message).split(". ")[0] for w in caught}))
