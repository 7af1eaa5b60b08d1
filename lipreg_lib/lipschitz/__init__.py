"""Lipschitz constants of the data and of networks (arXiv 1810.00953, §3)."""

from .bounds import absolute_bound, empirical_lower_bound, lemma33_estimate, linearised, operator_norm, product_bound
from .data import DataLipschitz, data_lipschitz, nearest_other_label

__all__ = ["DataLipschitz", "absolute_bound", "data_lipschitz", "empirical_lower_bound", "lemma33_estimate", "linearised",
           "nearest_other_label", "operator_norm", "product_bound"]
