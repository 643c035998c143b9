"""The README's images: `make screenshots` draws them into docs/screenshots; `make
screenshots-check` proves they are reproducible.

The images come from the browser tests marked `screenshot` (tests/browser/conftest.py freezes
the clock, seeds ids and keys, and fixes how Chromium draws text), on SQLite only: the same
images whether or not PostgreSQL is running, in half the time.

--check runs those tests twice, each into its own temporary folder, and fails unless both runs
wrote exactly the images docs/screenshots holds, byte for byte the same as each other. It then
says which committed images are out of date (not a failure: another machine's fonts may draw
them differently; `make screenshots` refreshes them).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "screenshots"
ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}  # as tests/conftest.py
SELECTION = ["tests/browser", "-m", "screenshot", "-k", "sqlite"]


def draw(into: Path) -> None:
    """One run of the screenshot tests, writing into `into`; exits on a failing test."""
    env = {**os.environ, "SCREENSHOTS_DIR": str(into)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SELECTION]
    # Our own test suite under this interpreter: nothing untrusted reaches the command line.
    if subprocess.run(command, cwd=ROOT, env=env, check=False).returncode != 0:  # noqa: S603
        sys.exit("screenshots: the screenshot tests failed")


def images(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.png"))}


def check() -> int:
    with tempfile.TemporaryDirectory(prefix="screenshots-") as tmp:
        first, second = Path(tmp, "first"), Path(tmp, "second")
        draw(first)
        draw(second)
        one, two, committed = images(first), images(second), images(DOCS)
    if not one and not two and not ON_CI:
        print("screenshots-check: skipped, nothing drawn (Chromium is not installed)")
        return 0
    problems = []
    if set(one) != set(committed):
        problems.append(
            f"the tests drew {sorted(one)} but docs/screenshots holds {sorted(committed)} "
            "(a screenshot test without @pytest.mark.screenshot, or a stale image)"
        )
    if set(one) != set(two):
        problems.append(f"the two runs drew different images: {sorted(one)} vs {sorted(two)}")
    differ = sorted(name for name in set(one) & set(two) if one[name] != two[name])
    if differ:
        problems.append("not reproducible (two runs, different bytes): " + ", ".join(differ))
    for problem in problems:
        print(f"screenshots-check: {problem}", file=sys.stderr)
    if problems:
        return 1
    stale = sorted(name for name in one if committed.get(name) != one[name])
    print(f"screenshots-check: {len(one)} images, identical in two runs")
    if stale:
        print(
            "screenshots-check: differ from docs/screenshots (run `make screenshots`): "
            + ", ".join(stale)
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="draw twice and compare")
    if parser.parse_args().check:
        return check()
    draw(DOCS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
