"""`/audit`, for supervisors: who claimed or resolved an escalation, listened to a recording
or read a transcript, newest first, a page at a time (`?before=` the last id shown)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from .auth import console_of, require_role
from .i18n import translator
from .layout import render_body, render_page
from .roles import Principal, Role
from .views import local_clock

AUDITED = ("escalation_claimed", "escalation_resolved", "escalation_note", "recording_played", "transcript_read",
           "user_added", "user_disabled", "user_token")
PAGE_SIZE = 200


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    supervisor = Depends(require_role(Role.SUPERVISOR))

    @router.get("/audit")
    async def audit(request: Request, principal: Principal = supervisor,
                    before: Annotated[int | None, Query(ge=1)] = None) -> HTMLResponse:
        console = console_of(request)
        t = translator(request)
        entries = await console.repository.audit_trail(AUDITED, limit=PAGE_SIZE, before=before)
        rows = [{
            "id": entry.id, "at": local_clock(entry.at, console.zone), "kind": entry.kind,
            "who": str(entry.detail.get("by") or entry.detail.get("officer") or ""),
            "warning": entry.warning_external_id, "subject": entry.detail.get("escalation") or entry.detail.get("attempt")
            or entry.detail.get("user") or "",
        } for entry in entries]
        body = render_body(request, "audit.html", rows=rows, next_before=rows[-1]["id"] if len(rows) == PAGE_SIZE else None)
        return render_page(request, principal, t("audit.title"), body)

    return router
