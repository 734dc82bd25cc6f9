"""Experiments: replications, paired comparisons, sweeps, sensitivity, scenario discovery.

A functional API for notebooks (plain DataFrames in and out) behind the CLI commands.
"""

from openweight_sim.experiments.replicate import bands, replicate, run_one

__all__ = ["bands", "replicate", "run_one"]
