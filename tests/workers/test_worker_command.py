"""`loyalty worker`: the arq worker with the app's WorkerSettings, run as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis

from loyalty.jobs.registry import PERIODIC_JOBS

ROOT = Path(__file__).resolve().parent.parent.parent


def environment(database_url: str, redis_url: str | None, data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "LOYALTY_DATA_DIR": str(data_dir)}
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


class TestWorkerCommand:
    def test_without_redis_it_says_what_is_missing(self, db: str, tmp_path: Path) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "cli", "worker"],
            cwd=ROOT,
            env=environment(db, None, tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert "REDIS_URL" in result.stderr

    def test_starts_an_arq_worker_on_redis_and_stops_on_sigterm(
        self, db: str, redis_url: str, tmp_path: Path
    ) -> None:
        """It connects, registers its health check in Redis and runs the startup sweep."""
        own = redis_url  # the suite's own database (TEST_REDIS_URL), never a fixed number
        client = Redis.from_url(own)
        health = "arq:queue:health-check"
        client.delete(health)
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker"],
            cwd=ROOT,
            env=environment(db, own, tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not client.exists(health):
                if process.poll() is not None:
                    pytest.fail(process.stdout.read().decode() if process.stdout else "exited")
                time.sleep(0.1)
            assert client.exists(health), "the worker never reported to Redis"
        finally:
            process.terminate()
            output = process.communicate(timeout=30)[0].decode()
            client.delete(health)
            client.close()
        assert process.returncode == 0, output
        assert "Starting worker" in output or "functions" in output


class TestWorkerSettingsForArq:
    def test_arq_cli_finds_worker_settings_built_from_the_environment(self) -> None:
        """`arq workers.settings.WorkerSettings` works too (the class is built on first use)."""
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "from workers.settings import WorkerSettings as W; "
                "print(W.redis_settings.database, len(W.functions), len(W.cron_jobs))",
            ],
            cwd=ROOT,
            env={**os.environ, "REDIS_URL": "redis://127.0.0.1:6379/7"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        database, functions, crons = result.stdout.split()
        assert database == "7" and int(functions) >= 10 and int(crons) == len(PERIODIC_JOBS)
