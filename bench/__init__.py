"""Benchmarks (never timed tests): `python -m bench` runs them all and writes bench/results.md."""
