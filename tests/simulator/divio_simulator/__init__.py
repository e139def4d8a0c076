"""Divio API simulator: a small, fast stand-in for the Divio Cloud API v3, for tests and benchmarks."""

from .data import SIZES, Dataset, generate_dataset
from .server import SimulatorServer, run_simulator

__all__ = ["SIZES", "Dataset", "SimulatorServer", "generate_dataset", "run_simulator"]
