"""Console users for tests, made the way `robot users add` and `robot users token` make them
(argon2 hash, a token kept as its SHA-256), straight in the store."""

from __future__ import annotations

from robot.console.credentials import hash_password, new_token, token_hash
from robot.store.repository import Repository

PASSWORD = "correct horse battery"
NOW = 1_795_000_000.0


async def add_person(store: Repository, name: str, role: str, password: str = PASSWORD) -> None:
    await store.add_user(name, role, hash_password(password), NOW, by="cli")


async def person_token(store: Repository, name: str, role: str) -> str:
    """A new user with a personal token; returns the token."""
    if await store.get_user(name) is None:
        await add_person(store, name, role)
    token = new_token()
    await store.set_user_token(name, token_hash(token), NOW, by="cli")
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
