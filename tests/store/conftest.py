"""The store tests run against both stores: the embedded SQLite file and a PostgreSQL
database on the run's throwaway server (tests/postgres.py). One fixture, two parameters."""

from __future__ import annotations

import pytest

from robot.store import PostgresRepository, SqliteRepository


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path):
    if request.param == "sqlite":
        repository: SqliteRepository | PostgresRepository = SqliteRepository(tmp_path / "robot.db")
    else:
        repository = PostgresRepository(request.getfixturevalue("postgres_url"), node_id="node-a")
    await repository.open()
    yield repository
    await repository.close()


@pytest.fixture
async def sqlite_store(tmp_path):
    repository = SqliteRepository(tmp_path / "robot.db")
    await repository.open()
    yield repository
    await repository.close()
