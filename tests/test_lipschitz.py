"""Lipschitz estimates: exact data constant, operator norms, Lemma 3.3 examined, bounds vs gradients."""

import math

import pytest
import torch
from torch import nn

from lipreg_lib.attacks import run_attack
from lipreg_lib.data import Split
from lipreg_lib.defences import unit_directions
from lipreg_lib.evaluate.stability import (certified_radius, jacobian_row_norms, loss_gradient_norms, margins,
                                           stability_statistics)
from lipreg_lib.lipschitz import (absolute_bound, data_lipschitz, empirical_lower_bound, lemma33_estimate,
                                  nearest_other_label, operator_norm, product_bound)
from lipreg_lib.models import build
from lipreg_lib.train import TrainConfig, train
from lipreg_lib.validation import LipregError


def _brute_force(x, y):
    flat = x.double().flatten(1) / 255 if x.dtype == torch.uint8 else x.double().flatten(1)
    d = torch.cdist(flat, flat, compute_mode="donot_use_mm_for_euclid_dist")
    d[(y[:, None] == y[None, :]) | (d == 0)] = math.inf
    return d.min().item()


def test_data_lipschitz_equals_brute_force_across_blocks(digits):
    x, y = digits.train.x[:700], digits.train.y[:700]
    result = data_lipschitz(x, y, chunk=128)
    assert result.min_distance == pytest.approx(_brute_force(x, y), rel=1e-12)
    assert result.lipschitz == pytest.approx(1 / result.min_distance)
    i, j = result.pair
    assert y[i] != y[j] and (x[i].double() - x[j].double()).norm().item() / 255 == pytest.approx(result.min_distance, rel=1e-12)


def test_duplicates_with_different_labels_are_reported_and_dropped(digits):
    x, y = digits.train.x[:300].clone(), digits.train.y[:300].clone()
    x[250] = x[10]
    y[250] = (y[10] + 1) % 10  # CIFAR-100 style: same image, another label
    result = data_lipschitz(x, y, chunk=64)
    assert result.duplicates == 1 and result.duplicate_pairs == [(10, 250)]
    assert result.min_distance > 0 and result.min_distance == pytest.approx(_brute_force(x, y), rel=1e-12)


def test_data_without_two_distinct_labelled_images_has_no_lipschitz_constant(digits):
    x = digits.train.x[:20]
    with pytest.raises(LipregError, match="needs images of at least two labels"):
        data_lipschitz(x, torch.zeros(20, dtype=torch.long))
    with pytest.raises(LipregError, match="every pair of images with different labels is a duplicate"):
        data_lipschitz(x[:1].repeat(2, 1, 1, 1), torch.tensor([0, 1]))


def test_nearest_other_label_matches_brute_force(digits):
    """Also against references of one label only: the queries of that label have no other-label
    neighbour, and get inf."""
    q, qy = digits.test.x[:50], digits.test.y[:50]
    r, ry = digits.train.x[:400], digits.train.y[:400]
    for keep in (torch.ones_like(ry, dtype=torch.bool), ry == 3):
        distances, index = nearest_other_label(q, qy, r[keep], ry[keep], chunk=100)
        full = torch.cdist(q.double().flatten(1) / 255, r[keep].double().flatten(1) / 255, compute_mode="donot_use_mm_for_euclid_dist")
        full[qy[:, None] == ry[keep][None, :]] = math.inf
        expected = full.min(1).values
        assert torch.equal(torch.isinf(distances), torch.isinf(expected)) and torch.isinf(expected).any() == (not keep.all())
        finite = torch.isfinite(expected)
        assert torch.allclose(distances[finite], expected[finite], rtol=1e-6)
        assert torch.all(qy[finite] != ry[keep][index[finite]])


def test_conv_operator_norm_equals_the_dense_matrix_norm():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1)
    value, shape = operator_norm(conv, (2, 7, 7))
    basis = torch.eye(98).view(98, 2, 7, 7)
    dense = nn.functional.conv2d(basis, conv.weight, None, 2, 1).view(98, -1).T.double()
    assert shape == (3, 4, 4) and value == pytest.approx(torch.linalg.matrix_norm(dense, 2).item(), rel=1e-6)


def test_lemma_33_fails_on_a_cancelling_network_and_the_absolute_variant_holds():
    """f(x) = relu(x) + relu(−x) = |x|: W₂W₁ = 0, yet ‖∇f‖ = 1 everywhere but 0."""
    net = nn.Sequential(nn.Linear(1, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0], [-1.0]]))
        net[2].weight.copy_(torch.tensor([[1.0, 1.0]]))
    points = Split(torch.tensor([[-0.7], [0.3]]), torch.zeros(2, dtype=torch.long))
    assert empirical_lower_bound(net, points) == pytest.approx(1.0)
    assert lemma33_estimate(net, (1,)) == pytest.approx(0.0)  # the claimed bound is violated
    assert absolute_bound(net, (1,)) == pytest.approx(2.0)
    assert product_bound(net, (1,)) == pytest.approx(2 ** 0.5 * 2 ** 0.5)


@pytest.mark.parametrize("name", ["mlp", "small-cnn"])
def test_valid_bounds_dominate_every_gradient_on_a_trained_network(name, digits):
    model = train(TrainConfig(epochs=3, model=name), dataset=digits, progress=False).model.eval()
    empirical = empirical_lower_bound(model, digits.test)
    assert product_bound(model, (1, 8, 8)) >= empirical
    if name == "mlp":  # Lemma 3.3 needs linear layers and entry-wise activations only
        assert absolute_bound(model, (1, 8, 8)) >= empirical


def test_absolute_bound_holds_for_resnets_with_batch_norm(digits):
    torch.manual_seed(0)
    model = build("resnet34", 10, (3, 8, 8)).eval()
    x = torch.rand(16, 3, 8, 8)
    bound = absolute_bound(model, (3, 8, 8))
    assert math.isfinite(bound) and bound >= jacobian_row_norms(model, Split(x, torch.zeros(16, dtype=torch.long))).max()


def test_jacobian_row_norms_match_autograd_jacobian(digits):
    torch.manual_seed(0)
    model = build("mlp", 10, (1, 8, 8)).eval()
    split = Split(digits.test.x[:5], digits.test.y[:5])
    ours = jacobian_row_norms(model, split)
    for i, x in enumerate(split.floats()):
        jac = torch.autograd.functional.jacobian(lambda v: model(v[None])[0], x).flatten(1)
        assert ours[i].item() == pytest.approx(jac.norm(dim=1).max().item(), rel=1e-5)


def test_authors_gradient_statistic_is_the_per_example_one_divided_by_the_batch(digits):
    model = build("mlp", 10, (1, 8, 8)).eval()
    split = Split(digits.test.x[:100], digits.test.y[:100])
    stats = stability_statistics(model, split, batch_size=50)
    per_example = stats["max_loss_gradient_per_example"]
    assert stats["max_loss_gradient"] == pytest.approx(per_example / 50) and stats["gradient_batch_size"] == 50
    assert per_example == pytest.approx(loss_gradient_norms(model, split).max().item())


def test_no_attack_beats_the_certified_radius(digits):
    """eq. 2: a label cannot change within margin / (2 L) when L bounds every logit's gradient."""
    model = train(TrainConfig(epochs=3, model="mlp"), dataset=digits, progress=False).model.eval()
    split = Split(digits.test.x[:100], digits.test.y[:100])
    radius = certified_radius(margins(model, split), absolute_bound(model, (1, 8, 8)))
    distances = run_attack(model, split, "pgd-l2").distances.float()
    assert radius.max() > 0 and torch.all(distances >= radius - 1e-6)


def test_cosine_between_gradient_and_sign_lies_in_its_range():
    """cos θ = ‖g‖₁ / (√n ‖g‖₂) ∈ [1/√n, 1], with equality for a one-hot and a constant-magnitude g."""
    n = 50
    g = torch.randn(200, n)
    # the cosine between the library's two unit directions: the gradient attack's g/‖g‖₂ and FGSM's sign(g)/√n
    def cos(v):
        return (unit_directions(v, "l2") * unit_directions(v, "linf-unit-l2")).sum(1)

    assert torch.allclose(cos(g), g.norm(p=1, dim=1) / (n ** 0.5 * g.norm(dim=1)))
    assert torch.all((cos(g) >= 1 / n ** 0.5 - 1e-6) & (cos(g) <= 1 + 1e-6))
    nearly_one_hot = torch.full((1, n), 1e-6)  # no zero entries, so ‖sign g‖₂ = √n
    nearly_one_hot[0, 3] = 2.0
    assert cos(nearly_one_hot).item() == pytest.approx(1 / n ** 0.5, rel=1e-4)
    assert cos(torch.ones(1, n)).item() == pytest.approx(1.0)
