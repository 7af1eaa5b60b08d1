"""Vendor the assets the static book needs offline, at the versions recorded here.

- ``_static/plotly.min.js``: copied from the installed plotly package;
- ``_offline/_static/mathjax/``: MathJax 3 (``tex-chtml.js`` with its fonts and extensions);
- ``_offline/_static/widgets/``: the Jupyter widgets HTML manager (``embed-amd.js`` and fonts),
  ``require.js`` and a ``require-config.js`` pointing module ids at that folder.
The npm packages are fetched with ``npm pack`` (the npm registry). Both folders are git-ignored.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

NPM = {"mathjax": "3.2.2", "@jupyter-widgets/html-manager": "1.0.15", "requirejs": "2.3.8"}
ROOT = Path(__file__).resolve().parents[1]
REQUIRE_CONFIG = """(function () {
  var here = document.currentScript.src.replace(/\\/[^\\/]*$/, "");
  require.config({paths: {"@jupyter-widgets/html-manager/dist": here, "@jupyter-widgets": here}});
})();
"""


def _unpack(name: str, version: str, into: Path) -> Path:
    subprocess.run(["npm", "pack", "--silent", f"{name}@{version}"], cwd=into, check=True, capture_output=True)
    archive = next(into.glob(f"{name.replace('@', '').replace('/', '-')}-{version}.tgz"))
    target = into / archive.stem
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target / "package"


def main() -> None:
    import plotly

    static = ROOT / "_static"
    static.mkdir(exist_ok=True)
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", static / "plotly.min.js")
    offline = ROOT / "_offline" / "_static"
    if (offline / "VERSIONS.json").exists() and json.loads((offline / "VERSIONS.json").read_text()).get("npm") == NPM:
        print("offline assets already present")
        return
    shutil.rmtree(offline, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mathjax = _unpack("mathjax", NPM["mathjax"], tmp) / "es5"
        target = offline / "mathjax"
        target.mkdir(parents=True)
        shutil.copy(mathjax / "tex-chtml.js", target)
        for sub in ("output/chtml/fonts/woff-v2", "input/tex/extensions", "a11y", "ui"):
            shutil.copytree(mathjax / sub, target / sub)
        widgets = offline / "widgets"
        shutil.copytree(_unpack("@jupyter-widgets/html-manager", NPM["@jupyter-widgets/html-manager"], tmp) / "dist", widgets)
        shutil.copy(_unpack("requirejs", NPM["requirejs"], tmp) / "require.js", widgets)
        (widgets / "require-config.js").write_text(REQUIRE_CONFIG)
    (offline / "VERSIONS.json").write_text(json.dumps({"npm": NPM, "plotly": plotly.__version__}, indent=1))
    print(f"vendored {NPM} and plotly {plotly.__version__}")


if __name__ == "__main__":
    main()
