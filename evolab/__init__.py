"""EvoLab: a web lab for evolving image classifiers (Real et al., ICML 2017)."""

__version__ = "0.1.0"
