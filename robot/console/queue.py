"""The officers' queue: `GET /queue` (the page, with the open escalations already in its
HTML), `GET /queue/rows` (the rows alone: the page's vendored htmx fetches them every few
seconds, so new escalations appear without a reload), and the forms that change an
escalation: claim, resolve (with an outcome and notes) and add a note. The name recorded is
always the logged-in user's (or the token owner's), never one from the form."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..store.records import EscalationStatus, QueuedEscalation
from ..store.repository import Conflict, NotFound
from .auth import Refused, checked_form, console_of, require_role
from .i18n import translator
from .layout import render_body, render_page
from .login import safe_next
from .roles import Principal, Role, grants
from .sessions import CSRF_FIELD
from .views import Resolution, queue_rows

QUEUE_LIMIT = 500
POLL_SECONDS = 2
MAX_NOTES_LENGTH = 10_000


async def open_escalations(request: Request) -> list[QueuedEscalation]:
    """Open and claimed escalations (not resolved), at most QUEUE_LIMIT of each."""
    repository = console_of(request).repository
    return [*await repository.escalation_queue(status=EscalationStatus.OPEN, limit=QUEUE_LIMIT),
            *await repository.escalation_queue(status=EscalationStatus.CLAIMED, limit=QUEUE_LIMIT)]


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    officer = Depends(require_role(Role.OFFICER))

    async def rows_html(request: Request, principal: Principal) -> str:
        console = console_of(request)
        rows = queue_rows(await open_escalations(request), principal, console.now(), console.zone)
        return render_body(request, "queue_rows.html", rows=rows, principal=principal, csrf_field=CSRF_FIELD)

    @router.get("/queue")
    async def queue_page(request: Request, principal: Principal = officer) -> HTMLResponse:
        t = translator(request)
        body = render_body(request, "queue.html", rows_html=await rows_html(request, principal), poll_seconds=POLL_SECONDS)
        return render_page(request, principal, t("queue.title"), body)

    @router.get("/queue/rows")
    async def queue_fragment(request: Request, principal: Principal = officer) -> HTMLResponse:
        return HTMLResponse(await rows_html(request, principal))

    def back_to(fields: dict[str, str]) -> str:
        return safe_next(fields.get("back")) if fields.get("back") else "/queue"

    def conflict_page(request: Request, principal: Principal, err: Exception, back: str) -> HTMLResponse:
        t = translator(request)
        body = render_body(request, "message.html", heading=t("status.409"), message=str(err), login_link=False, back=back, next_path=None)
        return render_page(request, principal, t("status.409"), body, status_code=409)

    @router.post("/escalations/{escalation_id}/claim")
    async def claim(request: Request, escalation_id: int, principal: Principal = officer) -> Response:
        fields = await checked_form(request, principal)
        console = console_of(request)
        try:
            await console.repository.claim_escalation(escalation_id, principal.name, console.now())
        except NotFound as err:
            raise Refused(404, "refused.no_escalation", id=escalation_id) from err
        except Conflict as err:
            return conflict_page(request, principal, err, back_to(fields))
        return RedirectResponse(back_to(fields), status_code=303)

    @router.post("/escalations/{escalation_id}/resolve")
    async def resolve(request: Request, escalation_id: int, principal: Principal = officer) -> Response:
        fields = await checked_form(request, principal)
        console = console_of(request)
        try:
            outcome = Resolution(fields.get("outcome", ""))
        except ValueError as err:
            raise Refused(422, "refused.outcome", choices=", ".join(r.value for r in Resolution)) from err
        notes = fields.get("notes", "").strip()[:MAX_NOTES_LENGTH]
        text = f"[{outcome.value}] {notes}".strip()
        try:
            await console.repository.resolve_escalation(escalation_id, principal.name, text, console.now(),
                                                        over_claim=grants(principal.role, Role.SUPERVISOR))
        except NotFound as err:
            raise Refused(404, "refused.no_escalation", id=escalation_id) from err
        except Conflict as err:
            return conflict_page(request, principal, err, back_to(fields))
        return RedirectResponse(back_to(fields), status_code=303)

    @router.post("/escalations/{escalation_id}/notes")
    async def add_note(request: Request, escalation_id: int, principal: Principal = officer) -> Response:
        fields = await checked_form(request, principal)
        console = console_of(request)
        text = fields.get("text", "").strip()[:MAX_NOTES_LENGTH]
        if not text:
            raise Refused(422, "refused.empty_note")
        try:
            await console.repository.add_escalation_note(escalation_id, principal.name, text, console.now())
        except NotFound as err:
            raise Refused(404, "refused.no_escalation", id=escalation_id) from err
        except Conflict as err:
            return conflict_page(request, principal, err, back_to(fields))
        return RedirectResponse(back_to(fields), status_code=303)

    return router
