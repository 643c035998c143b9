"""`make shopify-check` (scripts/shopify-check.js) runs the Shopify CLI's offline checks in
`make test`; the checks themselves run there, not here. These tests hold the wiring: make runs
them before pytest, and the preload that keeps the CLI offline refuses every way out."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.extensions.test_widget_build import ROOT, node

# Each way the CLI reaches out, as the CLI does it; every one must fail and be logged.
ATTEMPTS = """
const results = {};
const settle = (name, promise) => promise.then(() => 'reached', (e) => (e.cause || e).code)
  .then((outcome) => { results[name] = outcome; });
Promise.all([
  settle('fetch', fetch('https://cdn.shopify.com/static/cli/notifications.json')),
  settle('https', new Promise((ok, fail) => require('node:https')
    .get('https://registry.npmjs.org/@shopify%2fcli', ok).on('error', fail))),
  settle('dns', require('node:dns').promises.lookup('raw.githubusercontent.com')),
  settle('npm audit', new Promise((ok) => { require('node:child_process')
    .spawn('npm', ['audit', '--json']).on('close', ok); })),
]).then(() => console.log(JSON.stringify(results)));
"""


class TestMakeTest:
    def test_runs_theme_check_and_the_shopify_cli_before_pytest(self) -> None:
        """`.ci/run` runs `make test`: the CLI's build and doctor and theme check come first."""
        make = shutil.which("make")
        assert make
        plan = subprocess.run(
            [make, "-n", "test"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.splitlines()
        steps = [
            next(i for i, line in enumerate(plan) if marker in line)
            for marker in ("scripts/theme-check.js", "scripts/shopify-check.js", "/pytest")
        ]
        assert steps == sorted(steps)


class TestOfflinePreload:
    def test_refuses_and_logs_every_network_attempt(self, tmp_path: Path) -> None:
        """fetch, https, DNS and `npm audit` all fail as they would offline, and are logged."""
        log = tmp_path / "offline.log"
        run = subprocess.run(
            [node(), "--require", str(ROOT / "scripts" / "offline.cjs"), "-e", ATTEMPTS],
            env={"OFFLINE_LOG": str(log), "PATH": "/usr/bin:/bin"},
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert json.loads(run.stdout) == {
            "fetch": "ENETUNREACH",
            "https": "ENETUNREACH",
            "dns": "ENOTFOUND",
            "npm audit": "EACCES",
        }
        assert sorted(log.read_text().splitlines()) == [
            "connect cdn.shopify.com:443",
            "connect registry.npmjs.org:443",
            "lookup raw.githubusercontent.com",
            "spawn npm audit --json",
        ]
