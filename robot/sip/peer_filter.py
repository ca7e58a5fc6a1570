"""Only the configured SIP peers reach pjsua: a kernel socket filter on the SIP transport.

Why in the kernel: for every INVITE that carries SDP, pjsua takes a call slot, creates a
dialog and an invite session and opens RTP sockets (`pjsua_call_on_incoming` ->
`pjsua_media_channel_init`) before the application hears of the call, and pjsua2 has no
hook before that (neither `UaConfig` nor `AccountConfig` can filter by source, and
`Account.onIncomingCall` runs after the allocation). A flood of INVITEs from anyone
therefore exhausted pjlib's ioqueue and aborted the worker.

So the robot, which only dials out, attaches a classic BPF program (`SO_ATTACH_FILTER`, no
privileges needed) to its own SIP socket that passes packets only from the allowed peers:
the trunk, the outbound proxy, the registrar and the human queue (`transport.allowed_peers`,
or the hosts of those URIs resolved at start). Everything else is dropped by the kernel
before pjlib reads it. For TCP and TLS the filter sits on the listening socket, so a
connection from anyone else is never accepted (accepted sockets inherit the filter).
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import re
import socket
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# linux/filter.h
BPF_LD, BPF_ALU, BPF_JMP, BPF_RET = 0x00, 0x04, 0x05, 0x06
BPF_W, BPF_H, BPF_ABS, BPF_K = 0x00, 0x08, 0x20, 0x00
BPF_AND, BPF_JA, BPF_JEQ = 0x50, 0x00, 0x10
SKF_AD_OFF, SKF_AD_PROTOCOL, SKF_NET_OFF = -0x1000, 0, -0x100000
ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD
SO_ATTACH_FILTER = 26
ACCEPT, DROP = 0xFFFFFFFF, 0
IPV4_SOURCE_OFFSET, IPV6_SOURCE_OFFSET = 12, 8

Instruction = tuple[int, int, int, int]
"""(code, jump if true, jump if false, k), as `struct sock_filter`."""


class PeerFilterError(RuntimeError):
    """The filter could not be built or attached."""


def _u32(value: int) -> int:
    return value & 0xFFFFFFFF


def _match_words(network: Network, base_offset: int) -> list[tuple[int, int, int]]:
    """(packet offset, mask, expected value) per 32-bit word of the source address that the
    network's prefix covers."""
    words = []
    address = int(network.network_address)
    mask = int(network.netmask)
    count = network.max_prefixlen // 32
    for index in range(count):
        shift = 32 * (count - 1 - index)
        word_mask = (mask >> shift) & 0xFFFFFFFF
        if word_mask:
            words.append((base_offset + 4 * index, word_mask, (address >> shift) & 0xFFFFFFFF))
    return words


def _network_block(network: Network, base_offset: int) -> list[Instruction]:
    """Instructions that return ACCEPT if the source is in `network`, else fall through to
    whatever follows the block."""
    words = _match_words(network, base_offset)
    if not words:  # 0.0.0.0/0 or ::/0: everyone
        return [(BPF_RET | BPF_K, 0, 0, ACCEPT)]
    block: list[Instruction] = []
    for offset, mask, expected in words:
        block.append((BPF_LD | BPF_W | BPF_ABS, 0, 0, _u32(SKF_NET_OFF + offset)))
        if mask != 0xFFFFFFFF:
            block.append((BPF_ALU | BPF_AND | BPF_K, 0, 0, mask))
        block.append((BPF_JMP | BPF_JEQ | BPF_K, 0, 0, expected))  # the mismatch jump is set below
    block.append((BPF_RET | BPF_K, 0, 0, ACCEPT))
    # A mismatch jumps to just after the block's RET: on to the next network.
    return [(code, jt, len(block) - index - 1 if code == BPF_JMP | BPF_JEQ | BPF_K else jf, k)
            for index, (code, jt, jf, k) in enumerate(block)]


def build_program(networks: Sequence[Network]) -> list[Instruction]:
    """A classic BPF program that accepts a packet only if its IPv4 or IPv6 source address
    is in one of `networks`.

    Layout: 0 load the EtherType; 1 IPv4 -> 5; 2 IPv6 -> 3, else -> 4; 3 jump to the IPv6
    part; 4 drop; 5 the IPv4 networks, then drop; then the IPv6 networks, then drop."""
    drop: Instruction = (BPF_RET | BPF_K, 0, 0, DROP)
    ipv4_part = [i for n in networks if n.version == 4 for i in _network_block(n, IPV4_SOURCE_OFFSET)] + [drop]
    ipv6_part = [i for n in networks if n.version == 6 for i in _network_block(n, IPV6_SOURCE_OFFSET)] + [drop]
    program: list[Instruction] = [
        (BPF_LD | BPF_H | BPF_ABS, 0, 0, _u32(SKF_AD_OFF + SKF_AD_PROTOCOL)),
        (BPF_JMP | BPF_JEQ | BPF_K, 3, 0, ETH_P_IP),
        (BPF_JMP | BPF_JEQ | BPF_K, 0, 1, ETH_P_IPV6),
        (BPF_JMP | BPF_JA, 0, 0, len(ipv4_part) + 1),
        drop,
        *ipv4_part,
        *ipv6_part,
    ]
    if len(program) > 4096:  # BPF_MAXINSNS
        raise PeerFilterError(f"too many allowed SIP peers for one socket filter ({len(networks)})")
    return program


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


_LIBC = ctypes.CDLL(None, use_errno=True)


def attach(fd: int, program: Sequence[Instruction]) -> None:
    """Attach `program` to the socket behind `fd` (the kernel copies it)."""
    instructions = (_SockFilter * len(program))(*[_SockFilter(*i) for i in program])
    fprog = _SockFprog(len(program), instructions)
    if _LIBC.setsockopt(fd, socket.SOL_SOCKET, SO_ATTACH_FILTER, ctypes.byref(fprog), ctypes.sizeof(fprog)) != 0:
        error = ctypes.get_errno()
        raise PeerFilterError(f"cannot attach the SIP peer filter: {os.strerror(error)}")


def restrict_socket(fd: int, networks: Sequence[Network]) -> None:
    attach(fd, build_program(networks))


def find_listening_socket(port: int, kind: int) -> int:
    """The fd of this process's socket bound to `port` (UDP: SOCK_DGRAM; TCP/TLS: the
    listening SOCK_STREAM socket). pjsua2 does not expose its transport's socket."""
    found = []
    for entry in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(ValueError, OSError):
            fd = int(entry.name)
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            probe = socket.socket(fileno=os.dup(fd))
            try:
                if probe.family not in (socket.AF_INET, socket.AF_INET6) or probe.type != kind:
                    continue
                if probe.getsockname()[1] != port:
                    continue
                if kind == socket.SOCK_STREAM and not probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                    continue
                found.append(fd)
            finally:
                probe.close()
    if len(found) != 1:
        raise PeerFilterError(f"cannot find the SIP transport's socket on port {port} (found {len(found)})")
    return found[0]


def covered(network: Network, networks: Sequence[Network]) -> bool:
    """True if `network` lies inside one of `networks`."""
    return any(
        (isinstance(network, ipaddress.IPv4Network) and isinstance(other, ipaddress.IPv4Network) and network.subnet_of(other))
        or (isinstance(network, ipaddress.IPv6Network) and isinstance(other, ipaddress.IPv6Network) and network.subnet_of(other))
        for other in networks
    )


_URI_HOST = re.compile(r"^<?sips?:(?:[^@;>]*@)?(\[[^\]]+\]|[^:;>?]+)", re.IGNORECASE)


def uri_host(uri: str) -> str | None:
    """The host of a SIP URI: `sip:{phone}@trunk.example.cn:5060;lr` -> `trunk.example.cn`."""
    match = _URI_HOST.match(uri.strip())
    return match.group(1).strip("[]") if match else None


def resolve(hosts: Iterable[str]) -> list[Network]:
    """Every address of every host (an address or CIDR network is taken as it is)."""
    networks: list[Network] = []
    for host in hosts:
        try:
            networks.append(ipaddress.ip_network(host, strict=False))
            continue
        except ValueError:
            pass
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_UDP)
        except OSError as err:
            raise PeerFilterError(
                f"cannot resolve the SIP peer {host!r} ({err}); set transport.allowed_peers to its addresses"
            ) from err
        for info in infos:
            networks.append(ipaddress.ip_network(str(info[4][0]).split("%")[0]))
    unique: list[Network] = []
    for network in networks:
        if network not in unique:
            unique.append(network)
    return unique
