"""One thread owns pjsua2; asyncio talks to it through a request queue.

Modelled on aiosqlite's `core.py`: requests go in as `(future, callable)`, run on the
owning thread, and results come back with `loop.call_soon_threadsafe`, guarded against
futures that are already done. The thread sleeps on its queue: SIP events and timers are
polled by pjsua's own worker thread in C (`threadCnt = 1`), so an idle worker wakes no Python
and a request is served the moment it arrives. SIP callbacks on pjsua's thread only read
what they must and hand the rest to this thread (`call_here`) or to the loop (`post`); so
every Python pjsua2 object is still created and destroyed here. Media callbacks run on the
media clock thread and only append bytes to a deque.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import socket
import threading
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import pjsua2 as pj

from ..error import RobotError
from .config import SipConfig
from .peer_filter import (
    Network,
    PeerFilterError,
    covered,
    find_listening_socket,
    resolve,
    restrict_socket,
    uri_host,
)

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
MAX_CALLS_PER_PROCESS = 4  # PJSUA_MAX_CALLS in the pjsua2-python wheel


class SipError(RobotError):
    """SIP could not start, register or place a call."""


def _settle(future: asyncio.Future[Any], result: Any = None, error: BaseException | None = None) -> None:
    if future.done():  # the caller gave up (cancelled or timed out)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _Account(pj.Account):
    """Reports registration results to the event loop."""

    def __init__(self, owner: PjsuaThread) -> None:
        super().__init__()
        self.owner = owner

    def onRegState(self, prm: pj.OnRegStateParam) -> None:  # noqa: N802
        self.owner.post(self.owner._registration_changed, prm.code, prm.reason)


class PjsuaThread(threading.Thread):
    """Owns the pjsua2 Endpoint, its transport and account, and every Python pjsua2 object."""

    def __init__(self, config: SipConfig, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(name="pjsua", daemon=True)
        self.config = config
        self.loop = loop
        self._requests: queue.SimpleQueue[tuple[asyncio.Future[Any] | None, Callable[[], Any]] | None] = queue.SimpleQueue()
        self.ready: asyncio.Future[str] = loop.create_future()
        self.registered: asyncio.Future[int] = loop.create_future()
        """Settles with the first final registration status (only in registration mode)."""
        self.endpoint: pj.Endpoint | None = None
        self.account: pj.Account | None = None
        self.local_address = ""
        self.transport_id = -1
        self.allowed_networks: list[Network] = []
        """Source addresses the SIP socket accepts packets from."""
        self._transport_fd: int | None = None
        # Python objects that wrap pjsua2 objects; all are dropped before libDestroy.
        self.owned: set[Any] = set()

    # -- asyncio side --------------------------------------------------------------------

    async def run_in_thread(self, function: Callable[[], T]) -> T:
        future: asyncio.Future[T] = self.loop.create_future()
        self._requests.put((future, function))
        return await future

    async def stop(self) -> None:
        self._requests.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self.join, 10)

    def _registration_changed(self, code: int, reason: str) -> None:
        _LOGGER.info("SIP registration: %s %s", code, reason)
        if code // 100 == 2:
            _settle(self.registered, code)
        elif code >= 300:
            _settle(self.registered, None, SipError("registration", f"SIP registration refused: {code} {reason}"))

    def post(self, function: Callable[..., Any], *args: Any) -> None:
        """From a pjsua2 callback (any pjsua thread or the media thread) into the event loop."""
        self.loop.call_soon_threadsafe(function, *args)

    def call_here(self, function: Callable[[], Any]) -> None:
        """From a pjsua2 callback: run `function` on this thread (it creates pjsua2 objects)."""
        self._requests.put((None, function))

    # -- the owning thread ---------------------------------------------------------------

    def run(self) -> None:
        try:
            self._start_library()
        except Exception as err:  # pjsua2 raises pj.Error
            message = err.info() if isinstance(err, pj.Error) else str(err)
            self.loop.call_soon_threadsafe(_settle, self.ready, None, SipError("sip_start", f"cannot start SIP: {message}"))
            self._destroy()
            return
        self.loop.call_soon_threadsafe(_settle, self.ready, self.local_address)
        while (request := self._requests.get()) is not None:
            self._serve(*request)
        while True:  # requests that raced stop() (a last hang-up) still run before the library goes
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                break
            if request is not None:
                self._serve(*request)
        self._destroy()

    def _serve(self, future: asyncio.Future[Any] | None, function: Callable[[], Any]) -> None:
        try:
            result = function()
        except BaseException as err:  # noqa: BLE001 - handed back to the caller
            # The failed work's frames still hold its locals (a player, a port, a call): they
            # die here, on this thread. Handed to the loop inside the error's traceback, they
            # were freed there later by the garbage collector, and pjsua2 crashed the process.
            traceback.clear_frames(err.__traceback__)
            error = SipError("pjsua", err.info()) if isinstance(err, pj.Error) else err
            error.__context__ = None
            if future is None:
                _LOGGER.error("pjsua callback work failed: %s", error)
                return
            self.loop.call_soon_threadsafe(_settle, future, None, error)
        else:
            if future is not None:
                self.loop.call_soon_threadsafe(_settle, future, result)

    def _start_library(self) -> None:
        config = self.config
        endpoint = pj.Endpoint()
        endpoint.libCreate()
        self.endpoint = endpoint
        ep_config = pj.EpConfig()
        ep_config.uaConfig.maxCalls = MAX_CALLS_PER_PROCESS
        ep_config.uaConfig.threadCnt = 1  # pjsua's C thread polls SIP and timers (see the module note)
        ep_config.uaConfig.mainThreadOnly = False
        ep_config.uaConfig.userAgent = "robot anti-fraud dialer"
        ep_config.logConfig.level = 2
        ep_config.logConfig.consoleLevel = 0
        ep_config.medConfig.clockRate = 8000
        ep_config.medConfig.sndClockRate = 8000
        ep_config.medConfig.noVad = True
        ep_config.medConfig.ecTailLen = 0  # no echo canceller: the robot is not a loudspeaker
        endpoint.libInit(ep_config)
        endpoint.audDevManager().setNullDev()

        transport = pj.TransportConfig()
        transport.port = config.transport.port
        transport.boundAddress = config.transport.bind_address
        transport.publicAddress = config.transport.public_address
        if config.transport.kind.value == "tls":
            tls = config.transport.tls
            transport.tlsConfig.CaListFile = str(tls.ca_file or "")
            transport.tlsConfig.certFile = str(tls.cert_file or "")
            transport.tlsConfig.privKeyFile = str(tls.private_key_file or "")
            transport.tlsConfig.verifyServer = tls.verify_server
        kind = {"udp": pj.PJSIP_TRANSPORT_UDP, "tcp": pj.PJSIP_TRANSPORT_TCP, "tls": pj.PJSIP_TRANSPORT_TLS}[config.transport.kind.value]
        transport_id = endpoint.transportCreate(kind, transport)
        self.local_address = endpoint.transportGetInfo(transport_id).localName
        self.transport_id = transport_id
        self._restrict_peers(config.sip_peers())
        endpoint.libStart()

        priorities = {"PCMA": "PCMA/8000/1", "PCMU": "PCMU/8000/1", "G722": "G722/16000/1"}
        for codec in endpoint.codecEnum2():
            endpoint.codecSetPriority(codec.codecId, 0)
        for rank, codec in enumerate(config.codecs):
            endpoint.codecSetPriority(priorities[codec.value], 255 - rank)

        account_config = pj.AccountConfig()
        account_config.sipConfig.transportId = self.transport_id  # every request leaves on the configured transport
        caller = config.caller_id
        host = config.transport.public_address or config.transport.bind_address
        account_config.idUri = f'"{caller.display_name}" <sip:{caller.user}@{host}>'
        media = account_config.mediaConfig.transportConfig
        media.port = config.transport.rtp_port_start
        media.portRange = config.transport.rtp_port_range
        media.boundAddress = config.transport.bind_address
        media.publicAddress = config.transport.public_address
        if config.outbound_proxy:
            account_config.sipConfig.proxies.append(config.outbound_proxy)
        if config.registration:
            registration = config.registration
            account_config.idUri = f'"{caller.display_name}" <sip:{registration.username}@{registration.registrar.removeprefix("sip:")}>'
            account_config.regConfig.registrarUri = registration.registrar
            account_config.regConfig.timeoutSec = registration.expires_seconds
            account_config.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", registration.realm, registration.username, 0, registration.password.read())
            )
        else:
            account_config.regConfig.registrarUri = ""
        account = _Account(self)
        account.create(account_config)
        self.account = account

    def _restrict_peers(self, peers: list[str]) -> None:
        """Only the configured peers reach pjsua (see peer_filter.py): on the owning thread,
        right after the transport's socket is created."""
        try:
            self.allowed_networks = resolve(peers)
            port = int(self.local_address.rsplit(":", 1)[1])
            kind = socket.SOCK_DGRAM if self.config.transport.kind.value == "udp" else socket.SOCK_STREAM
            self._transport_fd = find_listening_socket(port, kind)
            restrict_socket(self._transport_fd, self.allowed_networks)
        except PeerFilterError as err:
            raise SipError("sip_peers", str(err)) from err
        _LOGGER.info("SIP is accepted only from %s", ", ".join(map(str, self.allowed_networks)))

    def allow_peer(self, uri: str) -> None:
        """Also accept SIP from the host of a URI the robot itself dials (`robot call sip:...`)."""
        host = uri_host(uri)
        if host is None or self._transport_fd is None:
            return
        try:
            added = [n for n in resolve([host]) if not covered(n, self.allowed_networks)]
            if added:
                self.allowed_networks = [*self.allowed_networks, *added]
                restrict_socket(self._transport_fd, self.allowed_networks)
        except PeerFilterError as err:
            raise SipError("sip_peers", str(err)) from err

    def _hang_up_owned(self) -> None:
        """In its own function, so no loop variable keeps a Call alive past libDestroy."""
        for owned in list(self.owned):
            try:
                if isinstance(owned, pj.Call) and owned.isActive():
                    owned.hangup(pj.CallOpParam())
            except pj.Error:
                pass

    def _destroy(self) -> None:
        # Python wrappers first, or libDestroy asserts in pjsua_call_set_user_data.
        self._hang_up_owned()
        if self.endpoint is not None:
            for _ in range(20):
                self.endpoint.libHandleEvents(10)
        self.owned.clear()
        if self.account is not None:
            self.account.shutdown()
            self.account = None
        if self.endpoint is not None:
            self.endpoint.libDestroy()
            self.endpoint = None
