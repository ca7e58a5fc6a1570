"""Passwords (argon2id, argon2-cffi's defaults) and personal API tokens (random, 256 bits,
kept only as their SHA-256: a token is looked up by its hash, and nothing stored lets anyone
use it)."""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_PREFIX = "robot_"
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("a password nobody has")


class WeakPassword(ValueError):
    pass


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password is shorter than {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    check_password(password)
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no hash (no such user) the same work is done, so the
    answer takes as long for an unknown name as for a wrong password."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_NAME = re.compile(r"[\w.@-]{1,64}")


def check_user_name(name: str) -> None:
    """Letters (any script), digits, `.`, `_`, `@`, `-`; 1 to 64 of them."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"the user name {name!r} is not 1 to 64 letters, digits, '.', '_', '@' or '-'")
