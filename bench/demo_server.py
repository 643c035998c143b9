"""The local demo (`loyalty serve --demo`) as bench/storefront and bench/admin run it: seeded by
`loyalty demo`, on a free loopback port, from this checkout's code, stopped on the way out.

`demo_server(work, database_url)` migrates the database, seeds the demo shop (`loyalty demo`),
starts the server (its log in `work/serve.log`) and yields its base URL once it answers. Nothing
here reaches the internet: the demo's Shopify is its own local stand-in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT))

from bench.platform_limits import free_port  # noqa: E402 - after the path is set
from bench.sync_burst import stop  # noqa: E402

READY_SECONDS = 120  # the local Shopify loads Shopify's Admin schema first (a few seconds)


def demo_env(work: Path, database_url: str, extra: dict[str, str]) -> dict[str, str]:
    """The demo's settings: its own data directory and database, no real Shopify credentials
    (and `extra`, e.g. the SECRET_KEY a big shop's token was encrypted under)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "REDIS_URL"}  # unless in extra
    }
    return {
        **env,
        "PYTHONPATH": str(ROOT),  # this checkout's code, whatever the venv's install points at
        "DATABASE_URL": database_url,
        "LOYALTY_DATA_DIR": str(work / "data"),
        "LOG_LEVEL": "warning",
        **extra,
    }


def seed(env: dict[str, str], base_url: str) -> dict[str, Any]:
    """`loyalty demo --json`: what it seeded."""
    command = [str(BIN / "loyalty"), "demo", "--json", "--base-url", base_url]
    done = subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"loyalty serve --demo exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {READY_SECONDS} s")


@contextmanager
def demo_server(
    work: Path, database_url: str, *, env: dict[str, str] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The demo server's base URL and what `loyalty demo --json` seeded."""
    environment = demo_env(work, database_url, env or {})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    subprocess.run([BIN / "loyalty", "migrate"], env=environment, check=True, capture_output=True)
    seeded = seed(environment, base)
    command = [str(BIN / "loyalty"), "serve", "--demo", "--host", "127.0.0.1"]
    with (work / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            [*command, "--port", str(port)], cwd=ROOT, env=environment, stdout=log, stderr=log
        )
        try:
            wait_ready(f"{base}/demo/storefront", server)
            yield base, seeded
        finally:
            stop(server)
