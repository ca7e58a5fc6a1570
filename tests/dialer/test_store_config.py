"""`database:` in robot.yaml: a SQLite file, or a postgresql:// URL whose password may come
from the environment or a file; any other URL is an error naming the line, never a file."""

from __future__ import annotations

import pytest

from robot.dialer.config import load_dialer_config
from robot.dialer.storage import repository_for
from robot.dialog.loader import ScriptError
from robot.store import PostgresRepository, SqliteRepository, StoreError


def config_file(tmp_path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "robot.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("url", ["mysql://robot:pw@db:3306/robot", "http://db.example/robot", "redis://localhost"])
def test_a_database_url_of_another_scheme_is_an_error_naming_the_line(tmp_path, url):
    path = config_file(tmp_path, f"node_id: a\n\ndatabase: {url}\n")
    with pytest.raises(ScriptError) as caught:
        load_dialer_config(path)
    [problem] = [str(p) for p in caught.value.problems]
    assert problem.startswith(f"{path}:3:") and f"unsupported database URL scheme {url.split(':')[0]!r}" in problem
    assert not (tmp_path / url).exists()


@pytest.mark.parametrize(("url", "why"), [
    ("postgresql://robot@/robot", "names no host"),
    ("postgresql://robot@db.example:5432/", "names no database"),
    ("postgresql://robot@db.example:port/robot", "not a valid PostgreSQL URL"),
])
def test_a_postgresql_url_missing_a_part_is_refused(tmp_path, url, why):
    with pytest.raises(ScriptError, match=why):
        load_dialer_config(config_file(tmp_path, f"database: {url}\n"))


def test_a_file_path_keeps_sqlite_and_its_journal_beside_it(tmp_path):
    config = load_dialer_config(config_file(tmp_path, f"database: {tmp_path}/robot.db\n"))
    assert isinstance(repository_for(config), SqliteRepository) and config.sqlite_path == tmp_path / "robot.db"
    assert config.results_journal == tmp_path / "robot.db-results.jsonl"
    same = load_dialer_config(config_file(tmp_path, f"database: sqlite://{tmp_path}/robot.db\n"))
    assert same.sqlite_path == tmp_path / "robot.db"


def test_the_postgresql_password_comes_from_the_environment_or_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ROBOT_DB_PASSWORD", "p@ss:w/rd")
    config = load_dialer_config(config_file(
        tmp_path, "node_id: node-a\ndatabase: postgresql://robot@db.example:5432/robot\n"
                  "database_password: {env: ROBOT_DB_PASSWORD}\n"))
    assert config.postgres_url() == "postgresql://robot:p%40ss%3Aw%2Frd@db.example:5432/robot"
    repository = repository_for(config)
    assert isinstance(repository, PostgresRepository) and repository.node_id == "node-a"
    assert repository.describe() == "postgresql://robot@db.example:5432/robot"  # never the password
    assert config.results_journal.name == "results-node-a.jsonl"
    (tmp_path / "pw").write_text("from-a-file\n")
    from_file = load_dialer_config(config_file(
        tmp_path, f"database: postgresql://robot@db.example/robot\ndatabase_password: {{file: {tmp_path}/pw}}\n"))
    assert from_file.postgres_url() == "postgresql://robot:from-a-file@db.example/robot"
    monkeypatch.delenv("ROBOT_DB_PASSWORD")
    with pytest.raises(StoreError, match="ROBOT_DB_PASSWORD is not set"):
        repository_for(config)


def test_a_password_is_given_in_one_place_and_only_for_postgresql(tmp_path):
    with pytest.raises(ScriptError, match="has a password already"):
        load_dialer_config(config_file(
            tmp_path, "database: postgresql://robot:pw@db/robot\ndatabase_password: {env: X}\n"))
    with pytest.raises(ScriptError, match="database_password is for a postgresql:// database"):
        load_dialer_config(config_file(tmp_path, "database: /var/lib/robot/robot.db\ndatabase_password: {env: X}\n"))


def robot_db(*args: str) -> tuple[int, str]:
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    done = subprocess.run([sys.executable, "-m", "robot.cli", "db", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_robot_db_check_then_migrate(tmp_path, backend, request):
    from robot.store.migrations import MIGRATIONS

    database = str(tmp_path / "robot.db") if backend == "sqlite" else request.getfixturevalue("postgres_url")
    path = config_file(tmp_path, f"node_id: ops\ndatabase: '{database}'\n")
    code, out = robot_db("check", "--config", str(path))
    assert code == 1 and f"schema version 0; this robot's is {len(MIGRATIONS)}" in out and "robot db migrate" in out
    assert "robot-test-password" not in out
    code, out = robot_db("migrate", "--config", str(path))
    assert code == 0 and f"schema version {len(MIGRATIONS)} (was 0)" in out, out
    code, out = robot_db("check", "--config", str(path))
    assert code == 0 and "nodes alive: none" in out, out


def test_robot_db_check_says_when_postgresql_cannot_be_reached(tmp_path, postgres_server):
    path = config_file(tmp_path, f"database: postgresql://robot:pw@127.0.0.1:{postgres_server.port + 1}/robot\n")
    code, out = robot_db("check", "--config", str(path))
    assert code == 2 and "cannot reach postgresql://robot@127.0.0.1:" in out and ":pw@" not in out
