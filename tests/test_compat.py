import subprocess
import sys

from lipreg_lib import _torchvision_compat


def test_patch_applies_exactly_when_plain_import_fails():
    plain = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True, text=True)
    torchvision = _torchvision_compat.import_torchvision()
    assert hasattr(torchvision.datasets, "MNIST") and hasattr(torchvision.transforms, "ToTensor")
    if plain.returncode == 0:
        assert not _torchvision_compat.was_patched()
    else:
        assert "torchvision::nms does not exist" in plain.stderr
        assert _torchvision_compat.was_patched()


def test_import_is_idempotent():
    first = _torchvision_compat.import_torchvision()
    assert _torchvision_compat.import_torchvision() is first
