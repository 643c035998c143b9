"""`loyalty serve` as an operator runs it: every web process logs in the app's format (with
`--workers N` too), and no credential from a URL reaches the access log."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from loyalty.log_config import masked_url

ROOT = Path(__file__).resolve().parent.parent
ID_TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_and_request(
    database_url: str,
    workers: int,
    data_dir: Path,
    *options: str,
    headers: dict[str, str] | None = None,
) -> str:
    """Starts `loyalty serve`, requests one URL full of credentials, stops it; its output."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "LOYALTY_DATA_DIR": str(data_dir)}
    for name in ("REDIS_URL", "SHOPIFY_API_KEY", "SHOPIFY_API_SECRET"):
        env.pop(name, None)
    env["LOG_LEVEL"] = "info"
    env.pop("FORWARDED_ALLOW_IPS", None)
    command = [sys.executable, "-m", "cli", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", str(workers), *options],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/healthz?shop=a.myshopify.com&id_token={ID_TOKEN}"
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(url, headers=headers, timeout=2).status_code == 200
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        time.sleep(0.5)  # let the access line be written
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    return output


class TestMaskedUrl:
    def test_masks_each_credential_and_keeps_the_rest(self) -> None:
        path = "/app?shop=a.myshopify.com&ID_TOKEN=abc&hmac=def&signature=g&code=h&host=x"
        assert masked_url(path) == (
            "/app?shop=a.myshopify.com&ID_TOKEN=[redacted]&hmac=[redacted]"
            "&signature=[redacted]&code=[redacted]&host=x"
        )

    def test_a_path_without_a_query_is_unchanged(self) -> None:
        assert masked_url("/healthz") == "/healthz"


class TestServeLogs:
    def test_the_access_log_never_shows_a_credential(self, db: str, tmp_path: Path) -> None:
        output = serve_and_request(db, 1, tmp_path)
        assert "GET /healthz?shop=a.myshopify.com&id_token=[redacted]" in output, output
        assert ID_TOKEN not in output and "c2VjcmV0" not in output

    @pytest.mark.parametrize("database", ["postgres"], indirect=True)
    def test_every_worker_process_logs_in_the_apps_format(self, db: str, tmp_path: Path) -> None:
        """Each of the two processes logs its start-up line as `<time> INFO web.app: …`
        (uvicorn starts them without the CLI's logging set-up), and masks credentials."""
        output = serve_and_request(db, 2, tmp_path)
        started = [line for line in output.splitlines() if "INFO web.app: SHOPIFY_API_KEY" in line]
        assert len(started) == 2, output
        assert ID_TOKEN not in output and "id_token=[redacted]" in output


class TestForwardedFor:
    HEADERS = {"X-Forwarded-For": "203.0.113.9"}

    def test_a_trusted_proxy_gives_the_clients_address(self, db: str, tmp_path: Path) -> None:
        """`--forwarded-allow-ips` names the proxy whose X-Forwarded-For is believed."""
        options = ("--forwarded-allow-ips", "127.0.0.1")
        output = serve_and_request(db, 1, tmp_path, *options, headers=self.HEADERS)
        assert '203.0.113.9:0 - "GET /healthz' in output, output

    def test_an_untrusted_peer_is_its_own_address(self, db: str, tmp_path: Path) -> None:
        options = ("--forwarded-allow-ips", "10.9.9.9")
        output = serve_and_request(db, 1, tmp_path, *options, headers=self.HEADERS)
        assert "203.0.113.9" not in output and "127.0.0.1:" in output, output
