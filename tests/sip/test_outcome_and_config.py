"""Call-progress mapping, carrier announcements, and SIP configuration files."""

from __future__ import annotations

import pytest

from robot.dialog.loader import ScriptError
from robot.sip.call import mask_phone
from robot.sip.config import LOOPBACK_DEFAULT, Secret, load_sip_config
from robot.sip.outcome import AnnouncementSpotter, CallOutcome, outcome_for_status
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (486, CallOutcome.BUSY), (600, CallOutcome.BUSY),
        (480, CallOutcome.NO_ANSWER), (408, CallOutcome.NO_ANSWER), (487, CallOutcome.NO_ANSWER),
        (603, CallOutcome.REJECTED),
        (404, CallOutcome.INVALID_NUMBER), (484, CallOutcome.INVALID_NUMBER), (604, CallOutcome.INVALID_NUMBER), (410, CallOutcome.INVALID_NUMBER),
        (500, CallOutcome.FAILED), (503, CallOutcome.FAILED), (502, CallOutcome.FAILED), (0, CallOutcome.FAILED),
    ],
)
def test_status_codes(status, outcome):
    assert outcome_for_status(status) is outcome
    assert outcome.retryable_fault == (outcome is CallOutcome.FAILED)


def test_announcement_spotter_tables():
    chinese = AnnouncementSpotter("zh-CN")
    assert chinese.spot("您拨打的电话已关机") is CallOutcome.UNREACHABLE
    assert chinese.spot("您拨打的号码是空号请查证后再拨") is CallOutcome.INVALID_NUMBER
    assert chinese.spot("您拨打的用户正在通话中") is CallOutcome.BUSY
    assert chinese.spot("您 拨 打 的 电 话 暂 时 无 法 接 通") is CallOutcome.UNREACHABLE  # Vosk spacing
    assert chinese.spot("喂你好") is None
    assert AnnouncementSpotter("en-US").spot("the number you have dialed is switched off") is CallOutcome.UNREACHABLE


def test_shipped_sip_configs_load():
    for path in sorted((REPO / "sip-config").glob("*.yaml")):
        config = load_sip_config(path)
        assert "{phone}" in config.dial_template
    trunk = load_sip_config(REPO / "sip-config" / "ip-trunk.example.yaml")
    assert trunk.registration is None and trunk.caller_id.p_asserted_identity
    assert trunk.dial_uri("13800138000") == "sip:13800138000@trunk.example.cn:5060"
    assert load_sip_config(None) is LOOPBACK_DEFAULT


def test_config_errors_name_line_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dial_template: sip:x@y\ncodecs: [PCMA, OPUS]\nring_timeout: 30\n")
    with pytest.raises(ScriptError) as caught:
        load_sip_config(bad)
    lines = [str(p) for p in caught.value.problems]
    assert f"{bad}:3:1: unknown key 'ring_timeout' at the top level" in lines
    assert any(line.startswith(f"{bad}:2:16: codecs[1]:") for line in lines)
    assert any("dial_template must contain {phone}" in line for line in lines)


def test_password_comes_from_environment_or_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ROBOT_TEST_SIP_PASSWORD", "s3cret")
    assert Secret(env="ROBOT_TEST_SIP_PASSWORD").read() == "s3cret"
    (tmp_path / "pw").write_text("filepw\n")
    assert Secret(file=tmp_path / "pw").read() == "filepw"
    with pytest.raises(ValueError, match="ROBOT_MISSING_PW"):
        Secret(env="ROBOT_MISSING_PW").read()
    assert "s3cret" not in repr(Secret(env="ROBOT_TEST_SIP_PASSWORD"))


def test_logs_show_at_most_four_digits():
    assert mask_phone("13800138000") == "*******8000"
    assert mask_phone("+86 138-0013-8000") == "*********8000"
