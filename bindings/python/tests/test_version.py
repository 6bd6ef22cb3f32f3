"""The installed package reports the Cargo version of rtmfp-core."""

from __future__ import annotations

import re
import sys
from importlib import resources
from pathlib import Path

import rtmfp

REPO = Path(__file__).resolve().parents[3]


def _load_toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(path.read_text(encoding="utf-8"))
    pytest = __import__("pytest")
    pytest.skip("needs tomllib (Python >= 3.11) to read Cargo.toml")


def cargo_version() -> str:
    """rtmfp-core's version, following `version.workspace = true`."""
    core = _load_toml(REPO / "rtmfp-core" / "Cargo.toml")["package"]["version"]
    if isinstance(core, dict) and core.get("workspace"):
        return _load_toml(REPO / "Cargo.toml")["workspace"]["package"]["version"]
    return core


def test_version_matches_cargo() -> None:
    assert rtmfp.__version__ == cargo_version()


def test_version_is_semver() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?", rtmfp.__version__)


def test_package_is_typed() -> None:
    pkg = resources.files("rtmfp")
    assert pkg.joinpath("py.typed").is_file()
    assert pkg.joinpath("_rtmfp.pyi").is_file()


def test_imported_from_site_packages_not_source_tree() -> None:
    # The compiled module must come from the installed wheel.
    assert "site-packages" in (rtmfp.__file__ or "")
