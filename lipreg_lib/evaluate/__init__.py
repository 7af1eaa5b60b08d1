"""Evaluation (arXiv 1810.00953, §4), one module each: :mod:`.clean` (clean metrics), :mod:`.curves` (error
curves, medians), :mod:`.budget` (error at a fixed ε), :mod:`.stability` (gradient norms, margins, certified
radii), :mod:`.masking` (the gradient-masking check), :mod:`.gallery` (clean / perturbation / adversarial images)."""
