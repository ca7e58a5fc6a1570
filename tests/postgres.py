"""A throwaway PostgreSQL server for a test run (or a benchmark): Debian's own binaries,
`initdb` into a temporary directory and `pg_ctl start` on a free port, run as the `postgres`
user when we are root (PostgreSQL refuses to run as root), stopped and removed at the end.

Clients connect over TCP to 127.0.0.1 with a password (scram-sha-256), as a node would."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

USER = "robot"
PASSWORD = "robot-test-password"


def postgres_bin() -> Path:
    """Debian's `/usr/lib/postgresql/<version>/bin`, the newest there (`make test` installs
    the `postgresql` package when it is missing)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql; `make test` does it)")
    return Path(found[-1]).parent


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    def __init__(self, *, durable: bool = False) -> None:
        """`durable`: fsync as in production (benchmarks); tests run without it."""
        self.bin = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="robot-pg-"))
        self.data = self.root / "data"
        self.port = free_tcp_port()
        self.durable = durable
        self._as_postgres = os.geteuid() == 0
        self._databases = 0

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, cwd="/")
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    def start(self) -> PostgresServer:
        password_file = self.root / "password"
        password_file.write_text(PASSWORD)
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(password_file, "postgres", "postgres")
        self.root.chmod(0o700)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, f"--pwfile={password_file}",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options,
                  "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "test") -> str:
        """A new, empty database; its URL."""
        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}_{int(time.monotonic() * 1000) % 100000}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def sql(self, database_url: str, statement: str, *args: object) -> list[tuple[object, ...]]:
        """One statement on its own connection (tests look at the database directly)."""
        with psycopg.connect(database_url, autocommit=True) as db:
            cursor = db.execute(statement.encode() if not args else statement, args or None)
            return cursor.fetchall() if cursor.description else []
