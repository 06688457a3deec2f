"""The command line (``cleaner``, ``python3 -m cleaner``)."""

from .commands import main

__all__ = ["main"]
