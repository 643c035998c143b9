"""The sync tests' fixtures (job dependencies on a controlled clock) for the outbox tests."""

from tests.loyalty.sync.conftest import clock, deps

__all__ = ["clock", "deps"]
