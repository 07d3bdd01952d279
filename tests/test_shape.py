"""The shape of the tree (README: Design): no stage reaches up to the package face, and no
module grows past its bound. import-linter (in .ci/run) checks the layers and the cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import crawler

PACKAGE = Path(crawler.__file__).resolve().parent
MAX_LINES = 400


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_no_module_imports_the_package_face() -> None:
    face = set(crawler.__all__)
    offenders = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "crawler":
                offenders += [f"{path.relative_to(PACKAGE)}: {a.name}" for a in node.names if a.name in face]
    assert offenders == []


def test_modules_stay_small() -> None:
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text("utf-8").splitlines()) for p in modules()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_the_license_pyproject_names_is_shipped() -> None:
    import tomllib

    root = PACKAGE.parent
    declared = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))["project"]["license"]["text"]
    assert (root / "LICENSE").read_text("utf-8").splitlines()[0] == f"{declared} License"
