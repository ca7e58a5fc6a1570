"""`robot users add|list|disable|token`, for operators on the server (every command takes
`--config FILE` like `robot run`, for the store).

    echo 'a long password' | robot users add li.officer --role officer --password-stdin --config robot.yaml
    robot users list --config robot.yaml
    robot users disable li.officer --config robot.yaml
    robot users token li.officer --config robot.yaml   # the token is the last line, shown once

Exit status: 0 done, 1 refused (a name taken or unknown, a weak password), 2 the store
cannot be used."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ..store.repository import Conflict, NotFound, Repository, StoreError
from .credentials import WeakPassword, check_user_name, hash_password, new_token, token_hash
from .roles import PERSON_ROLES

CLI_ACTOR = "cli"
"""Who the audit log says added, disabled or made a token for a user from the server's shell."""

Job = Callable[[Repository, argparse.Namespace], Coroutine[Any, Any, int]]


def add_users_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], load: Callable[[str | None], Any]) -> None:
    users = subparsers.add_parser("users", help="console users: add, list, disable, make a personal API token")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, job: Job, text: str, *, named: bool = True) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=text)
        if named:
            parser.add_argument("name", metavar="NAME")
        parser.add_argument("--config", help="daemon config YAML (for the store)")
        parser.set_defaults(handler=lambda args: _run(job, load(args.config), args))
        return parser

    add = action("add", _add, "add a user (the password from standard input with --password-stdin, else asked for)")
    add.add_argument("--role", required=True, choices=[role.value for role in PERSON_ROLES])
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of standard input")
    action("list", _list, "list the users", named=False)
    action("disable", _disable, "disable a user: no more logins; their sessions and token stop working")
    action("token", _token, "make a new personal API token (the one before stops working); printed once, as the last line")


def _run(job: Job, config: Any, args: argparse.Namespace) -> int:
    from ..dialer.storage import repository_for

    async def main() -> int:
        repository = repository_for(config)
        await repository.open()
        try:
            return await job(repository, args)
        finally:
            await repository.close()

    try:
        return asyncio.run(main())
    except (Conflict, NotFound, WeakPassword, ValueError) as err:
        print(f"robot users {args.action}: {err}", file=sys.stderr)
        return 1
    except StoreError as err:
        print(f"robot users {args.action}: the store: {err}", file=sys.stderr)
        return 2


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise ValueError("--password-stdin: standard input is empty")
        return line.rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


async def _add(repository: Repository, args: argparse.Namespace) -> int:
    check_user_name(args.name)
    password_hash = hash_password(_read_password(args.password_stdin))
    user = await repository.add_user(args.name, args.role, password_hash, time.time(), by=CLI_ACTOR)
    print(f"added {user.name} ({user.role})")
    return 0


async def _list(repository: Repository, args: argparse.Namespace) -> int:
    users = await repository.users()
    if not users:
        print("no users (add one with `robot users add NAME --role officer|supervisor|admin --password-stdin`)")
        return 0
    print(f"{'NAME':<24} {'ROLE':<11} {'STATE':<9} {'TOKEN':<6} CREATED")
    for user in users:
        created = dt.datetime.fromtimestamp(user.created_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        state = "disabled" if user.disabled else "active"
        print(f"{user.name:<24} {user.role:<11} {state:<9} {'yes' if user.token_created_at else 'no':<6} {created}")
    return 0


async def _disable(repository: Repository, args: argparse.Namespace) -> int:
    user = await repository.disable_user(args.name, time.time(), by=CLI_ACTOR)
    print(f"disabled {user.name}: no more logins; their sessions and token no longer work")
    return 0


async def _token(repository: Repository, args: argparse.Namespace) -> int:
    token = new_token()
    user = await repository.set_user_token(args.name, token_hash(token), time.time(), by=CLI_ACTOR)
    print(f"a new personal API token for {user.name} ({user.role}); it is shown only now, and the one before no longer works:")
    print(token)
    return 0
