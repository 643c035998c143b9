"""The `loyalty` command line, run as a user runs it (a subprocess) against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from loyalty.clock import utcnow
from loyalty.models import ApiKey, Customer, EarningRule, Shop, VipTier
from tests.conftest import RunningApp

ROOT = Path(__file__).resolve().parent.parent


def loyalty(
    database_url: str,
    *args: str,
    data_dir: Path,
    timeout: float = 120,
    environ: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "LOYALTY_DATA_DIR": str(data_dir)}
    env.pop("REDIS_URL", None)
    env.update(environ or {})
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class TestDemo:
    async def test_seeds_the_documented_shop_and_prints_json(self, db: str, tmp_path: Path) -> None:
        """`loyalty demo --json` prints the shop, a key, rules, tiers and customers."""
        result = loyalty(db, "demo", "--json", data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        seed = json.loads(result.stdout)

        assert set(seed) == {"shop", "api_key", "rules", "tiers", "rewards", "customers"}
        assert seed["shop"] == "demo.myshopify.com"
        rules = {r["id"]: r for r in seed["rules"]}
        assert {"id", "name", "action", "category", "points", "is_active", "approval_time"} == set(
            next(iter(rules.values()))
        )
        social_active = [r for r in rules.values() if r["category"] == "social" and r["is_active"]]
        assert social_active and all(r["approval_time"] == 0 for r in social_active)
        assert any(
            r["is_active"] and r["approval_time"] > 0 and r["category"] in {"social", "engagement"}
            for r in rules.values()
        )
        assert any(not r["is_active"] and r["category"] == "social" for r in rules.values())
        assert any(r["category"] == "purchase" for r in rules.values())
        assert sorted(t["points_multiplier"] for t in seed["tiers"]) == [1.0, 1.25, 1.5]
        assert {c["tier_multiplier"] for c in seed["customers"] if not c["excluded"]} >= {
            1.0,
            1.25,
            1.5,
        }
        assert sum(c["excluded"] for c in seed["customers"]) == 1
        assert all(
            set(c) == {"shopify_customer_id", "email", "excluded", "tier_multiplier"}
            for c in seed["customers"]
        )

    async def test_is_idempotent_and_prints_a_fresh_key_each_time(
        self, db: str, tmp_path: Path
    ) -> None:
        """A second run adds no rules, tiers or customers, but issues a new key."""
        first = json.loads(loyalty(db, "demo", "--json", data_dir=tmp_path).stdout)
        counts = (
            await EarningRule.all().count(),
            await VipTier.all().count(),
            await Customer.all().count(),
        )
        second = json.loads(loyalty(db, "demo", "--json", data_dir=tmp_path).stdout)

        assert (
            await EarningRule.all().count(),
            await VipTier.all().count(),
            await Customer.all().count(),
        ) == counts
        assert first["api_key"] != second["api_key"]
        assert await ApiKey.all().count() == 2

    async def test_the_printed_curl_awards_201_then_409(
        self, db: str, tmp_path: Path, client: httpx.AsyncClient, app: RunningApp
    ) -> None:
        """The human output's first curl is a fresh award; repeating it is a 409."""
        result = loyalty(db, "demo", data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        key = next(line.split(": ", 1)[1] for line in lines if line.startswith("API key"))
        url = next(line.split()[-2] for line in lines if "/award" in line and "curl" in line)
        body = next(line.split("-d ", 1)[1].strip().strip("'") for line in lines if "-d '" in line)
        path = "/" + url.split("/", 3)[3]

        first = await client.post(path, content=body, headers={"Authorization": key})
        second = await client.post(path, content=body, headers={"Authorization": key})

        assert (first.status_code, second.status_code) == (201, 409)

    async def test_prints_where_the_demo_is(self, db: str, tmp_path: Path) -> None:
        """Before the key and the curl lines: the API docs, the admin preview, the demo
        storefront and the local Shopify, at the base URL the server will listen on."""
        result = loyalty(db, "demo", "--base-url", "http://127.0.0.1:9999/", data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        for path in ("/api/v1/docs", "/demo/admin", "/demo/storefront", "/demo/shopify"):
            assert f"http://127.0.0.1:9999{path}" in result.stdout
        assert result.stdout.index("/demo/shopify") < result.stdout.index("API key")

    async def test_seeds_another_demo_shop_with_its_own_ids(self, db: str, tmp_path: Path) -> None:
        """`--shop NAME` seeds NAME.myshopify.com as a demo shop beside the first; --json too."""
        first = json.loads(loyalty(db, "demo", "--json", data_dir=tmp_path).stdout)
        result = loyalty(db, "demo", "--shop", "Second", "--json", data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        second = json.loads(result.stdout)

        assert second["shop"] == "second.myshopify.com"
        assert not {r["id"] for r in first["rules"]} & {r["id"] for r in second["rules"]}
        shop = await Shop.get(domain="second.myshopify.com")
        assert shop.is_demo and shop.access_token_enc
        text = loyalty(db, "demo", "--shop", "second.myshopify.com", data_dir=tmp_path).stdout
        assert "/demo/shopify?shop=second.myshopify.com" in text
        assert all(r["id"] in text for r in second["rules"] if r["action"] == "write_review")

    @pytest.mark.parametrize("shop", ["real-store", "not a shop!"])
    async def test_refuses_a_real_shop_or_a_bad_name(
        self, db: str, tmp_path: Path, shop: str
    ) -> None:
        """Exit status 2, saying why, and the real shop untouched (no rules, no demo mark)."""
        real = await Shop.create(domain="real-store.myshopify.com", installed_at=utcnow())
        result = loyalty(db, "demo", "--shop", shop, data_dir=tmp_path)

        assert result.returncode == 2
        assert "real shop" in result.stderr or "not a shop name" in result.stderr
        assert not (await Shop.get(id=real.id)).is_demo
        assert await EarningRule.filter(shop_id=real.id).count() == 0


class TestApiKeyCreate:
    async def test_prints_a_working_key_for_an_existing_shop(self, db: str, tmp_path: Path) -> None:
        """`loyalty api-key create --shop … --read-only` prints a key stored only as a hash."""
        loyalty(db, "demo", "--json", data_dir=tmp_path)
        result = loyalty(
            db,
            "api-key",
            "create",
            "--shop",
            "demo.myshopify.com",
            "--read-only",
            data_dir=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        secret = result.stdout.strip()
        key = await ApiKey.get(prefix=secret[:10])
        assert key.scope == "read_only" and secret not in (key.key_hash, key.name)

    async def test_refuses_an_unknown_shop(self, db: str, tmp_path: Path) -> None:
        """No shop, no key: a clear message and exit status 1."""
        result = loyalty(db, "api-key", "create", "--shop", "nope.myshopify.com", data_dir=tmp_path)
        assert result.returncode == 1
        assert "no shop" in result.stderr


class TestServe:
    def test_refuses_several_workers_on_sqlite(self, tmp_path: Path) -> None:
        """SQLite has one writer: `--workers 4` on it exits non-zero, saying why, and serves
        nothing (it would answer "database is locked" under load)."""
        url = f"sqlite://{tmp_path}/loyalty.sqlite3"
        result = loyalty(
            url, "serve", "--workers", "4", "--port", "0", data_dir=tmp_path, timeout=30
        )

        assert result.returncode == 2
        assert "--workers 4 needs PostgreSQL" in result.stderr
        assert "one writer" in result.stderr

    def test_refuses_the_demo_beside_real_shopify_credentials(self, tmp_path: Path) -> None:
        """`serve --demo` with SHOPIFY_API_KEY/SECRET set exits 2, saying why, serving nothing."""
        real = {"SHOPIFY_API_KEY": "real-client-id", "SHOPIFY_API_SECRET": "real-client-secret"}
        url = f"sqlite://{tmp_path}/loyalty.sqlite3"
        result = loyalty(
            url, "serve", "--demo", "--port", "0", data_dir=tmp_path, timeout=60, environ=real
        )

        assert result.returncode == 2
        assert "never runs with real Shopify credentials" in result.stderr

    def test_the_worker_refuses_the_demo_beside_real_credentials(self, tmp_path: Path) -> None:
        """A `loyalty worker` of the demo (LOYALTY_DEMO=1) applies the same refusal."""
        environ = {
            "REDIS_URL": "redis://127.0.0.1:1/0",  # never reached: refused before connecting
            "LOYALTY_DEMO": "1",
            "SHOPIFY_ADMIN_BASE_URL": "http://127.0.0.1:8000/demo/shopify",
            "SHOPIFY_API_KEY": "real-client-id",
            "SHOPIFY_API_SECRET": "real-client-secret",
        }
        url = f"sqlite://{tmp_path}/loyalty.sqlite3"
        result = loyalty(url, "worker", data_dir=tmp_path, timeout=60, environ=environ)

        assert result.returncode == 2
        assert "never runs with real Shopify credentials" in result.stderr

    def test_serves_several_workers_on_postgresql(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The refusal is SQLite's alone: on PostgreSQL uvicorn is started with the workers."""
        import uvicorn

        import cli

        started: list[dict[str, object]] = []
        monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
        monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unused")
        monkeypatch.setenv("LOYALTY_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("SECRET_KEY", "test-secret-key-0123456789abcdef")

        assert cli.main(["serve", "--workers", "3"]) == 0
        assert [run["workers"] for run in started] == [3]


class TestMakeRun:
    def test_serves_the_demo_and_installs_the_admin_schema_first(self) -> None:
        """`make run` needs node_modules (the local Shopify's Admin schema is in the npm
        package @shopify/dev-mcp) and serves with --demo after printing where it is."""
        dry = subprocess.run(
            ["make", "-n", "-B", "run"],  # noqa: S607 - make from PATH, as a user runs it
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "npm ci" in dry
        assert dry.index("loyalty demo") < dry.index("loyalty serve --demo")
