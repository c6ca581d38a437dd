"""Benchmarks behind ``machinima-bridge bench ...``: each measures the thing and its baseline in one run."""
