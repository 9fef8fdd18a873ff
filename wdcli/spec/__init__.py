"""The spec language: YAML parsed once, at the edge, into frozen typed objects (`Spec`) that forbid unknown
keys, with every problem reported at once with its file, line and YAML path."""

from .loading import load_spec
from .types import Spec

__all__ = ["Spec", "load_spec"]
