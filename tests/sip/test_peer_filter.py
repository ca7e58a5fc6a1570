"""SIP only from the configured peers: the kernel socket filter on the SIP transport, and a
call worker that survives an INVITE flood from anyone else (real SIPp, real process)."""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from robot.dialog.loader import ScriptError
from robot.sip.config import LOOPBACK_DEFAULT, load_sip_config
from robot.sip.peer_filter import find_listening_socket, resolve, restrict_socket, uri_host
from tests.conftest import REPO
from tests.sip.conftest import free_udp_port

FLOOD_INVITES = 1000
FLOOD_RATE_PER_SECOND = 200


def received(receiver: socket.socket, source: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind((source, 0))
        sender.sendto(b"INVITE sip:x@127.0.0.1 SIP/2.0\r\n\r\n", receiver.getsockname())
    try:
        receiver.recvfrom(1000)
    except TimeoutError:
        return False
    return True


def test_udp_packets_from_other_addresses_never_reach_the_socket():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(0.5)
        assert find_listening_socket(receiver.getsockname()[1], socket.SOCK_DGRAM) == receiver.fileno()
        restrict_socket(receiver.fileno(), [ipaddress.ip_network("127.0.0.1"), ipaddress.ip_network("10.0.0.0/8")])
        assert received(receiver, "127.0.0.1")
        assert not received(receiver, "127.0.0.2")
        assert not received(receiver, "127.0.0.3")


def test_a_network_lets_its_whole_range_through():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(0.5)
        restrict_socket(receiver.fileno(), [ipaddress.ip_network("127.0.0.0/30")])
        assert received(receiver, "127.0.0.2")
        assert not received(receiver, "127.0.0.5")


def test_tcp_connections_from_other_addresses_are_never_accepted():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        fd = find_listening_socket(listener.getsockname()[1], socket.SOCK_STREAM)
        restrict_socket(fd, [ipaddress.ip_network("127.0.0.1")])
        with socket.socket() as stranger:
            stranger.bind(("127.0.0.2", 0))
            stranger.settimeout(0.5)
            with pytest.raises(OSError):
                stranger.connect(listener.getsockname())
        with socket.socket() as trunk:
            trunk.bind(("127.0.0.1", 0))
            trunk.connect(listener.getsockname())


def test_peers_default_to_the_hosts_the_robot_talks_to(tmp_path):
    path = tmp_path / "sip.yaml"
    path.write_text(
        "transport: {bind_address: 10.0.0.20}\n"
        "outbound_proxy: 'sip:10.0.0.5:5060;lr'\n"
        "dial_template: 'sip:{phone}@10.0.0.6:5060'\n"
        "human_queue_uri: 'sip:queue@[fd00::7]'\n"
    )
    config = load_sip_config(path)
    assert config.sip_peers() == ["10.0.0.6", "10.0.0.5", "fd00::7"]
    assert [str(n) for n in resolve(config.sip_peers())] == ["10.0.0.6/32", "10.0.0.5/32", "fd00::7/128"]
    assert LOOPBACK_DEFAULT.sip_peers() == ["127.0.0.1"]
    assert uri_host("sips:robot@trunk.example.cn:5061;transport=tls") == "trunk.example.cn"


def test_explicit_peers_replace_the_derived_ones_and_bind_address_is_required(tmp_path):
    path = tmp_path / "sip.yaml"
    path.write_text("transport: {bind_address: 10.0.0.20, allowed_peers: [10.1.0.0/16, sbc.example.cn]}\n"
                    "dial_template: 'sip:{phone}@10.0.0.6'\n")
    assert load_sip_config(path).sip_peers() == ["10.1.0.0/16", "sbc.example.cn"]
    path.write_text("transport: {port: 5060}\ndial_template: 'sip:{phone}@10.0.0.6'\n")
    with pytest.raises(ScriptError, match=r"sip.yaml:1:1: transport.bind_address: required key is missing"):
        load_sip_config(path)
    path.write_text("transport: {bind_address: 10.0.0.20, allowed_peers: ['evil;rm']}\ndial_template: 'sip:{phone}@x'\n")
    with pytest.raises(ScriptError, match="neither an address"):
        load_sip_config(path)


@pytest.mark.slow
def test_the_worker_survives_an_invite_flood_from_an_address_that_is_not_the_trunk(sipp, tmp_path, speech_kit):
    """200 INVITE/s from 127.0.0.2 (the trunk is 127.0.0.1): before the filter, 100/s for 3 s
    exhausted pjlib's ioqueue and aborted the worker. The 30 s run is in bench/security.py."""
    callee = sipp("busy")
    port = free_udp_port()
    worker = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "flood_program.py"), str(port), str(speech_kit.settings.cache_dir),
         str(tmp_path / "models"), str(REPO), callee.uri],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert worker.stdout is not None and worker.stdin is not None
        line = worker.stdout.readline()
        while line and not line.startswith("{"):
            line = worker.stdout.readline()
        assert json.loads(line)["event"] == "ready"
        sipp_binary = shutil.which("sipp")
        assert sipp_binary
        subprocess.run(
            [sipp_binary, "-sn", "uac", "-i", "127.0.0.2", "-p", str(free_udp_port()), f"127.0.0.1:{port}",
             "-r", str(FLOOD_RATE_PER_SECOND), "-m", str(FLOOD_INVITES), "-recv_timeout", "2000", "-nostdin"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
        )
        assert worker.poll() is None, f"the worker died in the flood: {worker.stderr.read()[-2000:] if worker.stderr else ''}"
        worker.stdin.write("go\n")
        worker.stdin.flush()
        called = json.loads(worker.stdout.readline())
        assert (called["outcome"], called["sip_status"]) == ("busy", 486)  # the trunk still gets through
        assert worker.wait(30) == 0
        assert worker.stderr is not None and "Assertion" not in worker.stderr.read()
        assert callee.finish() == 0
    finally:
        if worker.poll() is None:
            worker.kill()
