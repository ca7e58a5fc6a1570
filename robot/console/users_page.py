"""`/users`, for admins: the users (name, role, disabled or not, whether they have a
personal token), a form to add one and a button to disable one. Tokens are made with
`robot users token NAME` only, on the server, where the token is printed once."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..store.repository import Conflict, NotFound
from .auth import Refused, checked_form, console_of, require_role
from .credentials import WeakPassword, check_user_name, hash_password
from .i18n import translator
from .layout import render_body, render_page
from .roles import PERSON_ROLES, Principal, Role
from .sessions import CSRF_FIELD
from .views import local_clock


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    admin = Depends(require_role(Role.ADMIN))

    async def page(request: Request, principal: Principal, *, error: str | None = None, status_code: int = 200) -> HTMLResponse:
        console = console_of(request)
        t = translator(request)
        users = [{"name": u.name, "role": u.role, "disabled": u.disabled, "created_at": local_clock(u.created_at, console.zone),
                  "token": u.token_created_at is not None} for u in await console.repository.users()]
        body = render_body(request, "users.html", users=users, roles=[r.value for r in PERSON_ROLES], principal=principal,
                           csrf_field=CSRF_FIELD, error=error)
        return render_page(request, principal, t("users.title"), body, status_code=status_code)

    @router.get("/users")
    async def users(request: Request, principal: Principal = admin) -> HTMLResponse:
        return await page(request, principal)

    @router.post("/users")
    async def add_user(request: Request, principal: Principal = admin) -> Response:
        fields = await checked_form(request, principal)
        console = console_of(request)
        name, role, password = fields.get("name", "").strip(), fields.get("role", ""), fields.get("password", "")
        if role not in {r.value for r in PERSON_ROLES}:
            return await page(request, principal, error=translator(request)("users.bad_role"), status_code=422)
        try:
            check_user_name(name)
            await console.repository.add_user(name, role, hash_password(password), console.now(), by=principal.name)
        except (WeakPassword, ValueError, Conflict) as err:
            return await page(request, principal, error=str(err), status_code=409 if isinstance(err, Conflict) else 422)
        return RedirectResponse("/users", status_code=303)

    @router.post("/users/{name}/disable")
    async def disable_user(request: Request, name: str, principal: Principal = admin) -> Response:
        await checked_form(request, principal)
        console = console_of(request)
        try:
            await console.repository.disable_user(name, console.now(), by=principal.name)
        except NotFound as err:
            raise Refused(404, "refused.no_user", name=name) from err
        return RedirectResponse("/users", status_code=303)

    return router
