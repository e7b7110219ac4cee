"""RIEC signal matching: shared settings, CLI and local runtime helpers."""

__version__ = "0.1.0"
