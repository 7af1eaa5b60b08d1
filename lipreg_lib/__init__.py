"""lipreg: Lipschitz regularisation of the loss and adversarial training (Finlay, Oberman & Abbasi 2018)."""

__version__ = "0.1.0"
