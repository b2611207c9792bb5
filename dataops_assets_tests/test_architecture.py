"""The layers import in one direction only:

    environments (typed config) <- resources <- pillars <- definitions <- runs <- cli

Every import of every module is read (function-local ones too, where the heavy libraries hide), so a
shortcut through a lazy import fails here as surely as one at the top of a file.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import dataops_assets

PACKAGE_DIR = Path(dataops_assets.__file__).parent
PACKAGE = "dataops_assets"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path) -> set[str]:
    """Every module `path` imports anywhere in it, as absolute dotted names."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _layer(*names: str) -> tuple[str, ...]:
    return tuple(f"{PACKAGE}.{n}" for n in names)


# importer prefix -> the prefixes it must not import, and why
RULES: list[tuple[str, tuple[str, ...], str]] = [
    (
        f"{PACKAGE}.environments",
        _layer("resources", "pillars", "provisioning", "runs", "science", "automation", "definitions",
               "sources", "cli"),
        "typed config imports no resources, assets or provisioning",
    ),
    (
        f"{PACKAGE}.resources",
        _layer("pillars", "provisioning", "runs", "science", "automation", "definitions", "cli"),
        "a resource imports no pillar",
    ),
    (
        f"{PACKAGE}.provisioning",
        _layer("pillars", "runs", "science", "automation", "definitions", "cli"),
        "provisioning uses config and resources only",
    ),
    (
        f"{PACKAGE}.pillars",
        _layer("science", "runs", "automation", "definitions", "cli"),
        "a production pillar imports no science track",
    ),
    (f"{PACKAGE}.served", _layer("pillars", "resources", "science", "runs", "cli"), "the contract stands alone"),
    (f"{PACKAGE}.science", _layer("runs", "definitions", "cli"), "the science track runs below the runners"),
    (f"{PACKAGE}.runs", _layer("cli"), "runs are not CLI"),
]  # fmt: skip


def violations(root: Path) -> list[str]:
    """One line per module and broken rule, naming the first forbidden import (sorted, so the shortest)."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted(root.rglob("*.py")):
        importer = _module_name(path, root)
        for imported in sorted(imports_of(path, root)):
            broken = [why for prefix, forbidden, why in RULES if _within(importer, prefix) and
                      any(_within(imported, f) for f in forbidden)]  # fmt: skip
            if _within(imported, "dataops_assets_tests"):
                broken.append("package code never imports the tests")
            if _within(imported, f"{PACKAGE}.cli") and not _within(importer, f"{PACKAGE}.cli"):
                broken.append("nothing outside cli/ imports the CLI")
            for why in broken:
                found.setdefault((importer, why), f"{importer} imports {imported}: {why}")
    return sorted(found.values())


def test_every_import_goes_down_the_layers():
    assert violations(PACKAGE_DIR) == []


def test_the_import_reader_sees_function_local_and_relative_imports(tmp_path):
    package = tmp_path / PACKAGE
    (package / "resources").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "resources" / "__init__.py").write_text("")
    (package / "resources" / "lazy.py").write_text(
        "def later():\n    from dataops_assets.pillars.raw import publish\n"
    )
    (package / "resources" / "relative.py").write_text(
        "from ..cli import main\nimport dataops_assets_tests.services\n"
    )
    assert violations(package) == [
        "dataops_assets.resources.lazy imports dataops_assets.pillars.raw: a resource imports no pillar",
        "dataops_assets.resources.relative imports dataops_assets.cli: a resource imports no pillar",
        "dataops_assets.resources.relative imports dataops_assets.cli: nothing outside cli/ imports the CLI",
        "dataops_assets.resources.relative imports dataops_assets_tests.services: package code never imports the tests",
    ]


@pytest.mark.parametrize(
    "module",
    [
        "dataops_assets.served",
        "dataops_assets.pillars.serving.api.app",
        "dataops_assets.pillars.serving.api.reader",
        "dataops_assets.pillars.processing.dbt_project",  # the API makes the manifest current with it
    ],
)
def test_the_api_and_the_served_contract_load_without_dagster(module):
    probe = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'dagster'))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
