"""The daemon harness (virtual time, a fake call pool, a real SQLite file) for the pages mounted
on the real API app."""

from tests.dialer.conftest import harness, shipped_scripts  # noqa: F401  (fixtures)
