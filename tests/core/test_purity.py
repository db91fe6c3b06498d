"""The core stays pure: it imports nothing from Django or the web layer."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "src" / "isoguard" / "core"
FORBIDDEN = (
    "django",
    "ninja",
    "isoguard.accounts",
    "isoguard.patients",
    "isoguard.courses",
    "isoguard.audit",
    "isoguard.web",
    "isoguard.api",
    "isoguard.interop",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_no_core_module_imports_the_web_framework(path):
    bad = {
        m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN or m.startswith(FORBIDDEN)
    }
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_importing_every_core_module_loads_no_django():
    modules = [
        "isoguard.core." + str(p.relative_to(CORE).with_suffix("")).replace("/", ".")
        for p in CORE.rglob("*.py")
        if p.name != "__init__.py"
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'ninja'))\n"
        "assert not leaked, leaked\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_purity_check_would_catch_a_django_import(tmp_path):
    offender = tmp_path / "bad.py"
    offender.write_text("from django.db import models\n")
    assert "django.db" in imported_modules(offender)
