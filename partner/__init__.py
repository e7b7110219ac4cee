"""Partner toolkit: read a partner's CSV, normalise, pseudonymise and push to its topic.

Everything in this package runs at the partner, with the partner's secret. Nothing
that leaves it carries a plaintext identifier.
"""
