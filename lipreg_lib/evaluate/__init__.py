"""Evaluation: clean metrics, error curves, stability statistics (PAPER.md §4)."""
