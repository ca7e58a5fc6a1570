"""Registration with digest credentials to a real Kamailio, and a call through it."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from robot.dialog.loader import load_script
from robot.sip.config import LOOPBACK_DEFAULT, Registration, Secret
from robot.sip.endpoint import SipError
from robot.sip.outcome import CallOutcome
from robot.sip.result import CallRequest
from robot.sip.worker import CallWorker
from tests.conftest import DIALOGS
from tests.sip.conftest import free_udp_port, wait_for_udp_port

pytestmark = [pytest.mark.asyncio(loop_scope="function"), pytest.mark.slow]
CONFIG = __import__("pathlib").Path(__file__).parent / "kamailio" / "kamailio.cfg"


@pytest.fixture
def kamailio(tmp_path):
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    port = free_udp_port()
    config = tmp_path / "kamailio.cfg"
    config.write_text(CONFIG.read_text().replace("KAMAILIO_TEST_PASSWORD", "s3cret").replace("KAMAILIO_TEST_PORT", str(port)))
    process = subprocess.Popen(
        [binary, "-f", str(config), "-DD", "-E", "-Y", str(tmp_path), "-w", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for_udp_port(port, process, "Kamailio")
    except AssertionError as err:
        raise AssertionError(f"{err}: {process.stderr.read()[-2000:] if process.stderr else ''}") from None
    yield port
    process.terminate()
    process.wait(10)


def registering(port: int, password_env: str, sipp_port: int):  # type: ignore[no-untyped-def]
    return LOOPBACK_DEFAULT.model_copy(update={
        "registration": Registration(registrar=f"sip:127.0.0.1:{port}", username="robot01", password=Secret(env=password_env)),
        "outbound_proxy": f"sip:127.0.0.1:{port};lr",
        "dial_template": f"sip:{{phone}}@127.0.0.1:{sipp_port}",
        "ring_timeout_seconds": 5.0,
    })


async def test_registers_and_calls_through_kamailio(kamailio, sipp, speech_kit, monkeypatch):
    monkeypatch.setenv("ROBOT_TEST_SIP_PASSWORD", "s3cret")
    peer = sipp("busy")
    config = registering(kamailio, "ROBOT_TEST_SIP_PASSWORD", peer.port)
    async with CallWorker(config, speech_kit) as worker:
        result = await worker.call(CallRequest(target="13800138000", script=load_script(DIALOGS / "en-US" / "generic.yaml").script))
    assert result.call_outcome is CallOutcome.BUSY and result.sip_status == 486
    assert peer.finish() == 0
    # The INVITE reached SIPp through Kamailio: the proxy's own Via is on top (the robot's
    # is below it), which no INVITE sent straight to SIPp would carry.
    head = []
    for line in peer.messages().split("INVITE sip:", 1)[1].splitlines()[1:]:
        if not line.strip():
            break
        head.append(line.strip())
    vias = [line for line in head if line.lower().startswith(("via:", "v:"))]
    assert len(vias) == 2 and f"127.0.0.1:{kamailio};branch=" in vias[0], vias


async def test_a_wrong_password_is_a_clear_error(kamailio, speech_kit, monkeypatch):
    monkeypatch.setenv("ROBOT_TEST_SIP_PASSWORD", "wrong")
    config = registering(kamailio, "ROBOT_TEST_SIP_PASSWORD", 5999)
    with pytest.raises(SipError, match="registration refused: 401"):
        async with CallWorker(config, speech_kit):
            pass
