"""The HTTP API: warning intake, warning status, the officers' escalation queue, health,
metrics. FastAPI serves its OpenAPI document at /openapi.json (and /docs)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import AwareDatetime, BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..console.app import mount_console
from ..console.auth import require_any, require_role
from ..console.roles import Principal, Role, grants
from ..store.records import EscalationStatus, QueuedEscalation
from ..store.repository import Conflict, NotFound, StoreUnavailable
from .daemon import Daemon, IntakeError
from .health import Health
from .intake import WarningIn, parse_json
from .views import escalation_json, warning_json

STORE_RETRY_AFTER_SECONDS = 5
ESCALATION_PAGE_LIMIT = 1000


class AcceptedWarning(BaseModel):
    id: str
    created: bool = Field(description="False: this id was already stored; nothing changed")
    status: str
    merged_into: str | None = Field(default=None, description="An open warning for the same number carries this one")
    escalation_id: int | None = Field(default=None, description="High risk: not called, escalated at once")


class IntakeResponse(BaseModel):
    accepted: list[AcceptedWarning]


IGNORED_OFFICER = ("Ignored (kept so that older clients' bodies are still accepted): the name recorded is the token "
                   "owner's or the logged-in user's, never one from the body")


class ClaimRequest(BaseModel):
    officer: str | None = Field(default=None, min_length=1, max_length=100, description=IGNORED_OFFICER)


class ResolveRequest(BaseModel):
    officer: str | None = Field(default=None, min_length=1, max_length=100, description=IGNORED_OFFICER)
    notes: str = Field(default="", max_length=10_000, description="Appended as the officer's last note")


class NoteRequest(BaseModel):
    officer: str | None = Field(default=None, min_length=1, max_length=100, description=IGNORED_OFFICER)
    text: str = Field(min_length=1, max_length=10_000)


class NoteView(BaseModel):
    author: str
    written_at: str
    text: str


class EscalationView(BaseModel):
    id: int
    warning_id: str
    phone: str
    name: str
    risk: str
    fraud_type: str
    reason: str
    phrase: str
    mode: str
    status: str
    claimed_by: str | None
    notes: list[NoteView] = Field(description="Oldest first; appended, never replaced")
    created_at: str
    claimed_at: str | None
    resolved_at: str | None
    resolved_by: str | None


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` gets 413 before it is read whole, by
    its Content-Length or, for a streamed body, as soon as it passes the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes (api.max_body_bytes)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse({"detail": self._too_large()}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._too_large())
            return message

        await self.app(scope, limited, send)


def compact_errors(errors: Sequence[dict[str, Any]], limit: int) -> JSONResponse:
    """A 422 that names the failing fields (at most `limit` of them, and how many there were)
    and never echoes what was sent: a huge bad body must not come back even larger."""
    listed = [{"loc": list(error["loc"]), "msg": str(error["msg"]), "type": error["type"]} for error in errors[:limit]]
    return JSONResponse({"detail": listed, "error_count": len(errors)}, status_code=422)


def create_app(daemon: Daemon, token: str) -> FastAPI:
    if not token.strip():
        raise ValueError("the API token is empty")
    app = FastAPI(
        title="robot anti-fraud dialer",
        version=__version__,
        description="Warnings in; calls, escalations and outcomes out. Every /v1 route needs `Authorization: Bearer <token>`: "
                    "the intake token (`api.token`) submits and reads warnings and reads the escalation queue; a personal "
                    "token (`robot users token NAME`) acts as its owner, with the owner's role (officers claim, resolve "
                    "and write notes). A console login's cookie is not accepted here. Phone numbers and names are in full for "
                    "officers and the intake token, masked for other roles. 401: no valid token; 403: the token's role may "
                    "not do this.",
    )
    app.state.token = token
    app.state.daemon = daemon  # what the console's pages read (robot/console/dashboard.py)
    mount_console(app, daemon.repository, intake_token=token, now=daemon.clock.now, zone=daemon.config.zone,
                  session_seconds=daemon.config.api.session_minutes * 60, secure_cookies=daemon.config.api.tls is not None)
    # /v1 takes bearer tokens only: a console session cookie (which a browser sends by itself,
    # whichever site's page makes the request) is refused, so /v1 needs no CSRF defence.
    intake = [Depends(require_role(Role.INTAKE, sessions=False))]
    reader = Depends(require_any(Role.INTAKE, Role.OFFICER, sessions=False))
    officer = Depends(require_role(Role.OFFICER, sessions=False))
    limits = daemon.config.intake
    app.add_middleware(BodyLimit, max_bytes=daemon.config.api.max_body_bytes)

    @app.exception_handler(IntakeError)
    async def _intake_error(request: Request, err: IntakeError) -> JSONResponse:
        return compact_errors([e.as_detail() for e in err.errors], limits.max_errors_listed)

    @app.exception_handler(RequestValidationError)
    async def _request_error(request: Request, err: RequestValidationError) -> JSONResponse:
        return compact_errors(list(err.errors()), limits.max_errors_listed)

    @app.exception_handler(StoreUnavailable)
    async def _store_unavailable(request: Request, err: StoreUnavailable) -> JSONResponse:
        # Nothing of the request was stored; the same request will succeed once the store is back.
        return JSONResponse({"detail": f"the store is unavailable right now ({err}); nothing was stored, try again"},
                            status_code=503, headers={"Retry-After": str(STORE_RETRY_AFTER_SECONDS)})

    zone = daemon.config.zone

    def view(entry: QueuedEscalation, principal: Principal) -> EscalationView:
        return EscalationView.model_validate(escalation_json(entry, zone, full_numbers=principal.sees_full_numbers_in_api))

    warning_schema = {"$ref": "#/components/schemas/WarningIn"}

    @app.post("/v1/warnings", dependencies=intake, response_model=IntakeResponse, tags=["warnings"],
              responses={200: {"description": "All already stored"}, 201: {"description": "Stored"},
                         413: {"description": "Body over api.max_body_bytes, or more than intake.max_batch_size warnings"},
                         503: {"description": "The store is unavailable (locked, full disk): nothing stored; see Retry-After"},
                         422: {"description": "Nothing stored; `detail` names the failing fields, e.g. loc [body, 3, phone] "
                                              "(at most intake.max_errors_listed; `error_count` says how many)"}},
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                  "anyOf": [warning_schema, {"type": "array", "items": warning_schema, "minItems": 1}]}}}}})
    async def post_warnings(request: Request, response: Response) -> IntakeResponse:
        """One warning or a batch. Idempotent on `id`. A batch is stored whole or not at all:
        if any warning is invalid, none is stored and the 422 names each failing field
        (`loc`); if the store is unavailable, none is stored and the answer is 503."""
        raw = await request.body()  # at most api.max_body_bytes (BodyLimit)
        try:
            body = await asyncio.to_thread(parse_json, raw)  # a megabyte of JSON is not parsed on the event loop
        except (ValueError, RecursionError) as err:
            raise RequestValidationError([{"loc": ("body",), "msg": f"not valid JSON: {err}", "type": "json_invalid"}]) from None
        items = body if isinstance(body, list) else [body]
        if not items:
            raise RequestValidationError([{"loc": ("body",), "msg": "an empty batch", "type": "value_error"}])
        if len(items) > limits.max_batch_size:
            raise HTTPException(413, f"a batch holds at most {limits.max_batch_size} warnings (intake.max_batch_size); "
                                     f"this one has {len(items)}")
        locs = [("body", index) for index in range(len(items))] if isinstance(body, list) else [("body",)]
        results = await daemon.submit(items, locs=locs)
        response.status_code = 201 if any(r.created for r in results) else 200
        return IntakeResponse(accepted=[AcceptedWarning(
            id=result.warning.external_id, created=result.created, status=result.warning.status.value,
            merged_into=result.merged_into_external_id, escalation_id=result.escalation_id,
        ) for result in results])

    @app.get("/v1/warnings/{warning_id}", tags=["warnings"])
    async def get_warning(warning_id: str, principal: Principal = reader) -> dict[str, Any]:
        """Status, every attempt (outcome, SIP status, transcript, the recording's URL) and
        escalations. Reading transcripts is recorded in the audit log (by the token's owner, or
        `intake`). The phone number and name are in full for officers and the intake token,
        masked for everyone else."""
        found = await daemon.warning(warning_id)
        if found is None:
            raise HTTPException(404, f"no warning {warning_id!r}")
        if any(attempt.transcript for attempt in found.attempts):
            await daemon.repository.record_access("transcript_read", found.warning.id, principal.name,
                                                  {"warning": warning_id, "via": "api"}, daemon.clock.now())
        return warning_json(found, zone, full_numbers=principal.sees_full_numbers_in_api)

    @app.get("/v1/escalations", tags=["escalations"],
             responses={200: {"description": "Oldest first. When there may be more, a `Link: <...>; rel=\"next\"` header "
                                             "gives the next page's URL (the same filters, `after` the last id listed)"}})
    async def list_escalations(
        request: Request,
        response: Response,
        status_filter: Annotated[EscalationStatus | None, Query(alias="status", description="open, claimed or resolved")] = None,
        reason: Annotated[str | None, Query(max_length=64, description="e.g. urgent_speech, high_risk")] = None,
        since: Annotated[AwareDatetime | None, Query(description="Only those opened at or after this time (ISO 8601)")] = None,
        after: Annotated[int | None, Query(ge=0, description="Only those with a larger id (the last id of the page before)")] = None,
        limit: Annotated[int, Query(ge=1, le=ESCALATION_PAGE_LIMIT)] = 100,
        principal: Principal = reader,
    ) -> list[EscalationView]:
        """The officers' queue, oldest first, a page at a time (keyset pagination)."""
        entries = await daemon.escalation_queue(status=status_filter, reason=reason, since=since.timestamp() if since else None,
                                                after=after, limit=limit)
        if len(entries) == limit:
            following = request.url.include_query_params(after=entries[-1].id, limit=limit)
            response.headers["Link"] = f'<{following}>; rel="next"'
        return [view(entry, principal) for entry in entries]

    @app.post("/v1/escalations/{escalation_id}/claim", tags=["escalations"],
              responses={404: {"description": "No such escalation"},
                         409: {"description": "Claimed by someone else, or resolved (a resolved escalation is final)"}})
    async def claim(escalation_id: int, body: ClaimRequest, principal: Principal = officer) -> EscalationView:
        """Claim it as the token's owner."""
        try:
            escalation = await daemon.claim_escalation(escalation_id, principal.name)
        except NotFound as err:
            raise HTTPException(404, str(err)) from err
        except Conflict as err:
            raise HTTPException(409, str(err)) from err
        return view(escalation, principal)

    @app.post("/v1/escalations/{escalation_id}/resolve", tags=["escalations"],
              responses={404: {"description": "No such escalation"},
                         409: {"description": "Already resolved (it is final), or claimed by another officer (only they "
                                              "or a supervisor may resolve it); the message names who"}})
    async def resolve(escalation_id: int, body: ResolveRequest, principal: Principal = officer) -> EscalationView:
        """Resolve it as the token's owner (recorded as `resolved_by`)."""
        try:
            escalation = await daemon.resolve_escalation(escalation_id, principal.name, body.notes,
                                                         over_claim=grants(principal.role, Role.SUPERVISOR))
        except NotFound as err:
            raise HTTPException(404, str(err)) from err
        except Conflict as err:
            raise HTTPException(409, str(err)) from err
        return view(escalation, principal)

    @app.post("/v1/escalations/{escalation_id}/notes", tags=["escalations"],
              responses={404: {"description": "No such escalation"}, 409: {"description": "Resolved: it is final"}})
    async def add_note(escalation_id: int, body: NoteRequest, principal: Principal = officer) -> EscalationView:
        """Append a note, with its author (the token's owner) and time. Notes are never replaced or removed."""
        try:
            escalation = await daemon.add_escalation_note(escalation_id, principal.name, body.text)
        except NotFound as err:
            raise HTTPException(404, str(err)) from err
        except Conflict as err:
            raise HTTPException(409, str(err)) from err
        return view(escalation, principal)

    @app.get("/healthz", tags=["operations"])
    async def healthz(response: Response) -> Health:
        """200 while the node can call; 503 while starting, draining, without workers or
        while the store is unavailable (`status` says which). Also the delivery backlog and
        the worker reports waiting to be stored."""
        health = daemon.health()
        if not health.ok:
            response.status_code = 503
        return health

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus text format."""
        return Response(daemon.metrics_text(), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["WarningIn"] = WarningIn.model_json_schema(ref_template="#/components/schemas/{model}")
            schema["components"]["securitySchemes"] = {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "The intake token (api.token) or a personal token (robot users token NAME)"}}
            for path, operations in schema["paths"].items():
                if path.startswith("/v1/"):
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
