"""SIP configuration: `sip-config/*.yaml`, validated with line-accurate errors."""

from __future__ import annotations

import ipaddress
import os
import re
from enum import StrEnum
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    field_validator,
    model_validator,
)

from ..config_file import load_config
from .peer_filter import uri_host

HOST_NAME = re.compile(r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}")


HEADER_NAME = re.compile(r"[A-Za-z0-9!%*_+`'~.-]{1,64}")
"""An RFC 3261 token."""
HEADER_VALUE_LIMIT = 512


def header_problem(name: str, value: str) -> str | None:
    """Why `name: value` cannot go into a SIP message as one header, or None. A CR or LF
    would end the header and start another (header injection); other control characters
    have no place in one either."""
    if not HEADER_NAME.fullmatch(name):
        return f"header name {name!r} is not a SIP token"
    if len(value) > HEADER_VALUE_LIMIT:
        return f"header {name} is longer than {HEADER_VALUE_LIMIT} characters"
    if any(ord(character) < 0x20 and character != "\t" or ord(character) == 0x7F for character in value):
        return f"header {name} contains a control character (CR, LF, ...)"
    return None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TransportKind(StrEnum):
    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


class Codec(StrEnum):
    PCMA = "PCMA"
    PCMU = "PCMU"
    G722 = "G722"


class Tls(_Model):
    """Certificates for SIP over TLS (kind: tls). RTP media is not encrypted by this."""

    ca_file: FilePath | None = Field(default=None, description="PEM CA bundle that signed the trunk's certificate")
    cert_file: FilePath | None = Field(default=None, description="Our certificate (PEM), if the trunk asks for one")
    private_key_file: FilePath | None = Field(default=None, description="Our private key (PEM)")
    verify_server: bool = Field(default=True, description="Refuse a trunk whose certificate does not verify")

    @model_validator(mode="after")
    def _pairs(self) -> Tls:
        if (self.cert_file is None) != (self.private_key_file is None):
            raise ValueError("cert_file and private_key_file go together")
        return self


class Transport(_Model):
    kind: TransportKind = TransportKind.UDP
    bind_address: str = Field(
        description="The address of this server's interface that faces the trunk (required: 0.0.0.0 binds every "
                    "interface and must be written out if that is really meant)",
    )
    public_address: str = Field(default="", description="Address to advertise in SIP and SDP (NAT); empty: bind address")
    port: int = Field(default=5060, ge=0, le=65535, description="0 picks a free port")
    rtp_port_start: int = Field(default=40000, ge=0, le=65535, description="0 picks free ports")
    rtp_port_range: int = Field(default=2000, ge=0)
    tls: Tls = Tls()
    allowed_peers: list[str] = Field(
        default=[],
        description="Addresses, networks (CIDR) or host names that may send SIP to the robot; anything else is dropped "
                    "by the kernel. Empty: the hosts of dial_template, outbound_proxy, registration.registrar and "
                    "human_queue_uri, resolved at start",
    )

    @field_validator("bind_address")
    @classmethod
    def _an_address(cls, address: str) -> str:
        try:
            ipaddress.ip_address(address)
        except ValueError as err:
            raise ValueError(f"bind_address must be an IP address of this server, not {address!r}") from err
        return address

    @field_validator("allowed_peers")
    @classmethod
    def _peers(cls, peers: list[str]) -> list[str]:
        for peer in peers:
            try:
                ipaddress.ip_network(peer, strict=False)
            except ValueError:
                if not HOST_NAME.fullmatch(peer):
                    raise ValueError(f"allowed_peers: {peer!r} is neither an address, a network nor a host name") from None
        return peers

    @model_validator(mode="after")
    def _tls_needs_a_ca(self) -> Transport:
        if self.kind is TransportKind.TLS and self.tls.verify_server and self.tls.ca_file is None:
            raise ValueError("a tls transport verifies the trunk: set tls.ca_file (or tls.verify_server: false)")
        return self


class Secret(_Model):
    """Where a secret (the SIP password, the API token, the webhook key) comes from. It is
    never written to logs."""

    env: str | None = None
    file: Path | None = None

    def read(self) -> str:
        if self.env:
            value = os.environ.get(self.env)
            if value is None:
                raise ValueError(f"environment variable {self.env} is not set")
            return value
        if self.file:
            try:
                return self.file.read_text(encoding="utf-8").strip()
            except OSError as err:
                raise ValueError(f"cannot read the secret file {self.file}: {err}") from err
        raise ValueError("no password source: set password.env or password.file")


class Registration(_Model):
    registrar: str = Field(description="e.g. sip:pbx.example.cn")
    username: str
    realm: str = "*"
    password: Secret
    expires_seconds: int = Field(default=300, ge=60)


class CallerId(_Model):
    display_name: str = Field(default="反诈中心", max_length=64, pattern=r'^[^"\\\x00-\x1f\x7f]*$')
    user: str = Field(default="96110", pattern=r"^[A-Za-z0-9+*#._-]{1,32}$")
    p_asserted_identity: str | None = Field(default=None, description="e.g. <sip:96110@trunk.example.cn>")

    @field_validator("p_asserted_identity")
    @classmethod
    def _one_header(cls, value: str | None) -> str | None:
        if value is not None and (problem := header_problem("P-Asserted-Identity", value)):
            raise ValueError(problem)
        return value


class SipConfig(_Model):
    transport: Transport
    registration: Registration | None = Field(default=None, description="Omit for an IP trunk (no registration)")
    outbound_proxy: str | None = Field(default=None, description="e.g. sip:10.0.0.5:5060;lr")
    dial_template: str = Field(description="e.g. sip:{phone}@trunk.example.cn:5060")
    caller_id: CallerId = CallerId()
    extra_headers: dict[str, str] = Field(default={}, description="Added to every INVITE; {warning_id} etc. are filled in")
    codecs: list[Codec] = Field(default=[Codec.PCMA, Codec.PCMU, Codec.G722], min_length=1)
    ring_timeout_seconds: float = Field(default=40.0, gt=0, le=300)
    max_call_seconds: float = Field(default=300.0, gt=0, le=3600)
    hello_listen_seconds: float = Field(default=1.0, ge=0, le=5, description="Listen for 喂/hello before the first prompt")
    human_queue_uri: str | None = Field(default=None, description="Where live escalations are dialled")
    recordings_dir: Path | None = Field(default=None, description="Record answered calls here; omit to switch off")

    @field_validator("extra_headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if problem := header_problem(name, value):
                raise ValueError(problem)
        return headers

    @field_validator("dial_template")
    @classmethod
    def _template(cls, template: str) -> str:
        if "{phone}" not in template:
            raise ValueError("dial_template must contain {phone}")
        return template

    def sip_peers(self) -> list[str]:
        """Who may send SIP to the robot: `transport.allowed_peers`, else the hosts it talks to."""
        if self.transport.allowed_peers:
            return list(self.transport.allowed_peers)
        uris = [self.dial_template.replace("{phone}", "0"), self.outbound_proxy, self.human_queue_uri,
                self.registration.registrar if self.registration else None]
        hosts = [uri_host(uri) for uri in uris if uri]
        return list(dict.fromkeys(host for host in hosts if host))

    def dial_uri(self, target: str) -> str:
        """A `sip:` URI is dialled as it is; anything else is a phone number for the template."""
        if target.startswith(("sip:", "sips:")):
            return target
        return self.dial_template.format(phone=target)


LOOPBACK_DEFAULT = SipConfig(
    transport=Transport(bind_address="127.0.0.1", public_address="127.0.0.1", port=0, rtp_port_start=0),
    dial_template="sip:{phone}@127.0.0.1:5060",
    ring_timeout_seconds=20.0,
)


def load_sip_config(path: str | Path | None) -> SipConfig:
    """Load a SIP config file; with no file, the loopback-friendly default."""
    return load_config(SipConfig, path) if path is not None else LOOPBACK_DEFAULT
