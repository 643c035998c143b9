"""Structural rules that keep the codebase honest."""

from __future__ import annotations

import ast
import re
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


# The ledger's tables and columns (loyalty.ledger): earning-history entries, the activity log and
# the customer's balance counters are written there and nowhere else.
LEDGER = ROOT / "loyalty" / "ledger"
LEDGER_SCANNED = ("loyalty", "web", "workers", "cli", "standins", "bench")
NOT_RUNTIME = (ROOT / "loyalty" / "migrations",)  # schema history, not code that writes rows
# Synthetic data for benchmarks, loaded set-based into a throwaway database before the app runs
# (10 M entries cannot go through the ledger one by one): not a write path of the app.
BENCH_SEEDS = (ROOT / "bench" / "scale_seed.py",)
LEDGER_MODELS = {"EarningHistoryEntry", "Activity"}
BALANCE_COLUMNS = ("points_balance", "pending_points", "lifetime_points")
ORM_WRITES = {"create", "bulk_create", "bulk_update", "get_or_create", "update_or_create", "update"}
_LEDGER_SQL = (
    re.compile(r'\bINSERT\s+INTO\s+"?(earning_history_entry|activity)"?(?!\w)', re.IGNORECASE),
    re.compile(r'\bUPDATE\s+"?(earning_history_entry|activity)"?(?!\w)', re.IGNORECASE),
    re.compile(
        r'\bUPDATE\s+"?customer"?(?:\s+(?:AS\s+)?\w+)?\s+SET\b.*?(?<![.\w])"?('
        + "|".join(BALANCE_COLUMNS)
        + r')"?\s*=(?!=)',
        re.IGNORECASE | re.DOTALL,
    ),
)


def _literal_texts(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal, f-strings with their interpolations blanked, with its line."""
    texts = []
    inside_fstrings = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    for node in ast.walk(tree):
        if id(node) in inside_fstrings:
            continue
        if isinstance(node, ast.JoinedStr):
            parts = [
                part.value if isinstance(part, ast.Constant) else " {} " for part in node.values
            ]
            texts.append((node.lineno, "".join(str(part) for part in parts)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            texts.append((node.lineno, node.value))
    return texts


def _chain_root(node: ast.expr) -> str | None:
    """The name a call chain starts from: `Activity` in `Activity.filter(x).update(y)`."""
    while isinstance(node, (ast.Call, ast.Attribute)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _orm_names(tree: ast.AST) -> set[str]:
    """The names a module binds to the ORM's models (`from loyalty.models… import X as Y`): a
    response model that happens to share a model's name is not the model."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("loyalty.models")
        for alias in node.names
    }


def ledger_writes(path: Path) -> list[str]:
    """Where `path` writes an entry, an activity row or a balance column: SQL text, ORM calls
    on the ledger's models (or a Customer update of a balance column), model construction,
    and assignments to a balance attribute."""
    tree = ast.parse(path.read_text(), filename=str(path))
    orm = _orm_names(tree)
    ledger_models = LEDGER_MODELS & orm
    found = [
        f"{line}: SQL writes {match.group(1)}"
        for line, text in _literal_texts(tree)
        for pattern in _LEDGER_SQL
        if (match := pattern.search(text))
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            root = _chain_root(node.func.value)
            if node.func.attr in ORM_WRITES and root in ledger_models:
                found.append(f"{node.lineno}: {root}….{node.func.attr}()")
            touched = {k.arg for k in node.keywords} & set(BALANCE_COLUMNS)
            if (
                node.func.attr in ORM_WRITES
                and root == "Customer"
                and "Customer" in orm
                and touched
            ):
                found.append(f"{node.lineno}: Customer….{node.func.attr}({sorted(touched)})")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ledger_models:
                found.append(f"{node.lineno}: {node.func.id}(…) built to be saved")
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in BALANCE_COLUMNS:
                    found.append(f"{node.lineno}: assigns .{target.attr}")
    return found


class TestLedgerIsTheOnlyWriter:
    def test_entries_balances_and_activity_are_written_only_in_the_ledger(self) -> None:
        """Nothing outside loyalty/ledger/ inserts or updates earning_history_entry or
        activity, or moves a customer's balance, pending or lifetime points."""
        offences = [
            f"{path.relative_to(ROOT)}:{where}"
            for top in LEDGER_SCANNED
            if (ROOT / top).is_dir()
            for path in sorted((ROOT / top).rglob("*.py"))
            if LEDGER not in path.parents and not any(p in path.parents for p in NOT_RUNTIME)
            if path not in BENCH_SEEDS
            for where in ledger_writes(path)
        ]
        assert offences == []

    def test_the_check_itself_catches_an_offence(self, tmp_path: Path) -> None:
        """Each kind of write is seen; reads, locks and other customer columns are not."""
        offending = tmp_path / "offending.py"
        offending.write_text(
            "from loyalty.models import Activity, Customer, EarningHistoryEntry\n"
            '"INSERT INTO earning_history_entry (id) VALUES (1)"\n'
            'X = f"""INSERT INTO activity (kind) SELECT {k}"""\n'
            '"UPDATE earning_history_entry SET points_remaining = 0"\n'
            '"UPDATE customer c SET\\n    points_balance = c.points_balance + $2"\n'
            '"UPDATE customer SET updated_at = $3, lifetime_points = 0"\n'
            "await Activity.create(kind='x')\n"
            "await Activity.bulk_create([])\n"
            "await EarningHistoryEntry.filter(id=1).update(points_remaining=0)\n"
            "await EarningHistoryEntry.create(points=1)\n"
            "await Customer.filter(id=1).update(points_balance=0)\n"
            "row = Activity(kind='x')\n"
            "customer.pending_points += 1\n"
        )
        lines = sorted(int(where.split(":")[0]) for where in ledger_writes(offending))
        assert lines == list(range(2, 14))  # one finding per offending line, none missed
        clean = tmp_path / "clean.py"
        clean.write_text(
            '"SELECT points_balance FROM customer WHERE id = $1"\n'
            '"UPDATE customer SET vip_tier_id = 1 WHERE lifetime_points >= 5"\n'
            '"UPDATE customer SET vip_tier_id = (SELECT 1 WHERE t.x <= customer.lifetime_points)"\n'
            "await EarningHistoryEntry.filter(id=1).select_for_update().first()\n"
            "await Activity.filter(shop_id=1).delete()\n"
            "await Customer.filter(id=1).update(is_excluded=True)\n"
            "total = customer.points_balance + 1\n"
            "document = EarningHistoryEntry(id='cer_1')  # a response model, not the ORM's\n"
        )
        assert ledger_writes(clean) == []


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


MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
SIZED = ("loyalty", "web", "workers")


def oversized(path: Path) -> list[str]:
    """The module if it is over MAX_MODULE_LINES, and each function over MAX_FUNCTION_LINES."""
    text = path.read_text()
    found = []
    if (lines := len(text.splitlines())) > MAX_MODULE_LINES:
        found.append(f"module of {lines} lines")
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{node.name}() of {length} lines")
    return found


class TestSizes:
    def test_no_module_over_400_lines_and_no_function_over_80(self) -> None:
        """Small modules and functions, so each reads as one idea (migrations aside)."""
        offences = [
            f"{path.relative_to(ROOT)}: {what}"
            for top in SIZED
            for path in sorted((ROOT / top).rglob("*.py"))
            if "migrations" not in path.parts
            for what in oversized(path)
        ]
        assert offences == []

    def test_the_check_itself_sees_both(self, tmp_path: Path) -> None:
        sample = tmp_path / "big.py"
        body = "\n".join(f"    x = {n}" for n in range(MAX_FUNCTION_LINES))
        sample.write_text("def long():\n" + body + "\n" + "\n" * MAX_MODULE_LINES)
        assert oversized(sample) == [
            f"module of {MAX_FUNCTION_LINES + 1 + MAX_MODULE_LINES} lines",
            f"long() of {MAX_FUNCTION_LINES + 1} lines",
        ]
