"""Operator commands run from the repository (`make redrive`, ...); never shipped to Lambda."""
