"""The store a config names: SQLite for a file path, PostgreSQL for a postgresql:// URL."""

from __future__ import annotations

from ..store.postgres import PostgresRepository
from ..store.repository import Repository, StoreError
from ..store.sqlite import SqliteRepository
from .config import DialerConfig


def repository_for(config: DialerConfig) -> Repository:
    """StoreError if the PostgreSQL password cannot be read."""
    path = config.sqlite_path
    if path is not None:
        return SqliteRepository(path)
    try:
        url = config.postgres_url()
    except ValueError as err:  # database_password: an unset variable, an unreadable file
        raise StoreError(f"the database password: {err}") from err
    assert url is not None
    # Connections: the scheduler, intake, the recorder and the deliveries each hold one at
    # times; a few more for the API's reads.
    return PostgresRepository(url, node_id=config.node_id, max_connections=10)
