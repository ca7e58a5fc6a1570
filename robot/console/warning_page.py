"""A warning's page, `GET /warnings/{id}` (its external id): the warning, each attempt with
its transcript as a conversation, its recording (played from `GET /recordings/{attempt}`,
which only officers and up may fetch) and its path through the script, and the escalations
with their forms. Reading the page records `transcript_read`, fetching a recording
`recording_played` (once per user and attempt in 10 minutes: a player's range requests are one
listening; `plays.py`), in the audit log under the reader's name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse

from ..store.records import AttemptRecord, EscalationStatus
from .auth import Refused, console_of, require_role
from .i18n import translator
from .layout import render_body, render_page
from .roles import Principal, Role, grants
from .sessions import CSRF_FIELD
from .views import Resolution, local_clock, phone_for


def conversation(attempt: AttemptRecord) -> list[dict[str, Any]]:
    """The transcript's lines as the page shows them: who, what, when (seconds into the call)."""
    lines = []
    for line in attempt.transcript:
        speaker = line.get("speaker")
        lines.append({
            "speaker": speaker if speaker in ("robot", "callee") else "other", "text": str(line.get("text", "")),
            "at_seconds": float(line.get("at_seconds") or 0.0), "backchannel": bool(line.get("backchannel")),
            "understood": line.get("understood", True) is not False,
        })
    return lines


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    officer = Depends(require_role(Role.OFFICER))

    @router.get("/warnings/{warning_id}")
    async def warning_page(request: Request, warning_id: str, principal: Principal = officer) -> HTMLResponse:
        console = console_of(request)
        t = translator(request)
        warning = await console.repository.get_warning_by_external_id(warning_id)
        if warning is None:
            raise Refused(404, "refused.no_warning", id=warning_id)
        detail = await console.repository.warning_detail(warning)
        if any(attempt.transcript for attempt in detail.attempts):
            await console.repository.record_access("transcript_read", warning.id, principal.name,
                                                   {"warning": warning.external_id}, console.now())
        zone = console.zone
        attempts = [{
            "id": attempt.id, "number": attempt.number, "started_at": local_clock(attempt.started_at, zone),
            "outcome": attempt.outcome.value if attempt.outcome else attempt.state.value, "sip_status": attempt.sip_status,
            "duration_seconds": attempt.duration_seconds, "script": f"{attempt.script} {attempt.script_version}",
            "recording": bool(attempt.recording), "lines": conversation(attempt), "path": attempt.path, "error": attempt.error,
        } for attempt in detail.attempts]
        escalations = [{
            "id": escalation.id, "reason": escalation.reason, "phrase": escalation.phrase, "mode": escalation.mode.value,
            "status": escalation.status.value, "claimed_by": escalation.claimed_by,
            "resolved_by": escalation.resolved_by, "handoff_failed": escalation.handoff_failed,
            "opened_at": local_clock(escalation.created_at, zone), "resolved_at": local_clock(escalation.resolved_at, zone),
            "notes": [{"author": n.author, "written_at": local_clock(n.written_at, zone), "text": n.text} for n in escalation.notes],
            "final": escalation.status is EscalationStatus.RESOLVED,
            "may_resolve": escalation.claimed_by in (None, principal.name) or grants(principal.role, Role.SUPERVISOR),
        } for escalation in detail.escalations]
        body = render_body(
            request, "warning.html", warning=warning, phone=phone_for(principal, warning.phone),
            merged_into=detail.merged_into_external_id, attempts=attempts, escalations=escalations, principal=principal,
            csrf_field=CSRF_FIELD, resolutions=[r.value for r in Resolution], back=f"/warnings/{warning.external_id}",
        )
        return render_page(request, principal, t("warning.title", id=warning.external_id), body)

    @router.get("/recordings/{attempt_id}")
    async def recording(request: Request, attempt_id: int, principal: Principal = officer) -> FileResponse:
        console = console_of(request)
        attempt = await console.repository.get_attempt(attempt_id)
        path = Path(attempt.recording) if attempt and attempt.recording else None
        if attempt is None or path is None or path.suffix != ".wav" or not path.is_file():
            raise Refused(404, "refused.no_recording", id=attempt_id)
        now = console.now()
        if console.plays.should_record(principal.name, attempt.id, now):  # whatever the Range: every fetch serves bytes
            try:
                await console.repository.record_access("recording_played", attempt.warning_id, principal.name,
                                                       {"attempt": attempt.id}, now)
            except BaseException:
                console.plays.forget(principal.name, attempt.id)  # not recorded: not served either
                raise
        return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "private, no-store"})

    return router
