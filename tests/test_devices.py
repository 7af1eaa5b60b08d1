"""The device convention (lipreg_lib.devices): every function that takes a model and data runs on the
model's device and hands per-image results back on the CPU, so a chapter's CPU tensors work with a model
trained on a GPU (Colab). The CUDA tests run where a GPU is present (they are skipped on a CPU machine)."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch
from torch import nn

from lipreg_lib.attacks import get_attack, recheck, run_attack
from lipreg_lib.devices import NEW_PRECISION_API, full_float32, model_device
from lipreg_lib.evaluate.budget import error_at_budget
from lipreg_lib.evaluate.clean import clean_metrics, logits_of
from lipreg_lib.evaluate.gallery import gallery_record
from lipreg_lib.evaluate.stability import jacobian_row_norms, loss_gradient_norms, margins
from lipreg_lib.gradients import loss_gradient
from lipreg_lib.lipschitz import absolute_bound, empirical_lower_bound, lemma33_estimate, product_bound
from lipreg_lib.models.small import small_cnn
from lipreg_lib.validation import LipregError
from lipreg_lib.train import TrainConfig, train

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_model_device_is_where_the_parameters_are_and_the_cpu_without_any():
    assert model_device(nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(nn.ReLU()) == torch.device("cpu")
    assert model_device(nn.BatchNorm1d(3, affine=False)) == torch.device("cpu")  # buffers only


PRECISION_PROBE = """
import torch
from lipreg_lib.devices import full_float32, precision_leaves
backends, leaves = torch.backends, precision_leaves()
before = [leaf.fp32_precision for leaf in leaves]
with full_float32():
    assert all(leaf.fp32_precision == "ieee" for leaf in leaves)
assert [leaf.fp32_precision for leaf in leaves] == before
torch.set_float32_matmul_precision("medium")   # common advice on GPUs: bfloat16 products on the CPU too
assert backends.mkldnn.matmul.fp32_precision == "bf16"
with full_float32():
    assert backends.cuda.matmul.fp32_precision == backends.mkldnn.matmul.fp32_precision == "ieee"
assert torch.get_float32_matmul_precision() == "medium" and backends.mkldnn.matmul.fp32_precision == "bf16"
for leaf in leaves:
    leaf.fp32_precision = "none"
backends.fp32_precision = "tf32"               # inherited by every leaf ...
with full_float32():
    pass
backends.fp32_precision = "ieee"               # ... and still inherited after full_float32
assert all(leaf.fp32_precision == "ieee" for leaf in leaves)
backends.fp32_precision = "none"
with backends.mkldnn.flags(enabled=True, fp32_precision="bf16"):   # oneDNN's own level: the global one stays
    with full_float32():
        pass
    assert backends.fp32_precision == "none"
print("ok")
"""


@pytest.mark.skipif(not NEW_PRECISION_API, reason="torch < 2.9 has only the allow_tf32 flags")
def test_full_float32_turns_reduced_precision_off_inside_and_gives_every_setting_back():
    """In a fresh interpreter, so that the process-wide settings it changes cannot reach other tests (a
    leaked "medium" once made every later test's CPU products bfloat16 on an H100 machine's CPU)."""
    run = subprocess.run([sys.executable, "-W", "ignore", "-c", PRECISION_PROBE], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


@pytest.mark.skipif(NEW_PRECISION_API, reason="torch ≥ 2.9 switches TF32 through fp32_precision")
def test_full_float32_turns_the_legacy_tf32_flags_off_inside_and_restores_them():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        with full_float32():
            assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        torch.set_float32_matmul_precision("medium")   # restored as "medium", not as the "high" allow_tf32 = True means
        with full_float32():
            assert torch.get_float32_matmul_precision() == "highest"
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.fixture(scope="module")
def models(digits):
    """The same trained network on the CPU and on the GPU."""
    on_cpu = train(TrainConfig(model="small-cnn", epochs=1), dataset=digits, device="cpu", progress=False).model.eval()
    return on_cpu, copy.deepcopy(on_cpu).cuda()


def conv_bn_net() -> nn.Sequential:
    """A conv-BN-ReLU-linear net without max-pooling, the layers Lemma 3.3's linearisation takes, in eval
    mode with batch-norm statistics away from the identity (so that a device slip in them would show)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10)).eval()
    with torch.no_grad():
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
    return net


def test_the_linearised_bounds_take_the_device_test_net_and_refuse_max_pooling():
    """On the CPU, what the GPU test below relies on: the conv-BN net gets finite Lemma 3.3 bounds, and
    small-cnn, whose max-pooling the linearisation cannot take, is refused by name."""
    assert all(0 < bound(conv_bn_net(), (1, 8, 8)) < float("inf") for bound in (lemma33_estimate, absolute_bound))
    with pytest.raises(LipregError, match="MaxPool2d|max-pool"):
        lemma33_estimate(small_cnn(10, (1, 8, 8), width=4), (1, 8, 8))


@cuda
def test_a_gpu_model_takes_cpu_data_and_gives_cpu_results(models, digits):
    on_cpu, on_gpu = models
    test = digits.test.head(200)
    x, y = test.floats(), test.y
    assert model_device(on_gpu).type == "cuda" and x.device.type == "cpu"
    out = logits_of(on_gpu, x)
    assert out.device == x.device and torch.allclose(out, logits_of(on_cpu, x), atol=1e-4)
    # loss_gradient keeps the GPU's default precision, as training does: there TF32 convolutions put this model's
    # input gradient off by up to 7.5 % of its largest entry (an H200, against float64; the logits by 6e-5),
    # so the device convention is checked in full float32, where each is within 3e-7 of float64's (relative to the
    # largest entry)
    with full_float32():
        g, logits = loss_gradient(on_gpu, x, y)
    g_cpu, logits_cpu = loss_gradient(on_cpu, x, y)
    assert g.device == x.device and logits.device == x.device
    assert torch.allclose(g, g_cpu, rtol=0, atol=1e-5 * g_cpu.abs().max()) and torch.allclose(logits, logits_cpu, rtol=1e-5, atol=1e-5)
    for per_image in (margins, loss_gradient_norms, jacobian_row_norms):   # evaluation: full float32 on the GPU
        values, reference = per_image(on_gpu, test), per_image(on_cpu, test)
        assert values.device.type == "cpu", per_image.__name__
        assert torch.allclose(values, reference, rtol=1e-3, atol=1e-4 * reference.abs().max()), per_image.__name__
    assert clean_metrics(on_gpu, test)["accuracy"] == pytest.approx(clean_metrics(on_cpu, test)["accuracy"], abs=1 / len(test))
    assert product_bound(on_gpu, (1, 8, 8)) == pytest.approx(product_bound(on_cpu, (1, 8, 8)), rel=1e-4)
    linear = conv_bn_net()   # the linearised bounds refuse max-pooling (small-cnn has it): a net they take
    for bound in (lemma33_estimate, absolute_bound, product_bound):
        assert bound(copy.deepcopy(linear).cuda(), (1, 8, 8)) == pytest.approx(bound(linear, (1, 8, 8)), rel=1e-4), bound.__name__
    assert empirical_lower_bound(on_gpu, test) == pytest.approx(empirical_lower_bound(on_cpu, test), rel=0.02)


@cuda
def test_attacks_on_a_gpu_model_with_cpu_data_match_the_cpu_run(models, digits):
    on_cpu, on_gpu = models
    test = digits.test.head(200)
    attack = get_attack("pgd-l2")
    adversarial, success = attack(on_gpu, test.floats(), test.y, torch.full((len(test),), 0.5))
    assert adversarial.device.type == "cpu" and success.device.type == "cpu"
    assert error_at_budget(on_gpu, test, attack, 0.5) == pytest.approx(error_at_budget(on_cpu, test, attack, 0.5), abs=1.0)
    for name, options in (("pgd-l2", {"budgets_per_round": 1}), ("ddn", {})):   # the same search on both devices
        gpu, cpu = run_attack(on_gpu, test, name, **options), run_attack(on_cpu, test, name)
        assert gpu.distances.device.type == "cpu" and gpu.adversarial.device.type == "cpu"
        both = torch.isfinite(gpu.distances) & torch.isfinite(cpu.distances)
        assert both.float().mean() > 0.95, name
        relative = (gpu.distances[both] - cpu.distances[both]).abs() / cpu.distances[both].clamp_min(1e-6)
        assert relative.median() < 0.01 and (relative < 0.05).float().mean() > 0.9, name   # float32 rounding differs by device
        fooled = gpu.found & (gpu.distances > 0)   # every example the GPU run reports fools the model checked again in
        again, on_boundary = recheck(on_gpu, gpu.adversarial[fooled], test.y[fooled].cuda())   # another batch, or lies on
        assert torch.all(again | on_boundary), name                                            # the boundary within rounding
        on_cpu_too = logits_of(on_cpu, gpu.adversarial[fooled]).argmax(1) != test.y[fooled]
        assert on_cpu_too.float().mean() > 0.97, name   # and almost always on the CPU (rounding differs by device)
    record = gallery_record(on_gpu, test, "digits", ["fgsm", "pgd-l2"], n=3)   # the gallery tool on a GPU
    assert all(a["predicted"] != entry["label"] for entry in record["images"] for a in entry["attacks"].values())


def test_a_device_other_than_the_cpu_or_an_available_gpu_is_refused_by_name(monkeypatch):
    """Before any work: 'mps' or a GPU index the machine does not have would otherwise fail mid-training."""
    from lipreg_lib.runio import resolve_device

    for name in ("mps", "meta", "gpu"):
        with pytest.raises(LipregError, match=f"unknown device '{name}'; use auto, cpu, cuda or cuda:N"):
            resolve_device(name)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)   # a machine with one GPU
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0) and resolve_device("cuda") == torch.device("cuda")
    with pytest.raises(LipregError, match=r"device 'cuda:7' requested but this machine has 1 CUDA GPU\(s\): cuda:0 to cuda:0"):
        resolve_device("cuda:7")
