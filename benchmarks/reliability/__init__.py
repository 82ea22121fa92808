"""Reliability scenarios of the served app, one module each; ``python -m benchmarks.reliability`` runs them."""
