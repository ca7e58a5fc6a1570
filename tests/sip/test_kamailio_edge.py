"""The SIP edge for real: Kamailio running deploy/kamailio/kamailio.cfg between a robot call
worker (configured from sip-config/behind-kamailio.yaml) and SIPp trunks and officers' queue.

Loopback addresses stand for the machines: the node 127.0.0.1, Kamailio 127.0.0.2, trunks
127.0.0.3 and 127.0.0.4, a stranger 127.0.0.5, the officers' queue 127.0.0.6. The node's SIP
filter admits only Kamailio, so anything that reaches the node came through Kamailio."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator

import pytest
import pytest_asyncio

from robot.dialog.loader import load_script
from robot.sip.config import CallerId, load_sip_config
from robot.sip.outcome import CallOutcome
from robot.sip.result import CallRequest
from robot.sip.worker import CallWorker
from robot.speech.audio import TELEPHONE_RATE, silence, write_ulaw_wav
from tests.conftest import DIALOGS, REPO
from tests.sip.conftest import SCENARIOS
from tests.sip.edge import Edge, SippPeer, eventually, free_port, headers

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

NODE, EDGE, TRUNK_A, TRUNK_B, STRANGER, OFFICERS = (f"127.0.0.{n}" for n in range(1, 7))
NUMBER = "13800138000"

QUIET_SCRIPT = """\
meta: {id: quiet, version: 1, language: en-US, voice: en_US-joe-medium, fraud_types: [generic]}
start: ask
states:
  ask:
    say: Hello?
    listen: {no_input_timeout_seconds: 1, max_no_input: 1}
    no_input: {say: Are you there?}
"""


@pytest.fixture(scope="module")
def edge_port() -> int:
    """The Kamailio port of this module: each test starts its own Kamailio there."""
    return free_port(EDGE)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def node(edge_port, speech_kit):
    """A call worker set up like sip-config/behind-kamailio.yaml, on loopback."""
    example = load_sip_config(REPO / "sip-config" / "behind-kamailio.yaml")
    assert example.sip_peers() == ["10.20.0.5"] and example.outbound_proxy == "sip:10.20.0.5:5060;lr"
    edge = f"{EDGE}:{edge_port}"
    config = example.model_copy(update={
        "transport": example.transport.model_copy(update={
            "bind_address": NODE, "public_address": NODE, "port": 0, "rtp_port_start": 0, "allowed_peers": [EDGE]}),
        "outbound_proxy": f"sip:{edge};lr",
        "dial_template": f"sip:{{phone}}@{edge}",
        "human_queue_uri": f"sip:officers@{edge}",
        "caller_id": CallerId(display_name="Anti-Fraud Centre", user="96110"),
        "ring_timeout_seconds": 5.0, "hello_listen_seconds": 0.5, "max_call_seconds": 60.0, "recordings_dir": None,
    })
    async with CallWorker(config, speech_kit, languages=("en-US",)) as worker:
        yield worker


@pytest.fixture
def peers(tmp_path) -> Iterator:
    started: list[SippPeer] = []

    def start(scenario: str, address: str, port: int | None = None, utterance=None) -> SippPeer:  # type: ignore[no-untyped-def]
        peer = SippPeer(scenario, tmp_path / f"{scenario}-{len(started)}", address, port, utterance)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.stop()


@pytest.fixture
def edge(tmp_path, edge_port) -> Iterator:
    started: list[Edge] = []

    def start(trunks: list[str], officers: list[str] = (), **settings: int) -> Edge:  # type: ignore[assignment]
        lines = [f"1 {line}" for line in trunks] + [f"2 {line}" for line in officers]
        running = Edge(tmp_path / "kamailio", EDGE, edge_port, f"{NODE}/32", lines, **settings)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    path = tmp_path_factory.mktemp("scripts") / "quiet.yaml"
    path.write_text(QUIET_SCRIPT)
    return load_script(path).script


@pytest.fixture(scope="module")
def english():
    return load_script(DIALOGS / "en-US" / "generic.yaml").script


def through_edge(message: str, edge_port: int) -> None:
    """The request came from Kamailio, which got it from the node, and Kamailio stays on the route."""
    vias = headers(message, "Via")
    assert vias[0].startswith(f"SIP/2.0/UDP {EDGE}:{edge_port};branch="), vias
    assert vias[1].startswith(f"SIP/2.0/UDP {NODE}:"), vias


async def test_calls_go_to_the_live_trunk_and_the_dead_one_is_probed_until_it_answers_again(
        node, edge, peers, quiet, edge_port, tmp_path):
    dead = peers("trunk_unavailable", TRUNK_A)  # 503 to everything
    write_ulaw_wav(tmp_path / "quiet.wav", silence(6.0, TELEPHONE_RATE))
    live = peers("trunk_answers", TRUNK_B, utterance=tmp_path / "quiet.wav")
    kamailio = edge([f"{dead.uri} 0 0", f"{live.uri} 0 0"], PING_INTERVAL_SECONDS=1)
    await eventually(lambda: kamailio.dispatcher_states() == {dead.uri: "I", live.uri: "A"}, "the dead trunk marked inactive")
    assert kamailio.dispatcher_flags()[dead.uri] == "IP"  # and still probed
    probes = dead.requests("OPTIONS")
    assert len(probes) >= 2 and all(headers(probe, "Via")[0].startswith(f"SIP/2.0/UDP {EDGE}:{edge_port}") for probe in probes)

    result = await node.call(CallRequest(target=NUMBER, script=quiet))

    assert result.answered and result.sip_status == 200 and result.outcome == "no_input", (result, kamailio.log())
    [invite] = live.requests("INVITE")
    assert invite.startswith(f"INVITE sip:{NUMBER}@{TRUNK_B}:{live.port} SIP/2.0")  # the trunk's own address
    through_edge(invite, edge_port)
    assert headers(invite, "Record-Route") == [f"<sip:{EDGE}:{edge_port};lr=on;ftag={tag_of(invite)}>"]
    # In-dialog requests follow the recorded route: the ACK and the robot's BYE pass through Kamailio.
    await eventually(lambda: bool(live.requests("BYE")), "the robot's BYE at the trunk")
    for method in ("ACK", "BYE"):
        [request] = live.requests(method)
        through_edge(request, edge_port)
    assert dead.requests("INVITE") == []

    dead.stop()
    revived = peers("trunk_busy", TRUNK_A, dead.port)  # the same trunk, answering again
    await eventually(lambda: kamailio.dispatcher_states()[dead.uri] == "A", "the trunk back in service")
    assert revived.requests("OPTIONS")


async def test_a_trunk_that_is_down_is_taken_out_by_the_probes(node, edge, peers, english):
    busy = peers("trunk_busy", TRUNK_B)
    silent = f"sip:{TRUNK_A}:{free_port(TRUNK_A)}"  # nothing listens there
    kamailio = edge([f"{silent} 0 0", f"{busy.uri} 0 0"], PING_INTERVAL_SECONDS=1, NO_REPLY_MILLISECONDS=1000)
    await eventually(lambda: kamailio.dispatcher_states()[silent] == "I", "the silent trunk marked inactive")
    results = [await node.call(CallRequest(target=NUMBER, script=english)) for _ in range(2)]  # round robin would give one to each
    assert [(r.call_outcome, r.sip_status) for r in results] == [(CallOutcome.BUSY, 486)] * 2
    assert len(busy.requests("INVITE")) == 2
    assert "failed a call" not in kamailio.log()  # no call was sent to the silent trunk first


async def test_a_trunk_failing_a_call_is_marked_inactive_and_the_call_goes_on(node, edge, peers, english, edge_port):
    failing = peers("trunk_failing_calls", TRUNK_A)  # answers probes, 503 to calls
    busy = peers("trunk_busy", TRUNK_B)
    kamailio = edge([f"{failing.uri} 0 0", f"{busy.uri} 0 0"], PING_INTERVAL_SECONDS=3600)
    results = [await node.call(CallRequest(target=NUMBER, script=english)) for _ in range(2)]  # round robin: one of them tries A first
    assert [(r.call_outcome, r.sip_status) for r in results] == [(CallOutcome.BUSY, 486)] * 2, kamailio.log()
    assert len(failing.requests("INVITE")) == 1 and len(busy.requests("INVITE")) == 2
    assert kamailio.dispatcher_states() == {failing.uri: "I", busy.uri: "A"}
    assert kamailio.dispatcher_flags()[failing.uri] == "IP"  # probed until it answers calls again
    assert "failed a call (503): marked inactive" in kamailio.log()
    through_edge(failing.requests("INVITE")[0], edge_port)


async def test_each_trunk_is_held_to_its_call_rate(node, edge, peers, english):
    small = peers("trunk_busy", TRUNK_A)
    large = peers("trunk_busy", TRUNK_B)
    kamailio = edge([f"{small.uri} 0 0 rate_calls=1;rate_seconds=3600", f"{large.uri} 0 0 rate_calls=2;rate_seconds=3600"])
    results = [await node.call(CallRequest(target=NUMBER, script=english)) for _ in range(4)]
    # Three calls fit (one on A, two on B: a trunk at its rate passes the call to the next); the fourth is refused.
    assert [r.sip_status for r in results] == [486, 486, 486, 503]
    assert results[-1].call_outcome is CallOutcome.FAILED
    assert (len(small.requests("INVITE")), len(large.requests("INVITE"))) == (1, 2)
    assert "every trunk is at its call rate" in kamailio.log()


@pytest.mark.parametrize(("target", "extra"), [
    ("sip:officers@{edge}", {}),                        # the officers' queue user
    (NUMBER, {"X-Robot-Handoff": "live"}),              # a hand-off leg, whatever its number
])
async def test_officer_legs_go_to_the_officers_queue_not_the_trunks(node, edge, peers, english, edge_port, target, extra):
    trunk = peers("trunk_busy", TRUNK_B)
    queue = peers("trunk_busy", OFFICERS)
    edge([f"{trunk.uri} 0 0"], [f"{queue.uri} 0 0 user=8000"])
    result = await node.call(CallRequest(target=target.format(edge=f"{EDGE}:{edge_port}"), script=english, headers=extra))
    assert (result.call_outcome, result.sip_status) == (CallOutcome.BUSY, 486)
    [invite] = queue.requests("INVITE")
    assert invite.startswith(f"INVITE sip:8000@{OFFICERS}:{queue.port} SIP/2.0")  # the queue's number, from its attributes
    through_edge(invite, edge_port)
    assert trunk.requests("INVITE") == []


async def test_a_live_hand_off_reaches_the_officers_queue_through_kamailio(node, edge, peers, english, edge_port, tmp_path, speech_kit):
    voice = speech_kit.prompts("en_US-joe-medium").synthesizer
    speech = voice.render("They told me to keep it secret and I am really very scared.", TELEPHONE_RATE)
    write_ulaw_wav(tmp_path / "urgent.wav", speech)
    callee = peers("trunk_answers", TRUNK_B, utterance=tmp_path / "urgent.wav")
    officer = peers("officer_hangs_up", OFFICERS)
    edge([f"{callee.uri} 0 0"], [f"{officer.uri} 0 0"])
    result = await node.call(CallRequest(target=NUMBER, script=english, headers={"X-Warning-Id": "W-2026-0042"},
                                         variables={"fraud_type_label": "an investment scam"}))
    assert result.outcome == "escalated" and result.escalation.mode == "live", (result.handoff, result.transcript)
    assert result.handoff.answered and result.handoff.bridged_seconds > 0  # the officer hung up, through Kamailio
    [invite] = officer.requests("INVITE")
    assert "X-Robot-Handoff: live" in invite and "X-Warning-Id: W-2026-0042" in invite
    through_edge(invite, edge_port)
    assert headers(invite, "Record-Route")[0].startswith(f"<sip:{EDGE}:{edge_port};lr")
    assert len(callee.requests("INVITE")) == 1  # the callee's leg only: the officer's never went to the trunk
    await eventually(lambda: officer_done(officer), "the robot's 200 to the officer's BYE, through Kamailio")


@pytest.mark.parametrize("source", [STRANGER, TRUNK_A])
async def test_a_call_from_anyone_but_a_node_is_refused(edge, peers, edge_port, tmp_path, source):
    trunk = peers("trunk_busy", TRUNK_B)
    edge([f"{trunk.uri} 0 0"])
    sipp = shutil.which("sipp")
    assert sipp
    caller = await asyncio.create_subprocess_exec(
        sipp, "-sf", str(SCENARIOS / "caller_refused.xml"), "-i", source, "-p", str(free_port(source)),
        f"{EDGE}:{edge_port}", "-m", "1", "-nostdin", "-timeout", "20", "-timeout_error",
        cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    assert await caller.wait() == 0  # SIPp got its 403, and nothing else
    assert trunk.requests("INVITE") == []


def tag_of(message: str) -> str:
    return headers(message, "From")[0].rsplit("tag=", 1)[1]


def officer_done(officer: SippPeer) -> bool:
    return any(message.startswith("SIP/2.0 200") and "CSeq: 2 BYE" in message for message in officer.messages())

