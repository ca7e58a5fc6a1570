"""`robot users` as operators run it: real processes (`python -m robot.cli`), on a SQLite file
and on a PostgreSQL database, reading the password from standard input and printing a new
token once, as the last line; the token then works as Bearer on /v1 with the owner's role."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from robot.console.credentials import token_hash, verify_password
from robot.dialer.config import load_dialer_config
from robot.dialer.storage import repository_for

REPO = Path(__file__).resolve().parents[2]


def robot(*args: str, stdin: str = "", config: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "robot.cli", "users", *args, "--config", str(config)], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def config(request, tmp_path) -> Path:
    database = tmp_path / "robot.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    path = tmp_path / "robot.yaml"
    path.write_text(f"database: {database}\n")
    return path


async def stored_user(config: Path, name: str):  # type: ignore[no-untyped-def]
    repository = repository_for(load_dialer_config(config))
    await repository.open()
    try:
        return await repository.get_user(name)
    finally:
        await repository.close()


async def user_changes(config: Path) -> list[tuple[str, str, str]]:
    """The audit log's user changes, oldest first: (kind, user, by)."""
    repository = repository_for(load_dialer_config(config))
    await repository.open()
    try:
        trail = await repository.audit_trail(["user_added", "user_token", "user_disabled"])
    finally:
        await repository.close()
    return [(entry.kind, str(entry.detail["user"]), str(entry.detail["by"])) for entry in reversed(trail)]


async def test_add_list_token_disable(config):
    added = robot("add", "li.officer", "--role", "officer", "--password-stdin", stdin="a long password here\n", config=config)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added li.officer (officer)"
    user = await stored_user(config, "li.officer")
    assert user.password_hash.startswith("$argon2id$") and verify_password(user.password_hash, "a long password here")
    assert not verify_password(user.password_hash, "a long password here\n")

    taken = robot("add", "li.officer", "--role", "admin", "--password-stdin", stdin="another long password\n", config=config)
    assert taken.returncode == 1 and "already a user 'li.officer'" in taken.stderr
    weak = robot("add", "wang.officer", "--role", "officer", "--password-stdin", stdin="short\n", config=config)
    assert weak.returncode == 1 and "shorter than 10 characters" in weak.stderr
    bad_name = robot("add", "li officer", "--role", "officer", "--password-stdin", stdin="a long password here\n", config=config)
    assert bad_name.returncode == 1 and "is not 1 to 64 letters" in bad_name.stderr
    bad_role = robot("add", "root", "--role", "root", "--password-stdin", stdin="a long password here\n", config=config)
    assert bad_role.returncode == 2 and "invalid choice: 'root'" in bad_role.stderr

    token = robot("token", "li.officer", config=config)
    assert token.returncode == 0, token.stderr
    printed = token.stdout.strip().splitlines()[-1]
    assert printed.startswith("robot_") and len(printed) > 40
    user = await stored_user(config, "li.officer")
    assert user.token_created_at is not None
    assert printed not in (user.password_hash, str(user.model_dump()))  # only its hash is stored
    repository = repository_for(load_dialer_config(config))
    await repository.open()
    try:
        assert (await repository.user_by_token(token_hash(printed))).name == "li.officer"
    finally:
        await repository.close()

    listed = robot("list", config=config)
    assert listed.returncode == 0
    [header, row] = listed.stdout.strip().splitlines()
    assert header.split() == ["NAME", "ROLE", "STATE", "TOKEN", "CREATED"]
    assert row.split()[:4] == ["li.officer", "officer", "active", "yes"]

    disabled = robot("disable", "li.officer", config=config)
    assert disabled.returncode == 0 and (await stored_user(config, "li.officer")).disabled
    assert robot("list", config=config).stdout.strip().splitlines()[1].split()[2] == "disabled"
    nobody = robot("disable", "nobody", config=config)
    assert nobody.returncode == 1 and "no user 'nobody'" in nobody.stderr
    refused = robot("token", "li.officer", config=config)
    assert refused.returncode == 1 and "disabled" in refused.stderr
    assert [(kind, by) for kind, user, by in await user_changes(config) if user == "li.officer"] == [
        ("user_added", "cli"), ("user_token", "cli"), ("user_disabled", "cli")]


def test_an_empty_standard_input_is_refused(tmp_path):
    config = tmp_path / "robot.yaml"
    config.write_text(f"database: {tmp_path / 'robot.db'}\n")
    empty = robot("add", "li.officer", "--role", "officer", "--password-stdin", stdin="", config=config)
    assert empty.returncode == 1 and "standard input is empty" in empty.stderr
