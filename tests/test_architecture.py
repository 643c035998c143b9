"""Structural rules that keep the codebase honest."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_CORE = ("starlette", "arq", "web", "workers", "uvicorn", "cli")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            # importlib.import_module("web.x") would dodge the rule; forbid it in the core.
            names.add("<dynamic import>")
    return names


class TestCoreBoundary:
    def test_loyalty_imports_neither_web_nor_workers_nor_their_frameworks(self) -> None:
        """loyalty/ never imports starlette, arq, uvicorn, web, workers or cli."""
        offences = []
        for path in sorted((ROOT / "loyalty").rglob("*.py")):
            for module in imported_modules(path):
                top = module.split(".")[0]
                if top in FORBIDDEN_IN_CORE or module == "<dynamic import>":
                    offences.append(f"{path.relative_to(ROOT)}: {module}")
        assert offences == []

    def test_the_check_itself_catches_an_offence(self, tmp_path: Path) -> None:
        """The scanner sees plain, from- and dynamic imports."""
        sample = tmp_path / "sample.py"
        sample.write_text(
            "import starlette.requests\nfrom arq import cron\nimportlib.import_module('web')\n"
        )
        assert imported_modules(sample) == {"starlette.requests", "arq", "<dynamic import>"}

    def test_web_never_imports_worker_code(self) -> None:
        """The web side enqueues by name; it never imports workers/."""
        offences = [
            f"{path.relative_to(ROOT)}: {module}"
            for path in sorted((ROOT / "web").rglob("*.py"))
            for module in imported_modules(path)
            if module.split(".")[0] == "workers"
        ]
        assert offences == []


class TestMigrations:
    def test_models_and_migrations_agree(self) -> None:
        """`tortoise makemigrations` would find nothing to do: the schema is all in migrations."""
        script = """
import asyncio
from tortoise.cli.cli import tortoise_cli_context
from tortoise.migrations.autodetector import MigrationAutodetector
from loyalty.db import tortoise_config

async def main():
    config = tortoise_config("sqlite://:memory:")
    async with tortoise_cli_context(config) as ctx:
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    print(len(writers), [op for w in writers for op in getattr(w, "operations", [])])

asyncio.run(main())
"""
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("0 "), (
            f"models changed without a migration: {result.stdout}"
        )


LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` (the contracts in [tool.importlinter], pyproject.toml) over `root`'s tree."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": str(LINT_IMPORTS.parent)},
        capture_output=True,
        text=True,
        timeout=120,
    )


class TestLayerContracts:
    """The core imports no web, worker, Starlette or arq, and no two core packages import each
    other (the layers in pyproject.toml, loyalty.jobs on top): import-linter keeps both."""

    def test_every_contract_is_kept(self) -> None:
        result = lint_imports(ROOT)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Contracts: 3 kept, 0 broken." in result.stdout

    def test_a_cycle_between_core_packages_breaks_a_contract(self, tmp_path: Path) -> None:
        """The outbox reaching up into the webhooks (as its sweep once did) is refused."""
        for package in ("loyalty", "web", "workers", "cli"):
            for path in (ROOT / package).rglob("*.py"):
                copy = tmp_path / path.relative_to(ROOT)
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy.write_text(path.read_text())
        (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
        assert lint_imports(tmp_path).returncode == 0
        dispatch = tmp_path / "loyalty" / "outbox" / "dispatch.py"
        dispatch.write_text(dispatch.read_text() + "\nimport loyalty.webhooks.inbox\n")
        result = lint_imports(tmp_path)
        assert result.returncode != 0
        assert "loyalty.outbox is not allowed to import loyalty.webhooks" in result.stdout
