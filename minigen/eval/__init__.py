"""Metrics shared by the model families and the comparison harness (import the submodules)."""
