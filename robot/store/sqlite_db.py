"""The SQLite database under `SqliteRepository`: its connections, transactions and faults.

Two connections, both through aiosqlite (each on a thread of its own):

- the writer, for `BEGIN IMMEDIATE` transactions, one at a time (an asyncio lock: on one
  connection, a second coroutine's BEGIN would land inside the first one's transaction);
- the reader, for everything that only reads. In WAL mode it sees only committed data, never
  a transaction another coroutine has under way, and never waits for the writer.

A database that cannot be used right now (locked by another process for longer than the busy
timeout, a full disk, an I/O error) raises `StoreUnavailable`; the store says so until a write
succeeds again. A write that has waited `FAILING_BUSY_TIMEOUT_SECONDS` for another process's
lock already says so (it goes on waiting for its own busy timeout): the writes queued behind it
give up after that long too, so intake answers 503 in about a second, not after the busy timeout.
After a failed write the WAL is checkpointed and truncated, so a disk that filled up once does
not fill up again from the WAL as soon as space comes back; if that cannot be done at once (the
checkpoint needs the very space that is missing), it is done after the next write that succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from ..private import private_dir, private_file, tighten
from .migrations import MIGRATIONS, Migration, script
from .repository import StoreError, StoreUnavailable

_LOGGER = logging.getLogger(__name__)
BUSY_TIMEOUT_SECONDS = 10.0
FAILING_BUSY_TIMEOUT_SECONDS = 1.0
"""While the store is failing, a write waits at most this for a lock (another process's, or
another coroutine's write): intake answers 503 at once rather than after a long wait, and the
reports waiting to be stored are tried again soon."""
MINIMUM_BEGIN_SECONDS = 0.05
"""A write that got the writer after waiting nearly all its patience still tries SQLite's lock this long."""
JOURNAL_SIZE_LIMIT_BYTES = 8 * 1024 * 1024
"""The WAL is cut back to this after each checkpoint (it would otherwise keep its largest size)."""
TRANSIENT = {
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL,
}
"""Primary result codes that say the database cannot be used now, not that a statement is wrong."""


def unavailable(err: sqlite3.Error) -> bool:
    code = getattr(err, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in TRANSIENT


class Database:
    def __init__(self, path: Path, *, migrations: list[Migration | str] = MIGRATIONS, busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = path
        self.migrations = migrations
        self.busy_timeout_seconds = busy_timeout_seconds
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self.failing: str | None = None
        """Why the database cannot be used right now (None: it can)."""
        self.failing_since: float | None = None
        self.wal_truncation_owed = False
        """A failed write's WAL could not be truncated yet: done after the next write that succeeds."""
        self._failing_changed = asyncio.Event()

    # -- opening -----------------------------------------------------------------------

    async def open(self) -> None:
        try:
            # Warnings are personal data: the database (and SQLite's -wal and -shm files, which
            # take its mode) is 0600, in a folder that is 0700 if the robot creates it.
            private_dir(self.path.parent)
            private_file(self.path)
            for companion in ("-wal", "-shm"):
                tighten(f"{self.path}{companion}")
        except OSError as err:
            raise StoreError(f"cannot create the database {self.path}: {err}") from err
        try:
            self._writer = await self._connect()
            await self._writer.execute("PRAGMA journal_mode=WAL")
            await self._writer.execute("PRAGMA synchronous=FULL")
            await self._writer.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT_BYTES}")
            await self._migrate()
            self._reader = await self._connect()
            await self._reader.execute("PRAGMA query_only=ON")
        except BaseException:
            await self.close()
            raise

    async def _connect(self) -> aiosqlite.Connection:
        try:
            db = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as err:
            raise StoreError(f"cannot open the database {self.path}: {err}") from err
        db.row_factory = sqlite3.Row
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute(f"PRAGMA busy_timeout={round(self.busy_timeout_seconds * 1000)}")
        return db

    async def schema_version(self) -> int:
        async with self.writer.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        version = await self.schema_version()
        if version > len(self.migrations):
            raise StoreError(
                f"the database {self.path} has schema version {version}, newer than this robot "
                f"understands ({len(self.migrations)}): upgrade the robot"
            )
        for number, migration in enumerate(self.migrations[version:], start=version + 1):
            # executescript commits first; the script and the version bump are one transaction.
            await self.writer.executescript(f"BEGIN IMMEDIATE;\n{script(migration, 'sqlite')}\nPRAGMA user_version = {number};\nCOMMIT;")

    async def close(self) -> None:
        for name in ("_reader", "_writer"):
            db = getattr(self, name)
            if db is not None:
                setattr(self, name, None)
                await db.close()

    @property
    def writer(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise StoreError(f"the store {self.path} is not open")
        return self._writer

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreError(f"the store {self.path} is not open")
        return self._reader

    # -- using it ----------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One `BEGIN IMMEDIATE` ... `COMMIT`: all of it or none of it."""
        patience = await self._take_the_writer()
        try:
            db = self.writer
            await self._begin(db, patience)
            try:
                yield db
                await db.execute("COMMIT")
            except BaseException as err:
                with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already (a full disk)
                    await db.execute("ROLLBACK")
                if isinstance(err, sqlite3.Error) and unavailable(err):
                    failure = self._failed(err, "writing")
                    self.wal_truncation_owed = True
                    await self._shrink_wal()
                    raise failure from err
                raise
            if self.wal_truncation_owed:
                await self._shrink_wal()
        finally:
            self._lock.release()
        self._recovered()

    def _patience(self) -> float:
        """How long a write waits: the busy timeout, or at most a second while the store is failing."""
        return self.busy_timeout_seconds if self.failing is None else min(self.busy_timeout_seconds, FAILING_BUSY_TIMEOUT_SECONDS)

    async def _take_the_writer(self) -> float:
        """The asyncio lock of the writer connection; gives up (StoreUnavailable) after the
        patience, which shrinks to a second as soon as the store is found failing (by the write
        ahead of this one, say). Returns the patience left for SQLite's own lock."""
        started = time.monotonic()
        while True:
            patience = self._patience()
            left = started + patience - time.monotonic()
            if left <= 0:
                raise StoreUnavailable(self.failing or f"writing {self.path.name}: the store is busy")
            self._failing_changed.clear()
            acquire = asyncio.ensure_future(self._lock.acquire())
            changed = asyncio.ensure_future(self._failing_changed.wait())
            try:
                await asyncio.wait({acquire, changed}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()
                if not acquire.done():
                    acquire.cancel()
                    # Cancelled as the lock was granted: asyncio.Lock hands it on, or it is ours.
                    with contextlib.suppress(asyncio.CancelledError):
                        await acquire
            if acquire.done() and not acquire.cancelled():
                return max(MINIMUM_BEGIN_SECONDS, started + self._patience() - time.monotonic())

    async def _begin(self, db: aiosqlite.Connection, patience: float) -> None:
        """`BEGIN IMMEDIATE`, waiting up to `patience` for another process's write lock, in
        slices of at most a second: after the first slice the store is said to be failing."""
        deadline = time.monotonic() + patience
        while True:
            slice_seconds = max(0.001, min(FAILING_BUSY_TIMEOUT_SECONDS, deadline - time.monotonic()))
            await self._set_busy_timeout(slice_seconds)
            try:
                await db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.Error as err:
                failure = self._failed(err, "writing")
                busy = getattr(err, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise failure from err

    _busy_timeout: float | None = None

    async def _set_busy_timeout(self, seconds: float) -> None:
        if seconds != self._busy_timeout:
            await self.writer.execute(f"PRAGMA busy_timeout={round(seconds * 1000)}")
            self._busy_timeout = seconds

    async def read_one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        try:
            async with self.reader.execute(sql, args) as cursor:
                return await cursor.fetchone()
        except sqlite3.Error as err:
            if unavailable(err):
                raise self._failed(err, "reading") from err
            raise

    async def read_all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        try:
            async with self.reader.execute(sql, args) as cursor:
                return list(await cursor.fetchall())
        except sqlite3.Error as err:
            if unavailable(err):
                raise self._failed(err, "reading") from err
            raise

    def _failed(self, err: sqlite3.Error, doing: str) -> StoreUnavailable:
        message = f"{doing} {self.path.name}: {err}"
        if self.failing is None:
            self.failing_since = time.time()
            _LOGGER.error("the store is unavailable: %s", message)
        self.failing = message
        self._failing_changed.set()
        return StoreUnavailable(message)

    def _recovered(self) -> None:
        if self.failing is not None:
            _LOGGER.warning("the store is available again (it was failing for %.1f s: %s)",
                            time.time() - (self.failing_since or time.time()), self.failing)
            self.failing = self.failing_since = None

    async def _shrink_wal(self) -> None:
        """Checkpoint and truncate the WAL after a failed write (best effort: it may fail for
        the same reason the write did)."""
        try:
            async with self.writer.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
                busy, _log_frames, _done = await cursor.fetchone() or (1, 0, 0)
        except sqlite3.Error as err:
            _LOGGER.warning("the WAL could not be checkpointed yet (done after the next write that succeeds): %s", err)
            return
        if busy:
            _LOGGER.warning("the WAL could not be truncated yet (a reader or another process is using it)")
        else:
            self.wal_truncation_owed = False
