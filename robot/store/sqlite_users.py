"""The SQLite store's console users and the audit trail read by people (`SqliteRepository`
mixes this in; `postgres_users.py` is the same for PostgreSQL)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from .records import AuditEntry, SessionRecord, UserRecord
from .repository import Conflict, NotFound, Repository
from .sqlite_db import Database
from .sqlite_rows import audit, fetch_one

_USER_COLUMNS = "id, name, role, password_hash, disabled, created_at, disabled_at, token_created_at"


def user_record(row: sqlite3.Row) -> UserRecord:
    return UserRecord.model_validate({**dict(row), "disabled": bool(row["disabled"])})


class SqliteUsers(Repository):
    database: Database

    async def record_access(self, kind: str, warning_id: int | None, actor: str, detail: dict[str, Any], now: float) -> None:
        async with self.database.transaction() as db:
            await audit(db, kind, now, warning_id, {"by": actor, **detail})

    async def audit_trail(self, kinds: Sequence[str], *, limit: int = 200, before: int | None = None) -> list[AuditEntry]:
        if not kinds:
            return []
        marks = ", ".join("?" for _ in kinds)
        rows = await self.database.read_all(
            f"""SELECT a.id, a.at, a.kind, a.detail, w.external_id FROM audit a LEFT JOIN warnings w ON w.id = a.warning_id
                WHERE a.kind IN ({marks}) AND a.id < ? ORDER BY a.id DESC LIMIT ?""",
            *kinds, before if before is not None else 2**62, limit,
        )
        return [AuditEntry(id=row["id"], at=row["at"], kind=row["kind"], warning_external_id=row["external_id"],
                           detail=json.loads(row["detail"])) for row in rows]

    async def add_user(self, name: str, role: str, password_hash: str, now: float, *, by: str) -> UserRecord:
        async with self.database.transaction() as db:
            if await fetch_one(db, "SELECT id FROM users WHERE name = ?", name) is not None:
                raise Conflict(f"there is already a user {name!r}")
            await db.execute("INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                             (name, role, password_hash, now))
            await audit(db, "user_added", now, None, {"user": name, "role": role, "by": by})
            row = await fetch_one(db, f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", name)
        assert row is not None
        return user_record(row)

    async def get_user(self, name: str) -> UserRecord | None:
        row = await self.database.read_one(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", name)
        return user_record(row) if row else None

    async def users(self) -> list[UserRecord]:
        return [user_record(row) for row in await self.database.read_all(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name")]

    async def disable_user(self, name: str, now: float, *, by: str) -> UserRecord:
        async with self.database.transaction() as db:
            row = await fetch_one(db, "SELECT disabled FROM users WHERE name = ?", name)
            if row is None:
                raise NotFound(f"no user {name!r}")
            if not row["disabled"]:
                await db.execute("UPDATE users SET disabled = 1, disabled_at = ? WHERE name = ?", (now, name))
                await audit(db, "user_disabled", now, None, {"user": name, "by": by})
            await db.execute("DELETE FROM console_sessions WHERE user_name = ?", (name,))
            found = await fetch_one(db, f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", name)
        assert found is not None
        return user_record(found)

    async def set_user_token(self, name: str, token_hash: str, now: float, *, by: str) -> UserRecord:
        async with self.database.transaction() as db:
            row = await fetch_one(db, "SELECT disabled FROM users WHERE name = ?", name)
            if row is None:
                raise NotFound(f"no user {name!r}")
            if row["disabled"]:
                raise Conflict(f"user {name!r} is disabled")
            await db.execute("UPDATE users SET token_hash = ?, token_created_at = ? WHERE name = ?", (token_hash, now, name))
            await audit(db, "user_token", now, None, {"user": name, "by": by})
            found = await fetch_one(db, f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", name)
        assert found is not None
        return user_record(found)

    async def user_by_token(self, token_hash: str) -> UserRecord | None:
        row = await self.database.read_one(f"SELECT {_USER_COLUMNS} FROM users WHERE token_hash = ?", token_hash)
        return user_record(row) if row else None

    async def add_session(self, session: SessionRecord) -> None:
        async with self.database.transaction() as db:
            await db.execute("DELETE FROM console_sessions WHERE expires_at <= ?", (session.created_at,))
            await db.execute(
                "INSERT INTO console_sessions (id_hash, user_name, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (session.id_hash, session.user_name, session.csrf, session.created_at, session.expires_at),
            )

    async def session_by_hash(self, id_hash: str, now: float) -> SessionRecord | None:
        row = await self.database.read_one("SELECT * FROM console_sessions WHERE id_hash = ?", id_hash)
        if row is None:
            return None
        if row["expires_at"] <= now:
            await self.delete_session(id_hash)
            return None
        return SessionRecord.model_validate(dict(row))

    async def delete_session(self, id_hash: str) -> None:
        async with self.database.transaction() as db:
            await db.execute("DELETE FROM console_sessions WHERE id_hash = ?", (id_hash,))
