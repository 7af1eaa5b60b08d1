"""The values Finlay, Oberman & Abbasi (2018) report (arXiv 1810.00953, Tables 1 and 3), shown beside ours, never used as ours.

``TABLE1[(data, defence)] = (median distance, % error at ε = 0.1, max ‖∇ℓ‖, max ‖∇f‖_{2,∞})`` for
ResNeXt-34 under PGD-L2 (``None`` where the paper gives no value).
``TABLE3[(model, variant, adversarial_training)] = (median distance, % error ε = 0, % error ε = 0.1)``
on CIFAR-10.
"""

TABLE1 = {
    ("CIFAR-10", "baseline"): (0.09, 53.98, 3.33, 85.85),
    ("CIFAR-10", "AT, FGSM"): (0.18, 24.63, 7.04, 48.29),
    ("CIFAR-10", "AT, 2-norm"): (0.30, 13.54, 3.94, 33.19),
    ("CIFAR-10", "tulip + tanh layer"): (0.56, 12.12, 1.62, 9.54),
    ("CIFAR-100", "baseline"): (0.05, 74.18, 3.54, 43.28),
    ("CIFAR-100", "AT, FGSM"): (None, 56.34, 7.50, 56.62),
    ("CIFAR-100", "AT, 2-norm"): (None, 53.77, 7.78, 44.9),
    ("CIFAR-100", "tulip + tanh layer"): (0.136, 42.58, 3.75, 21.03),
}

TABLE3 = {
    ("AllCNN", "baseline", False): (0.13, 6.01, 38.11), ("AllCNN", "baseline", True): (0.29, 5.90, 17.09),
    ("AllCNN", "Lipschitz penalty", False): (0.17, 6.26, 29.27), ("AllCNN", "Lipschitz penalty", True): (0.29, 5.84, 16.86),
    ("AllCNN", "tanh layer", False): (0.19, 5.41, 32.61), ("AllCNN", "tanh layer", True): (0.38, 5.10, 16.19),
    ("AllCNN", "tanh + Lipschitz", False): (0.21, 5.45, 25.04), ("AllCNN", "tanh + Lipschitz", True): (0.35, 5.27, 15.00),
    ("ResNet-34", "baseline", False): (0.09, 6.00, 56.00), ("ResNet-34", "baseline", True): (0.25, 5.57, 18.19),
    ("ResNet-34", "Lipschitz penalty", False): (0.17, 5.43, 27.08), ("ResNet-34", "Lipschitz penalty", True): (0.28, 5.65, 16.74),
    ("ResNet-34", "tanh layer", False): (0.20, 5.54, 34.44), ("ResNet-34", "tanh layer", True): (0.46, 5.52, 17.45),
    ("ResNet-34", "tanh + Lipschitz", False): (0.21, 6.14, 28.66), ("ResNet-34", "tanh + Lipschitz", True): (0.40, 5.81, 15.84),
    ("ResNeXt-34", "baseline", False): (0.09, 4.07, 53.98), ("ResNeXt-34", "baseline", True): (0.30, 3.58, 13.54),
    ("ResNeXt-34", "Lipschitz penalty", False): (0.21, 4.28, 19.13), ("ResNeXt-34", "Lipschitz penalty", True): (0.31, 4.13, 12.52),
    ("ResNeXt-34", "tanh layer", False): (0.34, 4.05, 23.97), ("ResNeXt-34", "tanh layer", True): (0.61, 3.80, 12.71),
    ("ResNeXt-34", "tanh + Lipschitz", False): (0.33, 4.18, 19.64), ("ResNeXt-34", "tanh + Lipschitz", True): (0.56, 4.08, 12.12),
}

COST_BOUND = 4.0  # "adversarial training and Lipschitz regularisation each cost at most 4× the baseline" (§5)
COST_BOUNDED = ("at-fgsm", "at-l2", "lip", "lip-fd", "tulip", "tulip-fd")  # the defences that claim covers

RANKING = ("baseline", "AT-FGSM", "AT-L2", "tanh + tulip")  # by median distance, increasing (Table 1)
TRAINING_EPS = 0.01  # the ε of the paper's adversarial training and tulip (§3 and Appendix A; with λ = 0.1, not tuned)
ATTACK_RANKING = (("pgd-l2", "ifgsm"), ("ifgsm", "gradient"), ("gradient", "fgsm"), ("boundary", "deepfool"))
# the pairs (stronger, weaker) of the paper's comparison of attacks (§4): PGD-L2 > I-FGSM > gradient > FGSM; Boundary > DeepFool
