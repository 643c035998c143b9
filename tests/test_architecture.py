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
