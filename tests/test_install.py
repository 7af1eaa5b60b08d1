"""The Colab path: the package installs from a wheel, outside any checkout, with the committed results
inside it and the extras the chapters need; every chapter installs it from the one configured URL."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from lipreg_lib.book import install_cell

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from set_repository import chapters, configured_repository, install_cell_of  # noqa: E402


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory):
    """A wheel of this checkout installed into a fresh venv that sees the test environment's packages
    (torch, Jupyter, …) as Colab's preinstalled ones, but not its lipreg: ``(wheel, python, site, venv)``."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    shutil.copytree(ROOT / "lipreg_lib", source / "lipreg_lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "data" / "results", source / "data" / "results")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"),
                    str(source)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("lipreg-*.whl")
    # pip --python installs into the venv without touching the environment running the tests
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index", "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    return wheel, python, site, venv


@pytest.mark.slow
def test_a_wheel_installed_outside_the_checkout_finds_the_committed_results(installed_wheel, tmp_path):
    wheel, python, site, venv = installed_wheel
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith("METADATA"))).decode()
    assert 'Requires-Dist: foolbox==3.3.4; extra == "attacks"' in metadata
    assert "Requires-Dist: torch>=2.1" in metadata  # a lower bound only: Colab's own torch is kept
    probe = ("import json, lipreg_lib; from lipreg_lib.book import results_dir, load_results; "
             "print(json.dumps([lipreg_lib.__file__, str(results_dir()), len(load_results('mnist')['runs'])]))")
    out = subprocess.run([str(python), "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    module, results, runs = json.loads(out.strip().splitlines()[-1])
    assert Path(module).is_relative_to(site) and Path(results) == (venv / "share" / "lipreg" / "results").resolve()
    assert runs == len(json.loads((ROOT / "data" / "results" / "mnist.json").read_text())["runs"])
    shipped = {p.name for p in Path(results).iterdir()}
    assert shipped == {p.name for p in (ROOT / "data" / "results").iterdir()}


@pytest.mark.slow
def test_every_chapter_executes_with_the_installed_wheel_outside_the_checkout(installed_wheel, tmp_path):
    """What a Colab reader does after the install cell: run every chapter top to bottom, in a folder
    without the repository, with the wheel's lipreg_lib and results (quick mode)."""
    _, python, site, _ = installed_wheel
    book = tmp_path / "book"
    book.mkdir()
    for path in chapters():
        shutil.copy(path, book / path.name)
    env = {k: v for k, v in os.environ.items() if k not in ("LIPREG_FULL", "LIPREG_DATASET", "PYTHONPATH")}
    run = subprocess.run([str(python), str(ROOT / "tools" / "time_chapters.py"), "--book", str(book), "--out", str(tmp_path / "times.json")],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    times = json.loads((tmp_path / "times.json").read_text())["times"]
    assert sorted(t["chapter"] for t in times) == sorted(p.stem for p in chapters() if p.stem[:2].isdigit())
    assert all(Path(t["lipreg_lib"]).is_relative_to(site) and t["mode"] == "quick" for t in times)


def test_every_chapter_installs_from_the_one_configured_repository():
    url = configured_repository()
    cells = {path.name: install_cell_of(json.loads(path.read_text())) for path in chapters()}
    with_cell = {name: cell for name, cell in cells.items() if cell is not None}
    assert len(with_cell) >= 9
    for name, cell in with_cell.items():
        assert "".join(cell["source"]) == install_cell(url), name
    assert f"lipreg[attacks] @ git+{url}" in install_cell(url)


@pytest.mark.parametrize("url", ['https://example.org/a"b', "http://example.org/x", "https://exa mple.org"])
def test_set_repository_refuses_a_url_that_would_break_the_install_cell(url):
    before = {p: p.read_bytes() for p in [ROOT / "_config.yml", *chapters()]}
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "set_repository.py"), url], capture_output=True, text=True)
    assert run.returncode != 0 and "not a plain https URL" in run.stderr
    assert all(p.read_bytes() == content for p, content in before.items())
