"""lipreg: Lipschitz regularisation of the loss and adversarial training (Finlay, Oberman & Abbasi 2018,
arXiv 1810.00953).

Where things are (``help(lipreg_lib.<name>)`` for each):

- :mod:`.data`: the data sets as tensors (``load_dataset("mnist", data_dir)``, ``npz:PATH`` for your own);
- :mod:`.models`: ``build(name, num_classes, input_shape, tanh_head)``, the tanh logit layer (§4.3);
- :mod:`.defences`: ``make_defence("at-l2+lip", eps, lam)``, the training objectives of §2–3;
- :mod:`.train`: ``TrainConfig`` and ``train(config, out_dir)``, with checkpoints and exact resume;
- :mod:`.attacks`: ``run_attack(model, split, "pgd-l2")``, per-image minimal distances (§4);
- :mod:`.evaluate`: error curves, clean metrics, stability statistics, the gradient-masking check;
- :mod:`.lipschitz`: the data's Lipschitz constant (eq. 13) and bounds on a network's (§3);
- :mod:`.reports` and :mod:`.sweep`: a run's ``eval.json``, and resumable grids ending in a results table;
- :mod:`.compare` and :mod:`.paper`: our results beside the paper's Tables 1 and 3;
- :mod:`.cli`: ``python -m lipreg_lib {info,train,evaluate,data-lipschitz,data-stability,sweep}``, its argument
  types in :mod:`.arguments` (shared with ``benchmarks/`` and ``tools/``).
"""

__version__ = "0.1.0"
