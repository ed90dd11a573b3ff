"""resim: re-simulated jet datasets for re-simulation-based self-supervised learning (RS3L)."""

__version__ = "0.1.0"
