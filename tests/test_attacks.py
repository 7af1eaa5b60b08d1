"""Attacks and error curves: closed-form distances, invariants of every result, a foolbox cross-check."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lipreg_lib.attacks import (IterativeAttack, attack_loss, ddn, drive, foolbox_minimal, foolbox_pgd_grid, get_attack, minimal_distance,
                                minimal_distance_batch, project, recheck, run_attack)
from lipreg_lib.data import Split
from lipreg_lib.evaluate.budget import error_at_budget
from lipreg_lib.evaluate.clean import logits_of
from lipreg_lib.gradients import flat_norms
from lipreg_lib.evaluate.curves import error_curve, median_distance, summary
from lipreg_lib.train import TrainConfig, train
from lipreg_lib.validation import LipregError


@pytest.fixture(scope="module")
def linear_problem():
    """A two-class linear classifier on [0,1]^6 and points whose closest boundary point lies inside the box.

    With two classes the cross-entropy gradient points along ``w_other − w_y``, straight at the boundary;
    with more, it mixes classes and PGD on the cross-entropy overestimates the distance (a known limit).
    """
    torch.manual_seed(3)
    model = nn.Linear(6, 2).eval()
    with torch.no_grad():  # boundaries through the centre of the cube
        model.weight.normal_()
        model.bias.copy_(-model.weight @ torch.full((6,), 0.5))
    x = 0.35 + 0.3 * torch.rand(400, 6)
    with torch.no_grad():
        logits = model(x)
    y = logits.argmax(1)
    w = model.weight.detach()
    gaps = []
    for j in range(2):
        diff = w[y] - w[j]
        gap = (logits.gather(1, y[:, None]).squeeze(1) - logits[:, j]) / diff.norm(dim=1)
        gaps.append(torch.where(y == j, torch.full_like(gap, float("inf")), gap))
    exact, closest = torch.stack(gaps, 1).min(1)
    step = (w[y] - w[closest]) / (w[y] - w[closest]).norm(dim=1, keepdim=True)
    inside = ((x - exact[:, None] * step).clamp(0, 1) == x - exact[:, None] * step).all(1) & (exact > 0.02) & (exact < 0.3)
    return model, Split(x[inside], y[inside]), exact[inside].double()


def test_bisection_pgd_finds_the_closed_form_distance_of_a_linear_model(linear_problem):
    model, split, exact = linear_problem
    assert len(split) > 100
    result = minimal_distance(model, split, get_attack("pgd-l2"), rtol=0.005)
    assert torch.all(result.distances >= exact * (1 - 1e-5))
    assert torch.all(result.distances <= exact * 1.01)


def test_fgsm_finds_its_own_closed_form_distance_on_a_linear_model(linear_problem):
    """One step ``ε sign(d)/√n`` against the logit gap ``⟨d, x⟩ + c`` (``d = w_y − w_other``) closes it at
    ``ε = gap·√n/‖d‖₁ = exact·√n‖d‖₂/‖d‖₁``: never below the true distance, and equal to it only when
    every ``|d_j|`` is the same (arXiv 1810.00953, §1: the 2-norm step is the one that is optimal here)."""
    model, split, exact = linear_problem
    w = model.weight.detach()
    d = w[split.y] - w[1 - split.y]
    expected = exact * (d.shape[1] ** 0.5 * d.norm(dim=1) / d.abs().sum(1)).double()
    result = minimal_distance(model, split, get_attack("fgsm"), rtol=0.002)
    assert torch.all(result.distances >= expected * (1 - 1e-4)) and torch.all(result.distances <= expected * 1.005)
    assert torch.all(expected > exact * 1.05)


def test_a_one_step_attack_refuses_more_steps_and_names_the_iterative_one():
    assert get_attack("fgsm", steps=1).steps == 1
    with pytest.raises(LipregError, match="'fgsm' is a one-step attack, got steps = 5; for several steps use 'ifgsm'"):
        get_attack("fgsm", steps=5)
    with pytest.raises(LipregError, match="use 'pgd-l2'"):
        get_attack("gradient", steps=3)


def test_deepfool_finds_the_closed_form_distance_of_a_linear_model(linear_problem):
    pytest.importorskip("foolbox")
    model, split, exact = linear_problem
    result = foolbox_minimal(model, split, "deepfool", overshoot=0.0)  # foolbox still adds 1e-4 to each logit gap
    assert torch.all(result.distances >= exact * (1 - 1e-5))
    assert torch.all(result.distances <= exact * 1.01)


def test_ddn_lands_near_the_closed_form_distance(linear_problem):
    model, split, exact = linear_problem
    result = ddn(model, split, steps=200)
    assert torch.all(result.distances >= exact * (1 - 1e-5))
    assert median_distance(result.distances / exact) < 1.02


@pytest.fixture(scope="module")
def trained(digits):
    return train(TrainConfig(epochs=3), dataset=digits, device="cpu", progress=False).model.eval()   # seeded: the same net on a GPU machine


@pytest.mark.parametrize("name", ["fgsm", "gradient", "ifgsm", "pgd-l2", "ddn", "deepfool", "foolbox-ddn"])
def test_every_result_is_a_real_adversarial_example_within_its_distance(name, trained, digits):
    if name in ("deepfool", "foolbox-ddn"):
        pytest.importorskip("foolbox")
    test = Split(digits.test.x[:120], digits.test.y[:120])
    result = run_attack(trained, test, name)
    x = test.floats()
    found = result.found
    assert found.sum() > 100
    assert torch.all(logits_of(trained, result.adversarial[found]).argmax(1) != test.y[found])
    assert torch.all(flat_norms(result.adversarial[found] - x[found]).double() <= result.distances[found] + 1e-5)
    assert result.adversarial.min() >= 0 and result.adversarial.max() <= 1
    curve = error_curve(result.distances, torch.linspace(0, 3, 61))
    assert torch.all(curve[1:] >= curve[:-1]) and curve[0] == (result.distances == 0).double().mean()


def test_failed_attacks_count_as_infinite_not_zero(trained, digits):
    test = Split(digits.test.x[:50], digits.test.y[:50])
    weak = minimal_distance(trained, test, IterativeAttack("tiny", steps=1, step_size=1.0), max_eps=0.05)
    failed = ~weak.found
    assert failed.any() and torch.all(weak.distances[failed] == math.inf)
    stats = summary(weak.distances)
    assert stats["not_found"] == int(failed.sum())


def test_stronger_attacks_give_smaller_distances(trained, digits):
    """arXiv 1810.00953, §4: iterative L2 ascent beats the single gradient step, which beats FGSM, on the median."""
    test = Split(digits.test.x[:200], digits.test.y[:200])
    medians = {name: median_distance(run_attack(trained, test, name).distances) for name in ("fgsm", "gradient", "pgd-l2")}
    assert medians["pgd-l2"] < medians["gradient"] < medians["fgsm"]


def test_our_pgd_is_no_weaker_than_foolbox_pgd(trained, digits):
    pytest.importorskip("foolbox")
    test = digits.test
    ours = run_attack(trained, Split(test.x[:80], test.y[:80]), "pgd-l2")
    grid = [0.2 * 1.02 ** k for k in range(120)]  # 2% spacing from 0.2 to ~2.1
    theirs = foolbox_pgd_grid(trained, Split(test.x[:80], test.y[:80]), grid, steps=20)
    assert median_distance(ours.distances) <= 1.02 * median_distance(theirs.distances)


@pytest.mark.parametrize("k", [3, 8])
def test_k_ary_search_brackets_the_same_distances_as_bisection(k, linear_problem):
    """``budgets_per_round = K`` tries K budgets a round instead of one: on the linear model both reach
    the closed-form distance to the same tolerance, so only the number of rounds changes."""
    model, split, exact = linear_problem
    result = minimal_distance(model, split, get_attack("pgd-l2"), rtol=0.005, budgets_per_round=k)
    assert torch.all(result.distances >= exact * (1 - 1e-5))
    assert torch.all(result.distances <= exact * 1.01)
    with torch.no_grad():
        assert torch.all(model(result.adversarial).argmax(1) != split.y)


def test_k_ary_search_on_a_trained_net_agrees_with_bisection(trained, digits):
    test = Split(digits.test.x[:100], digits.test.y[:100])
    attack = get_attack("pgd-l2")
    one, eight = (minimal_distance(trained, test, attack, budgets_per_round=k).distances for k in (1, 8))
    assert torch.equal(torch.isfinite(one), torch.isfinite(eight)) and torch.equal(one == 0, eight == 0)
    assert abs(median_distance(eight) / median_distance(one) - 1) < 0.01
    with pytest.raises(LipregError, match="budgets_per_round must be an integer >= 1, got 0"):
        minimal_distance(trained, test, attack, budgets_per_round=0)


def test_margin_loss_and_cosine_schedule():
    logits = torch.tensor([[2.0, 5.0, -1.0], [0.5, 0.0, 3.0]])
    y = torch.tensor([1, 0])
    assert attack_loss(logits, y, "margin").item() == pytest.approx((2.0 - 5.0) + (3.0 - 0.5))
    assert attack_loss(logits, y, "ce").item() == pytest.approx(F.cross_entropy(logits, y, reduction="sum").item())
    attack = get_attack("pgd-l2", steps=10, step_size=0.5, schedule="cosine", loss="margin")
    assert attack.relative_step(0) == pytest.approx(0.5) and attack.relative_step(10) == pytest.approx(0.005)
    assert all(attack.relative_step(t) > attack.relative_step(t + 1) for t in range(10))
    assert get_attack("pgd-l2").relative_step(7) == 0.125
    with pytest.raises(LipregError, match="unknown attack loss 'hinge'"):
        get_attack("pgd-l2", loss="hinge")
    with pytest.raises(LipregError, match="unknown step-size schedule 'linear'"):
        get_attack("pgd-l2", schedule="linear")


def test_a_random_start_is_uniform_in_the_budget_ball():
    """A model that misclassifies every input returns the starting points themselves: none without a
    random start, and with one, points uniform in the ε-ball (E‖δ‖ = ε·n/(n+1), no preferred direction)."""
    model = nn.Linear(6, 2)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.copy_(torch.tensor([1.0, 0.0]))
    x, y, eps = torch.full((4000, 6), 0.5), torch.ones(4000, dtype=torch.long), 0.1
    torch.manual_seed(0)
    start, success = IterativeAttack("pgd-l2", random_start=True)(model, x, y, torch.tensor(eps))
    delta = start - x
    assert success.all() and torch.equal(IterativeAttack("pgd-l2")(model, x, y, torch.tensor(eps))[0], x)
    radius = flat_norms(delta) / eps
    assert radius.max() <= 1 + 1e-6 and abs(radius.mean().item() - 6 / 7) < 0.02
    assert (delta / flat_norms(delta)[:, None]).mean(0).abs().max() < 0.05


def test_margin_pgd_finds_the_closed_form_distance_of_a_linear_model(linear_problem):
    model, split, exact = linear_problem
    result = minimal_distance(model, split, get_attack("pgd-l2", loss="margin"), rtol=0.005)
    assert torch.all(result.distances >= exact * (1 - 1e-5))
    assert torch.all(result.distances <= exact * 1.01)


def test_the_driver_trusts_no_claim_of_an_attack(trained, digits):
    """An attack that claims success with examples the model still classifies correctly gets ``inf``;
    a claimed distance is replaced by the norm of the example returned; misclassified images get 0."""
    test = Split(digits.test.x[:60], digits.test.y[:60])
    x = test.floats()
    wrong = logits_of(trained, x).argmax(1) != test.y

    # the same move of an image in any batch, on any device: brighter ones inverted (often fooling), the others barely moved
    def moved(images):
        pattern = torch.arange(images[0].numel(), device=images.device).view_as(images[0])
        nudged = (images + 0.01 * torch.cos(37.0 * images + pattern)).clamp(0, 1)
        return torch.where(images.mean((1, 2, 3), keepdim=True) > 0.3, 1 - images, nudged)

    def lying(xb, yb):  # claims a distance of 0.1 for each
        return torch.full((len(xb),), 0.1, device=xb.device), moved(xb)

    result = drive(trained, test, "liar", lying, {}, batch_size=25)
    fooled = logits_of(trained, moved(x)).argmax(1) != test.y
    assert torch.all(result.distances[wrong] == 0) and torch.all(torch.isinf(result.distances[~wrong & ~fooled]))
    really = ~wrong & fooled
    assert torch.allclose(result.distances[really], flat_norms(moved(x) - x)[really].double())
    assert really.sum() > 15 and (~wrong & ~fooled).sum() > 15   # both cases are tested

    def outside(xb, yb):  # adversarial for the model, but not an image: pixels pushed out of [0, 1]
        return torch.full((len(xb),), 1.0, device=xb.device), xb * 50 - 20

    escaped = drive(trained, test, "outside", outside, {}, batch_size=25)
    assert torch.all(escaped.distances[~wrong] == math.inf)


def test_recheck_tells_fooled_from_on_the_boundary_and_refuses_a_clean_image(trained, digits):
    """recheck: fooled where another logit wins; on the boundary where the margin is within 10⁻⁴ of the
    largest |logit| (at least 1); an attack's reported examples all pass ``fooled | on_boundary``, and a
    clean image put in one's place fails it."""
    identity = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        identity.weight.copy_(torch.eye(2))
    z = torch.tensor([[0.2, 0.9], [0.9, 0.2], [0.5, 0.5 + 8e-5], [0.5 + 8e-5, 0.5], [100.0, 100.005], [100.0, 100.02]])
    fooled, on_boundary = recheck(identity, z, torch.zeros(6, dtype=torch.long))
    assert fooled.tolist() == [True, False, True, False, True, True]
    assert on_boundary.tolist() == [False, False, True, True, True, False]   # at least 10⁻⁴, else 10⁻⁴ of the largest logit

    test = Split(digits.test.x[:60], digits.test.y[:60])
    result = run_attack(trained, test, "pgd-l2")
    found = result.found & (result.distances > 0)
    training = copy.deepcopy(trained).train()   # batch norm: recheck must evaluate in eval mode, and give the mode back
    fooled, on_boundary = recheck(training, result.adversarial[found], test.y[found])
    assert training.training and found.sum() > 40 and fooled.all()   # on the CPU every one is fooled again
    planted = result.adversarial[found].clone()
    planted[0] = test.floats()[found][0]   # correctly classified, far from the boundary
    fooled, on_boundary = recheck(trained, planted, test.y[found])
    assert not (fooled[0] or on_boundary[0]) and fooled[1:].all()


def test_a_point_found_below_a_failed_budget_reopens_the_search_below_it():
    """The early exit can return a point closer than a budget that failed earlier; the search must then
    look below that point instead of stopping with ``lo > hi`` (nothing at or below ``hi`` tried)."""
    model = nn.Linear(1, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0], [-1.0]]))
        model.bias.zero_()
    x, y = torch.tensor([[0.6]]), torch.tensor([0])  # the boundary is at 0: the true distance is 0.6
    tried = []

    class Erratic:  # fails at ε = 1 (an unlucky start), then at ε = 2 jumps straight past the boundary
        def __call__(self, net, xb, yb, eps):
            tried.extend(eps.tolist())
            success = eps > 1.5
            return torch.where(success[:, None], torch.full_like(xb, -1e-4), xb), success

    distances, _ = minimal_distance_batch(model, x, y, Erratic(), rtol=0.01, max_eps=4.0)
    assert any(eps < 0.6 for eps in tried) and distances.item() == pytest.approx(0.6001, abs=1e-3)


def test_search_budgets_are_checked():
    model = nn.Linear(4, 2)
    x, y = torch.rand(2, 4), torch.zeros(2, dtype=torch.long)
    for key in ("initial_eps", "max_eps"):
        with pytest.raises(LipregError, match=f"{key} must be"):
            minimal_distance_batch(model, x, y, get_attack("gradient"), **{key: 0.0})
    with pytest.raises(LipregError, match="iterations must be an integer >= 1"):
        run_attack(model, Split(x, y), "pgd-l2", iterations=0)


def test_foolbox_grid_gives_zero_to_images_misclassified_clean(trained, digits):
    pytest.importorskip("foolbox")
    test = Split(digits.test.x[:60], digits.test.y[:60])
    wrong = logits_of(trained, test.floats()).argmax(1) != test.y
    assert wrong.any()
    result = foolbox_pgd_grid(trained, test, [0.5, 1.0, 2.0], steps=5)
    assert torch.all(result.distances[wrong] == 0) and torch.all(result.distances[~wrong] > 0)


def test_projection_respects_ball_and_box():
    x = torch.rand(5, 10)
    delta = torch.randn(5, 10) * 3
    eps = torch.tensor([0.1, 0.5, 1.0, 2.0, 0.0])
    projected = project(delta, x, eps)
    assert torch.all(flat_norms(projected) <= eps + 1e-6)
    assert torch.all((x + projected >= 0) & (x + projected <= 1 + 1e-7))


def test_attack_arguments_are_checked():
    with pytest.raises(LipregError, match="unknown attack 'cw'"):
        get_attack("cw")
    with pytest.raises(LipregError, match="unknown step rule 'linf'"):
        IterativeAttack("x", rule="linf")
    with pytest.raises(LipregError, match="steps must be an integer >= 1, got 0"):
        IterativeAttack("x", steps=0)
    model = nn.Linear(4, 2)
    with pytest.raises(LipregError, match=r"attack budgets must be finite and >= 0, got -1.0 \(and 0 more\)"):
        get_attack("pgd-l2")(model, torch.rand(2, 4), torch.zeros(2, dtype=torch.long), torch.tensor([-1.0, 1.0]))
    images = Split(torch.rand(2, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(LipregError, match="attack 'ddn' takes no option 'rtol' \\(it takes gamma, initial_norm, alpha\\)"):
        run_attack(model, images, "ddn", rtol=0.1)
    with pytest.raises(LipregError, match="attack 'deepfool' takes no option 'budgets_per_round', 'loss'"):
        run_attack(model, images, "deepfool", loss="margin", budgets_per_round=2)
    with pytest.raises(LipregError, match="attack 'pgd-l2' takes no option 'gamma'"):
        run_attack(model, images, "pgd-l2", gamma=0.1)
    for name in ("ddn", "deepfool", "pgd-l2"):   # 0 steps is refused, never taken for "the default"
        with pytest.raises(LipregError, match="steps must be an integer >= 1, got 0"):
            run_attack(model, images, name, steps=0)
    with pytest.raises(LipregError, match="NaN or infinite"):
        minimal_distance(model, Split(torch.tensor([[float("nan"), 0, 0, 0]]), torch.zeros(1, dtype=torch.long)), get_attack("fgsm"))


@pytest.mark.parametrize("name", ["pgd-l2", "deepfool", "ddn"])
def test_attacks_run_in_eval_mode_and_restore_the_mode(name, trained, digits):
    """Batch norm in train mode would use each attack batch's own statistics (and update the running
    ones): the attacked function must be the deployed, eval-mode model, and the caller's mode comes back."""
    model = trained.train()
    buffers = {k: v.clone() for k, v in model.state_dict().items()}
    images = Split(digits.test.x[:20], digits.test.y[:20])
    run_attack(model, images, name)
    assert model.training
    assert all(torch.equal(model.state_dict()[k], v) for k, v in buffers.items())
    model.eval()


def test_error_at_a_budget_counts_the_images_closer_than_it_on_a_linear_model(linear_problem):
    """Table 3's error at a fixed ε (arXiv 1810.00953, §5) on the linear model: the images whose
    closed-form distance is below ε (those within 2 % of ε may go either way); at ε = 0, the images
    misclassified clean and no others."""
    model, split, exact = linear_problem
    attack = get_attack("pgd-l2")
    for eps in (0.05, 0.1, 0.2):
        below, near = (exact < 0.98 * eps).double().mean(), (exact < 1.02 * eps).double().mean()
        assert 0 < below and near < 1
        assert 100 * below <= error_at_budget(model, split, attack, eps, batch_size=64) <= 100 * near, eps
    assert error_at_budget(model, split, attack, 0.0) == 0   # y is the model's prediction
    wrong = torch.arange(len(split)) % 7 == 0
    flipped = Split(split.x, torch.where(wrong, 1 - split.y, split.y))
    assert error_at_budget(model, flipped, attack, 0.0) == pytest.approx(100 * wrong.double().mean().item())
