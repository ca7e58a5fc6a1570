"""`robot db migrate|check --config FILE`: the store's schema, for operators.

`check` only reads: it says which store the config names, the schema version there and the
one this robot has, and the nodes that store has heard from lately; it exits 0 when the schema
is current, 1 when `migrate` is needed, 2 when the store cannot be reached or is newer than
this robot. `migrate` brings the schema up to date (what `robot run` also does at start; two
nodes starting at once migrate once); run it before starting upgraded nodes.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg

from ..store.migrations import MIGRATIONS
from ..store.postgres_db import redact_url
from ..store.repository import StoreError
from .config import DialerConfig
from .storage import repository_for

ALIVE_SECONDS = 15.0


def add_db_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
                  load: Callable[[str | None], DialerConfig]) -> None:
    db = subparsers.add_parser("db", help="the store's schema: check it, migrate it")
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, job, text in (("migrate", _migrate, "bring the schema up to date"),
                            ("check", _check, "say the store's schema version and the nodes it has seen; change nothing")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--config", help="daemon config YAML (for the database)")
        action.set_defaults(handler=lambda args, job=job: _run(job, load(args.config)))


def _run(job: Callable[[DialerConfig], Coroutine[Any, Any, int]], config: DialerConfig) -> int:
    try:
        return asyncio.run(job(config))
    except StoreError as err:
        print(f"robot: {err}", file=sys.stderr)
        return 2


async def _migrate(config: DialerConfig) -> int:
    repository = repository_for(config)
    before = await _stored_version(config)
    await repository.open()  # migrates
    try:
        nodes = await repository.nodes_alive(time.time() - ALIVE_SECONDS)
    finally:
        await repository.close()
    print(f"{repository.describe()}: schema version {len(MIGRATIONS)} (was {before})")
    if nodes and before != len(MIGRATIONS):
        print(f"nodes running meanwhile: {', '.join(n.node_id for n in nodes)} (restart them on the new release)")
    return 0


async def _check(config: DialerConfig) -> int:
    stored = await _stored_version(config)
    name = redact_url(config.database) if config.sqlite_path is None else f"sqlite:{config.sqlite_path}"
    print(f"{name}: schema version {stored}; this robot's is {len(MIGRATIONS)}")
    if stored > len(MIGRATIONS):
        print("the store is newer than this robot: upgrade the robot", file=sys.stderr)
        return 2
    if stored < len(MIGRATIONS):
        print("run `robot db migrate` (robot run also migrates at start)", file=sys.stderr)
        return 1
    repository = repository_for(config)
    await repository.open()  # current: opening changes nothing
    try:
        nodes = await repository.nodes_alive(time.time() - ALIVE_SECONDS)
    finally:
        await repository.close()
    listed = ", ".join(f"{n.node_id} ({n.api or '-'})" for n in nodes)
    print(f"nodes alive: {listed or 'none'}")
    return 0


async def _stored_version(config: DialerConfig) -> int:
    """The schema version in the store, read without changing anything (0: none yet)."""
    path = config.sqlite_path
    if path is not None:
        if not path.exists():
            return 0
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                return int(db.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.Error as err:
            raise StoreError(f"cannot read {path}: {err}") from err
    try:
        url = config.postgres_url()
    except ValueError as err:
        raise StoreError(f"the database password: {err}") from err
    assert url is not None
    try:
        async with await psycopg.AsyncConnection.connect(url, connect_timeout=5) as db:
            cursor = await db.execute("SELECT to_regclass('robot_schema') IS NOT NULL")
            row = await cursor.fetchone()
            if row is None or not row[0]:
                return 0
            cursor = await db.execute("SELECT version FROM robot_schema")
            version = await cursor.fetchone()
            return int(version[0]) if version else 0
    except psycopg.Error as err:
        raise StoreError(f"cannot reach {redact_url(url)}: {' '.join(str(err).split())}") from err
