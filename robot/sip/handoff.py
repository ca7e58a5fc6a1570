"""Live hand-off of a call to an officer: dial the human queue, whisper, bridge.

REFER is not used: PSTN trunks rarely honour it. The robot keeps both legs and bridges
their audio in pjsua2's conference bridge. The officer's phone rings as soon as the dialog
decides on a live escalation, while the callee still hears "connecting you to an officer";
the officer hears a whisper (warning id, scam type, what the callee said) that the callee
does not, and then both are bridged. If no officer answers, the callee is promised a
call-back and the escalation becomes a ticket.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pjsua2 as pj

from ..speech.prompts import PromptCache
from .endpoint import SipError
from .legs import Leg, Legs
from .phrases import call_back_text, whisper_text
from .result import HandOffReport
from .speaker import Speaker

_LOGGER = logging.getLogger(__name__)
HOLD_PROMPT_MAX_SECONDS = 30.0


class OfficerHandOff:
    def __init__(
        self,
        legs: Legs,
        speaker: Speaker,
        prompts: PromptCache,
        *,
        uri: str | None,
        language: str,
        warning_id: str,
        ring_timeout_seconds: float,
        max_bridge_seconds: float,
        callee_ended: asyncio.Event,
        mark: Callable[[str], None],
    ) -> None:
        self.legs = legs
        self.speaker = speaker
        self.prompts = prompts
        self.uri = uri
        self.language = language
        self.warning_id = warning_id
        self.ring_timeout_seconds = ring_timeout_seconds
        self.max_bridge_seconds = max_bridge_seconds
        self.callee_ended = callee_ended
        self._mark = mark
        self.report: HandOffReport | None = None
        self.confirmed = asyncio.Event()
        self.ended = asyncio.Event()

    @property
    def bridged(self) -> bool:
        return self.report is not None and self.report.bridged_seconds > 0

    def officer_state(self, state: int) -> None:
        """The officer leg's invite state (from the leg's callbacks, on the event loop)."""
        if state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed.set()
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.ended.set()

    async def ring(self) -> None:
        """Dial the human queue (once): as soon as a live escalation is decided."""
        if self.report is not None:
            return
        self.report = HandOffReport(officer_uri=self.uri)
        if not self.uri:
            return
        _LOGGER.info("call %s: live escalation, dialling the human queue", self.legs.name)
        self._mark("officer_dialled")
        try:
            await self.legs.dial(Leg.OFFICER, self.uri, {"X-Warning-Id": self.warning_id, "X-Robot-Handoff": "live"})
        except SipError as err:  # e.g. no free pjsua2 call slot in this worker (PJ_ETOOMANY)
            _LOGGER.error("call %s: the officer leg could not be dialled (%s); an officer will call back",
                          self.legs.name, err.message)
            self.report.error = err.message

    async def _officer_ready(self, ringing: asyncio.Future[None] | None, phrase: str, fraud_type_label: str) -> bool:
        """Wait for the officer to answer, then whisper. Runs while the callee still hears
        the hold prompt. True if the officer is there to bridge to."""
        await (ringing if ringing is not None else self.ring())
        assert self.report is not None
        if not self.uri or self.report.error is not None:
            return False
        waiters = [asyncio.ensure_future(event.wait()) for event in (self.confirmed, self.ended, self.callee_ended)]
        await asyncio.wait(waiters, timeout=self.ring_timeout_seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
        if not self.confirmed.is_set() or self.ended.is_set() or self.callee_ended.is_set():
            return False
        self.report.answered = True
        self._mark("officer_answered")
        whisper = whisper_text(self.language, warning_id=self.warning_id, fraud_type_label=fraud_type_label, phrase=phrase)
        async for path in self.prompts.prompt(whisper):  # only the officer hears it
            if not await self.legs.play(Leg.OFFICER, path, until=self.ended) or self.ended.is_set():
                break
        return not self.ended.is_set() and not self.callee_ended.is_set()

    async def run(self, ringing: asyncio.Future[None] | None, *, phrase: str, fraud_type_label: str) -> None:
        """The hand-off, once the dialog has finished: the hold prompt drains while the
        officer is rung and whispered to; then both are bridged, or the callee is promised a
        call-back."""
        officer = asyncio.ensure_future(self._officer_ready(ringing, phrase, fraud_type_label))
        try:
            await self.speaker.drain(HOLD_PROMPT_MAX_SECONDS)
            ready = await officer
        finally:
            officer.cancel()
        assert self.report is not None
        if ready and await self.legs.bridge():
            _LOGGER.info("call %s: bridged to an officer", self.legs.name)
            self._mark("bridged")
            bridged_at = time.monotonic()
            callee_gone, officer_gone = asyncio.ensure_future(self.callee_ended.wait()), asyncio.ensure_future(self.ended.wait())
            either: set[asyncio.Future[Any]] = {callee_gone, officer_gone}
            await asyncio.wait(either, timeout=self.max_bridge_seconds, return_when=asyncio.FIRST_COMPLETED)
            for waiter in either:
                waiter.cancel()
            self.report.bridged_seconds = max(0.01, round(time.monotonic() - bridged_at, 2))
            self.report.ended_by = "officer" if self.ended.is_set() else "callee" if self.callee_ended.is_set() else None
            self._mark(f"bridge_ended:{self.report.ended_by or 'max_call_seconds'}")
            await self.legs.hang_up(Leg.OFFICER)
            return
        # No officer: promise a call-back; the escalation becomes a ticket.
        _LOGGER.warning("call %s: no officer to bridge to (officer ready: %s, officer hung up: %s, callee hung up: %s)",
                        self.legs.name, ready, self.ended.is_set(), self.callee_ended.is_set())
        await self.legs.hang_up(Leg.OFFICER)
        if not self.callee_ended.is_set():
            self._mark("call_back_promised")
            self.speaker.say(call_back_text(self.language))
            await self.speaker.drain(HOLD_PROMPT_MAX_SECONDS)
