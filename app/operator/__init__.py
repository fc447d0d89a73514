"""Operator tools: the CSV importer and the simulated department systems."""
