"""The bottom layer: settings, Kafka client options and the error base.

Everything else may import from here; this package imports nothing of the project.
"""
