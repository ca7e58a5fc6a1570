"""The PostgreSQL database under `PostgresRepository`: a pool of connections (psycopg 3),
transactions, migrations, and faults.

Every change that belongs together is one transaction on one pooled connection; reads take
any connection and see committed data only. A server that cannot be reached, a connection
lost mid-transaction, a pool with no free connection in time, a full disk: all raise
`StoreUnavailable` (nothing of the change was stored) and the store says so until an
operation succeeds again, exactly as the SQLite store does.

Migrations run in one transaction holding an advisory lock, so two nodes starting at once
do not both migrate; `robot_schema` holds the version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from .migrations import MIGRATIONS, Migration, script
from .repository import StoreError, StoreUnavailable

_LOGGER = logging.getLogger(__name__)
MIGRATION_LOCK = 0x726F626F74  # "robot": the advisory lock migrations hold
CONNECT_TIMEOUT_SECONDS = 5.0
POOL_TIMEOUT_SECONDS = 5.0
"""How long an operation waits for a free pooled connection before the store counts as unavailable."""

Connection = psycopg.AsyncConnection[DictRow]


def redact_url(url: str) -> str:
    """The URL without its password, fit for logs and /healthz."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port is not None:
            netloc += f":{parts.port}"
        if parts.username:
            netloc = f"{parts.username}@{netloc}"
    except ValueError:
        return "postgresql://(an unparsable URL)"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class PostgresDatabase:
    def __init__(
        self, url: str, *, migrations: Sequence[Migration | str] = MIGRATIONS, min_connections: int = 2,
        max_connections: int = 10, pool_timeout_seconds: float = POOL_TIMEOUT_SECONDS,
    ) -> None:
        self.url = url
        self.name = redact_url(url)
        self.migrations = list(migrations)
        self.pool_timeout_seconds = pool_timeout_seconds
        self._pool = AsyncConnectionPool(
            url, connection_class=Connection, min_size=min_connections, max_size=max_connections, open=False, timeout=pool_timeout_seconds,
            kwargs={"row_factory": dict_row, "autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                    "application_name": "robot"},
            check=AsyncConnectionPool.check_connection, name="robot-store",
        )
        self.failing: str | None = None
        self.failing_since: float | None = None

    # -- opening -----------------------------------------------------------------------

    async def open(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS * 2)
        except psycopg.Error as err:
            await self._pool.close()
            raise StoreError(f"cannot connect to {self.name}: {_text(err)}") from err
        try:
            await self._migrate()
        except BaseException:
            await self._pool.close()
            raise

    async def close(self) -> None:
        await self._pool.close()

    async def schema_version(self) -> int:
        row = await self.read_one("SELECT to_regclass('robot_schema') IS NOT NULL AS there")
        if row is None or not row["there"]:
            return 0
        version = await self.read_one("SELECT version FROM robot_schema")
        return int(version["version"]) if version else 0

    async def _migrate(self) -> None:
        async with self.transaction() as db:
            await db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await db.execute("CREATE TABLE IF NOT EXISTS robot_schema (version INTEGER NOT NULL)")
            cursor = await db.execute("SELECT version FROM robot_schema")
            row = await cursor.fetchone()
            if row is None:
                await db.execute("INSERT INTO robot_schema (version) VALUES (0)")
            version = int(row["version"]) if row else 0
            if version > len(self.migrations):
                raise StoreError(
                    f"the database {self.name} has schema version {version}, newer than this robot "
                    f"understands ({len(self.migrations)}): upgrade the robot"
                )
            for number, migration in enumerate(self.migrations[version:], start=version + 1):
                await db.execute(script(migration, "postgresql").encode())  # bytes: no %-placeholders, several statements
                await db.execute("UPDATE robot_schema SET version = %s", (number,))
                _LOGGER.info("%s: schema migrated to version %d", self.name, number)

    # -- using it ----------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """One transaction on one pooled connection: all of it or none of it."""
        try:
            async with self._pool.connection() as connection, connection.transaction():
                yield connection
        except psycopg.OperationalError as err:  # includes the pool's timeout, a lost connection, a full disk
            raise self._failed(err, "writing") from err
        self._recovered()

    async def execute(self, sql: str, *args: Any) -> None:
        """One statement, committed on its own."""
        try:
            async with self._pool.connection() as connection:
                await connection.execute(sql, args)
        except psycopg.OperationalError as err:
            raise self._failed(err, "writing") from err
        self._recovered()

    async def read_one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(sql, _params(args))
                row = await cursor.fetchone()
        except psycopg.OperationalError as err:
            raise self._failed(err, "reading") from err
        return row

    async def read_all(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(sql, _params(args))
                rows = await cursor.fetchall()
        except psycopg.OperationalError as err:
            raise self._failed(err, "reading") from err
        return rows

    def _failed(self, err: psycopg.Error, doing: str) -> StoreUnavailable:
        message = f"{doing} {self.name}: {_text(err)}"
        if self.failing is None:
            self.failing_since = time.time()
            _LOGGER.error("the store is unavailable: %s", message)
        self.failing = message
        return StoreUnavailable(message)

    def _recovered(self) -> None:
        if self.failing is not None:
            _LOGGER.warning("the store is available again (it was failing for %.1f s: %s)",
                            time.time() - (self.failing_since or time.time()), self.failing)
            self.failing = self.failing_since = None


def _params(args: tuple[Any, ...]) -> tuple[Any, ...] | dict[str, Any]:
    """Positional arguments, or one dict of named ones (`%(name)s`)."""
    return args[0] if len(args) == 1 and isinstance(args[0], dict) else args


def _text(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


async def fetch_one(db: Connection, sql: str, *args: Any) -> dict[str, Any] | None:
    cursor = await db.execute(sql, args)
    return await cursor.fetchone()


async def fetch_all(db: Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    cursor = await db.execute(sql, args)
    return await cursor.fetchall()
