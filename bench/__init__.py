"""Benchmark harness (issue 8): ``make bench`` / ``python -m bench.run``."""
