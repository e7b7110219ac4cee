"""The ``riec`` command line: one module per command group, errors handled in ``main``."""

from riec.cli.main import app

__all__ = ["app"]
