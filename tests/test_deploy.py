"""Deployment files that cannot run here (no Docker engine; systemd is not PID 1) checked for
what can be checked: every config docker-compose.yml mounts exists and loads, the two nodes do
not collide, Kamailio accepts the compose settings, and the systemd unit verifies."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from robot.dialer.config import DialerConfig, load_dialer_config
from robot.sip.config import SipConfig, load_sip_config
from robot.sip.peer_filter import uri_host
from tests.conftest import REPO

COMPOSE: dict[str, Any] = YAML(typ="safe").load((REPO / "docker-compose.yml").read_text())
EDGE_LOCAL = REPO / "deploy" / "compose" / "robot-edge.local.cfg"


def mounted(service: dict[str, Any], target: str) -> Path:
    """The repository file a service mounts at `target`."""
    for volume in service["volumes"]:
        source, mount = volume.split(":")[:2]
        if mount == target:
            return REPO / source
    raise AssertionError(f"nothing is mounted at {target}")


def nodes() -> list[tuple[str, DialerConfig, SipConfig, dict[str, Any]]]:
    found = []
    for name, service in COMPOSE["services"].items():
        if name.startswith("node-"):
            config = load_dialer_config(mounted(service, "/etc/robot/robot.yaml"))
            found.append((name, config, load_sip_config(mounted(service, "/etc/robot/sip.yaml")), service))
    return found


def defines(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^#!define (\w+) (.+)$", path.read_text(), re.MULTILINE))


def test_every_file_the_compose_file_mounts_is_in_the_repository():
    for service in COMPOSE["services"].values():
        for volume in service.get("volumes", []):
            if volume.startswith("./"):
                assert (REPO / volume.split(":")[0]).is_file(), volume


def test_the_two_nodes_share_the_store_and_the_edge_and_nothing_else():
    found = nodes()
    assert len(found) == 2
    (_, first, first_sip, _), (_, second, second_sip, _) = found
    assert first.node_id != second.node_id
    assert first.api.port != second.api.port
    assert first.database == second.database and str(first.database).startswith("postgresql:")
    assert first_sip.transport.port != second_sip.transport.port
    first_rtp = range(first_sip.transport.rtp_port_start, first_sip.transport.rtp_port_start + first_sip.transport.rtp_port_range)
    assert second_sip.transport.rtp_port_start not in first_rtp and first_sip.transport.rtp_port_start not in range(
        second_sip.transport.rtp_port_start, second_sip.transport.rtp_port_start + second_sip.transport.rtp_port_range)


def test_each_node_sends_through_kamailio_which_admits_it():
    settings = defines(EDGE_LOCAL)
    listen = settings["LISTEN"].removeprefix("udp:")
    admitted = settings["ROBOT_NODES"].strip('"').split(",")
    for name, config, sip, service in nodes():
        assert sip.outbound_proxy == f"sip:{listen};lr" and f"@{listen}" in sip.dial_template, name
        assert sip.sip_peers() == [uri_host(f"sip:{listen}")], name  # only Kamailio may send SIP to the node
        assert f"{sip.transport.bind_address}/32" in admitted, name
        grace = int(service["stop_grace_period"].removesuffix("s"))
        assert grace > config.workers.drain_seconds, name  # a draining node is not killed mid-call


@pytest.mark.skipif(shutil.which("kamailio") is None and not Path("/usr/sbin/kamailio").exists(), reason="no Kamailio")
def test_kamailio_accepts_the_compose_settings(tmp_path):
    for source in ("deploy/kamailio/kamailio.cfg", "deploy/kamailio/dispatcher.list", "deploy/compose/robot-edge.local.cfg"):
        shutil.copy(REPO / source, tmp_path)
    checked = subprocess.run([shutil.which("kamailio") or "/usr/sbin/kamailio", "-c", "-f", str(tmp_path / "kamailio.cfg")],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"udp: {defines(EDGE_LOCAL)['LISTEN'].split(':')[1]} " in checked.stdout  # the local settings were read


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_systemd_unit_verifies_and_drains(tmp_path):
    unit = (REPO / "deploy" / "systemd" / "robot.service").read_text()
    # verify wants ExecStart's program to exist: any executable stands in for /opt/robot's.
    (tmp_path / "robot.service").write_text(unit.replace("/opt/robot/.venv/bin/robot", sys.executable))
    checked = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "robot.service")], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "robot.service" not in checked.stderr, checked.stderr
    settings = dict(re.findall(r"^(\w+)=(.*)$", unit, re.MULTILINE))
    assert int(settings["TimeoutStopSec"]) > DialerConfig().workers.drain_seconds + 30
    assert settings["KillMode"] == "mixed" and settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert "AF_NETLINK" in settings["RestrictAddressFamilies"]  # pjsua2 lists interfaces over netlink at start
