"""Phone numbers, warning files, the import command, and the daemon's config file."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from robot.dialer.config import Window, load_dialer_config
from robot.dialer.intake import read_rows
from robot.dialer.phone import InvalidPhone, normalize_phone
from robot.dialog.loader import ScriptError
from robot.masking import mask_phone
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("raw", "e164", "dialled"),
    [
        ("13800138000", "+8613800138000", "13800138000"),
        ("+86 138 0013 8000", "+8613800138000", "13800138000"),
        ("0086-138-0013-8000", "+8613800138000", "13800138000"),
        ("8613800138000", "+8613800138000", "13800138000"),
        ("020-88886666", "+862088886666", "02088886666"),
        ("(0755) 1234 5678", "+8675512345678", "075512345678"),
        ("+86 20 8888 6666", "+862088886666", "02088886666"),
    ],
)
def test_mobiles_and_landlines_are_normalised(raw, e164, dialled):
    phone = normalize_phone(raw, "CN")
    assert (phone.e164, phone.national) == (e164, dialled)
    assert mask_phone(phone.e164) == f"***{e164[-4:]}"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("abc", "not a phone number"),
        ("1380013800", "not a valid number"),
        ("88886666", "include the area code"),
        ("400-810-8888", "not a mobile or landline"),
        ("+1 650 253 0000", "only numbers in CN"),
        ("13800138000 ext 1234", "has an extension"),  # was stored as +8613800138000, dialled 138001380001234
        ("13800138000,12", "has an extension"),
        ("13800138000#9", "has an extension"),
        ("020-88886666 x12", "has an extension"),
    ],
)
def test_bad_numbers_are_refused_with_a_reason(raw, reason):
    with pytest.raises(InvalidPhone, match=reason):
        normalize_phone(raw, "CN")


def test_calling_windows_in_local_time_also_across_midnight():
    zone = dt.timezone(dt.timedelta(hours=8))
    day = Window(start=dt.time(8), end=dt.time(21))
    assert day.contains(dt.datetime(2026, 11, 23, 8, 0, tzinfo=zone))
    assert not day.contains(dt.datetime(2026, 11, 23, 21, 0, tzinfo=zone))
    assert day.next_opening(dt.datetime(2026, 11, 23, 22, 0, tzinfo=zone)) == dt.datetime(2026, 11, 24, 8, 0, tzinfo=zone)
    assert day.next_opening(dt.datetime(2026, 11, 23, 6, 0, tzinfo=zone)) == dt.datetime(2026, 11, 23, 8, 0, tzinfo=zone)
    night = Window(start=dt.time(22), end=dt.time(6))
    assert night.contains(dt.datetime(2026, 11, 23, 23, 0, tzinfo=zone)) and night.contains(dt.datetime(2026, 11, 23, 5, 0, tzinfo=zone))
    assert not night.contains(dt.datetime(2026, 11, 23, 12, 0, tzinfo=zone))


def test_a_config_typo_names_the_file_line_and_key(tmp_path):
    path = tmp_path / "robot.yaml"
    path.write_text("database: /tmp/x.db\nworkers:\n  processes: 2\n  calls_per_proces: 4\ntimezone: Mars/Olympus\n")
    with pytest.raises(ScriptError) as caught:
        load_dialer_config(path)
    problems = [str(p) for p in caught.value.problems]
    assert any(p.startswith(f"{path}:4:3:") and "calls_per_proces" in p for p in problems), problems
    assert any(p.startswith(f"{path}:5:") and "unknown time zone" in p for p in problems), problems


def test_outcome_rules_merge_over_the_defaults(tmp_path):
    path = tmp_path / "robot.yaml"
    path.write_text("policy:\n  outcomes:\n    refused: {finish: true}\n")
    config = load_dialer_config(path)
    assert config.policy.outcomes["refused"].finish and config.policy.outcomes["busy"].escalate == "unanswered_busy"
    path.write_text("policy:\n  outcomes:\n    refused: {finish: true, retry: true}\n")
    with pytest.raises(ScriptError, match="either finishes the warning or retries it"):
        load_dialer_config(path)


def test_rows_keep_their_line_numbers(tmp_path):
    csv_file = tmp_path / "w.csv"
    csv_file.write_text("id,phone,risk,received_at,extra.district\nA,13800138000,low,2026-11-23T09:00:00,天河\nB,1,2,3,4,5\n")
    rows = list(read_rows(csv_file))
    assert rows[0].line == 2 and rows[0].data["extra"] == {"district": "天河"}
    assert rows[1].line == 3 and rows[1].problem == "more cells than header columns"
    jsonl = tmp_path / "w.jsonl"
    jsonl.write_text('{"id": "A"}\n\n{oops\n[1]\n')
    assert [(r.line, r.problem[:8]) for r in read_rows(jsonl)] == [(1, ""), (3, "not JSON"), (4, "a line m")]


def test_import_reports_bad_rows_by_line_and_keeps_the_rest(tmp_path):
    config = tmp_path / "robot.yaml"
    config.write_text(f"database: '{tmp_path / 'robot.db'}'\n")
    rows = [
        {"id": "W1", "phone": "13800138001", "risk": "medium", "received_at": "2026-11-23T09:00:00", "fraud_type": "investment"},
        {"id": "W2", "phone": "12345", "risk": "low", "received_at": "2026-11-23T09:00:00"},
        {"id": "W3", "phone": "13800138003", "risk": "urgent", "received_at": "2026-11-23T09:00:00"},
        {"id": "W4", "phone": "020-88886666", "risk": "high", "received_at": "2026-11-23T09:00:00"},
    ]
    source = tmp_path / "warnings.jsonl"
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    command = [sys.executable, "-m", "robot.cli", "warnings", "import", str(source), "--config", str(config)]
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=60, env=os.environ)
    assert run.returncode == 1
    assert f"{source}:2: phone: invalid phone number '12345'" in run.stdout
    assert f"{source}:3: risk:" in run.stdout
    assert "2 warning(s) imported, 0 already stored, 2 row problem(s)" in run.stderr
    again = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=60, env=os.environ)
    assert "0 warning(s) imported, 2 already stored" in again.stderr
    with sqlite3.connect(tmp_path / "robot.db") as db:
        stored = db.execute("SELECT external_id, phone, status FROM warnings ORDER BY id").fetchall()
        escalations = db.execute("SELECT reason FROM escalations").fetchall()
    assert stored == [("W1", "+8613800138001", "queued"), ("W4", "+862088886666", "done")]
    assert escalations == [("high_risk",)]


async def test_scripts_whose_models_are_not_installed_are_refused_with_the_install_command(tmp_path):
    from robot.config import SpeechSettings
    from robot.dialer.scripts import ScriptLibrary
    from robot.speech.kit import SpeechKit
    from tests.conftest import DIALOGS

    speech = SpeechKit(SpeechSettings(catalog_dir=REPO / "voices", models_dir=tmp_path / "models", cache_dir=tmp_path / "cache"))
    library = ScriptLibrary(DIALOGS / "zh-CN", speech)
    with pytest.raises(ScriptError) as caught:
        await library.load()
    text = "\n".join(map(str, caught.value.problems))
    assert f"{DIALOGS / 'zh-CN' / 'generic.yaml'}:1:1: cannot run here" in text
    assert "robot voices install vosk-model-small-cn-0.22" in text and "robot voices install zh_CN-huayan-medium" in text
    assert library.scripts == []
    english = ScriptLibrary(DIALOGS / "en-US", speech)  # Piper joe and PocketSphinx come from Python packages
    await english.load()
    assert [s.name for s in english.scripts] == ["en-US/generic"]


def test_the_shipped_example_config_is_valid():
    config = load_dialer_config(REPO / "config" / "robot.example.yaml")
    assert config.workers.processes == 2 and config.calling_windows["low"].start == dt.time(8)
    assert config.webhooks.escalation_url is None and config.api.token.env == "ROBOT_API_TOKEN"
