"""The layout's promises: imports point one way, and production leaves the generator out."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(package: str) -> dict[str, set[str]]:
    """Each Python file of `package` (a folder under the project) and the modules it imports.

    Migrations are left out: they are database operations themselves, and use the maintenance
    app's operations, checks and verification."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.relative_to(ROOT).parts:
            continue
        modules = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module)
        found[str(path.relative_to(ROOT))] = modules
    return found


def _offending(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path} imports {module}"
        for path, modules in _imported_modules(package).items()
        for module in sorted(modules)
        if any(module == name or module.startswith(f"{name}.") for name in forbidden)
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        # The goal tree knows nothing of the session data; sessions register their part.
        ("goals", ("sessions", "goals_project.maintenance", "goals_project.devdata")),
        # The shared bases know nothing of what builds on them.
        ("goals_project/bases", ("goals", "sessions", "goals_project.maintenance")),
        # Database operations read the apps, never the development data.
        ("goals_project/maintenance", ("sessions", "goals_project.devdata")),
        ("sessions", ("goals_project.maintenance", "goals_project.devdata")),
    ],
)
def test_imports_point_one_way(package, forbidden):
    assert _offending(package, forbidden) == []


def _commands(settings_module: str) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module}
    env.setdefault("DATABASE_URL", "sqlite:///:memory:")
    result = subprocess.run(
        [sys.executable, "manage.py", "help", "--commands"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_production_settings_leave_the_generator_out():
    production = _commands("goals_project.settings")
    development = _commands("goals_project.settings_dev")
    assert "make_legacy_db" not in production
    assert "make_legacy_db" in development
    for command in ("migrate", "verify_root_ids", "backup_db", "restore_db", "list_backups"):
        assert command in production
    assert "assign_fractal_owner" in production
