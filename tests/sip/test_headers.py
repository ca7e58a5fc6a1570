"""What may go into a SIP message: every header the robot adds is one well-formed header,
checked at the one place headers are built, whatever filled it in."""

from __future__ import annotations

import pytest

from robot.dialog.loader import load_script
from robot.sip.config import CallerId, SipConfig
from robot.sip.result import CallRequest
from tests.conftest import DIALOGS

INJECTED = "W-1\r\nP-Asserted-Identity: <sip:110@evil>"


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_a_header_value_with_a_line_break_is_never_sent(worker, sipp):
    """A warning id once added `P-Asserted-Identity: <sip:110@evil>` to the INVITE: the caller
    ID the citizen sees. Intake refuses such ids; the SIP layer refuses them again."""
    peer = sipp("busy")
    script = load_script(DIALOGS / "en-US" / "generic.yaml").script
    result = await worker.call(CallRequest(target=peer.uri, script=script, headers={"X-Warning-Id": INJECTED}))
    # The robot's own fault (not the trunk's): retried a bounded number of times, never counted by the breaker.
    assert (result.outcome, result.call_outcome, result.answered) == ("robot_error", "robot_error", False)
    assert "X-Warning-Id contains a control character" in result.error
    peer.process.kill()
    peer.process.wait()
    assert "INVITE" not in peer.messages()  # nothing was sent
    assert worker.active_calls == 0


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"extra_headers": {"X-Case": "a\nb"}}, "control character"),
        ({"extra_headers": {"Bad Name": "x"}}, "not a SIP token"),
        ({"caller_id": {"display_name": 'Centre" <sip:110@evil>'}}, "display_name"),
        ({"caller_id": {"user": "96110@evil"}}, "user"),
        ({"caller_id": {"p_asserted_identity": "<sip:96110@trunk>\r\nX: y"}}, "control character"),
    ],
)
def test_configured_headers_and_caller_id_are_checked_when_loaded(changes, problem):
    with pytest.raises(ValueError, match=problem):
        SipConfig.model_validate({"transport": {"bind_address": "127.0.0.1"}, "dial_template": "sip:{phone}@127.0.0.1"} | changes)
    assert CallerId().user == "96110"
