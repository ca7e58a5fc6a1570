"""What the far end of a call may not make the robot do: place a leg it did not decide on."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from robot.dialog.loader import load_script
from robot.sip.outcome import CallOutcome
from robot.sip.result import CallRequest
from tests.conftest import DIALOGS

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@pytest.fixture(scope="module")
def english():
    return load_script(DIALOGS / "en-US" / "generic.yaml").script


@pytest.fixture
def third_party() -> Iterator[socket.socket]:
    """Where a REFER or a 3xx points: it must never receive anything from the robot."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(2.0)
        yield listener


def nothing_arrived(listener: socket.socket) -> bool:
    try:
        data, _ = listener.recvfrom(65536)
    except TimeoutError:
        return True
    raise AssertionError(f"the robot contacted the third party: {data[:200]!r}")


async def test_an_in_dialog_refer_is_declined_and_nothing_is_dialled(worker, sipp, english, third_party):
    peer = sipp("refer_after_answer", None, "-set", "refer_port", str(third_party.getsockname()[1]))
    result = await worker.call(CallRequest(target=peer.uri, script=english))
    assert result.answered and result.outcome == "refused"  # the callee hung up after the refusal
    assert result.handoff is None
    assert peer.finish() == 0  # SIPp got its 603 Decline
    assert "SIP/2.0 603 Decline" in peer.messages()
    assert nothing_arrived(third_party)
    assert worker.active_calls == 0


async def test_a_redirect_ends_the_call_and_is_not_followed(worker, sipp, english, third_party):
    peer = sipp("redirect", None, "-set", "refer_port", str(third_party.getsockname()[1]))
    result = await worker.call(CallRequest(target=peer.uri, script=english))
    assert not result.answered and result.call_outcome is CallOutcome.NO_ANSWER  # pjsua ends it as 487
    assert peer.finish() == 0
    assert nothing_arrived(third_party)
