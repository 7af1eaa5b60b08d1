"""Evaluation: clean metrics, error curves, stability statistics (arXiv 1810.00953, §4)."""
