"""The source of truth: schema and the repository that queries it."""

from .repository import Repository
from .schema import metadata

__all__ = ["Repository", "metadata"]
