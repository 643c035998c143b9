"""Settings: every variable settable from the environment or `.env`, validated in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty.settings import Settings

KEY = {"SECRET_KEY": "x" * 32}


def test_every_field_can_be_set_from_the_environment() -> None:
    settings = Settings.from_env({**KEY, "OUTBOX_DISPATCH_DELAY": "1.5", "SHUTDOWN_GRACE": "4"})
    assert (settings.outbox_dispatch_delay, settings.shutdown_grace) == (1.5, 4.0)
    assert not hasattr(Settings(), "outbox_claim_timeout")  # was read by nothing


def test_dot_env_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("SECRET_KEY=from-dot-env\nAPI_RATE_BURST=7\nLOG_LEVEL=debug\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOG_LEVEL", "warning")
    monkeypatch.delenv("API_RATE_BURST", raising=False)
    settings = Settings.from_env()
    assert (settings.secret_key, settings.api_rate_burst) == ("from-dot-env", 7)
    assert settings.log_level == "warning"


def test_a_retry_window_under_a_day_is_refused() -> None:
    with pytest.raises(ValueError, match="OUTBOX_RETRY_WINDOW must be at least 86400"):
        Settings.from_env({**KEY, "OUTBOX_RETRY_WINDOW": "3600"})


def test_values_are_frozen_and_the_constructor_reads_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("API_RATE_BURST", "3")
    settings = Settings()
    assert settings.api_rate_burst == 40
    with pytest.raises(ValueError, match="frozen"):
        settings.api_rate_burst = 1  # type: ignore[misc]
    assert settings.with_overrides(api_rate_burst=1).api_rate_burst == 1
