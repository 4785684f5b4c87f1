"""``astraea-cost``, the one command line of the project (see :mod:`costmodel.cli.dispatch`)."""

from costmodel.cli.dispatch import main

__all__ = ["main"]
