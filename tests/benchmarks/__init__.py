"""Benchmarks of cf-livetail against its performance targets; see run.py.

Not part of the pytest run: pytest's addopts ignore this folder.
"""
