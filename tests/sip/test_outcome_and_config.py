"""Call-progress mapping, carrier announcements, and SIP configuration files."""

from __future__ import annotations

import pytest

from robot.dialog.loader import ScriptError
from robot.masking import mask_phone
from robot.sip.config import LOOPBACK_DEFAULT, Registration, Secret, load_sip_config
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
    from_env = Secret(env="ROBOT_TEST_SIP_PASSWORD")
    assert from_env.read() == "s3cret"
    (tmp_path / "pw").write_text("filepw\n")
    from_file = Secret(file=tmp_path / "pw")
    assert from_file.read() == "filepw"
    with pytest.raises(ValueError, match="ROBOT_MISSING_PW"):
        Secret(env="ROBOT_MISSING_PW").read()
    # Once read, the value is still nowhere in what may be logged or dumped: a config (and its
    # secrets) in a log line or an error shows where the secret comes from, never the secret.
    registration = Registration(registrar="sip:pbx.example.cn", username="robot01", password=from_env)
    config = LOOPBACK_DEFAULT.model_copy(update={"registration": registration})
    for shown in (repr(from_env), str(from_file), repr(config), config.model_dump_json(), str(registration.model_dump())):
        assert "s3cret" not in shown and "filepw" not in shown
    assert "ROBOT_TEST_SIP_PASSWORD" in repr(config)  # where it comes from is shown


def test_logs_show_at_most_four_digits():
    assert mask_phone("13800138000") == "***8000"
    assert mask_phone("+86 138-0013-8000") == "***8000"
    assert mask_phone("sip:13800138000@10.0.0.5:5060") == "***8000"  # the user part, not the trunk's address
