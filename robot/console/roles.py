"""Who may do what: the four roles, and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    INTAKE = "intake"
    """The warning platform: submit and read warnings. Today's `api.token` is an intake token."""
    OFFICER = "officer"
    """The queue: claim and resolve, warnings, transcripts, recordings."""
    SUPERVISOR = "supervisor"
    """An officer's rights, and the dashboard, the scripts and the audit trail."""
    ADMIN = "admin"
    """A supervisor's rights, and users and tokens."""


PERSON_ROLES = (Role.OFFICER, Role.SUPERVISOR, Role.ADMIN)
"""The roles a console user can have (`robot users add --role`); intake is a machine's."""

_INCLUDES: dict[Role, frozenset[Role]] = {
    Role.INTAKE: frozenset({Role.INTAKE}),
    Role.OFFICER: frozenset({Role.OFFICER}),
    Role.SUPERVISOR: frozenset({Role.OFFICER, Role.SUPERVISOR}),
    Role.ADMIN: frozenset({Role.OFFICER, Role.SUPERVISOR, Role.ADMIN}),
}


def grants(held: Role, needed: Role) -> bool:
    """Whether a principal with role `held` may do what needs `needed`."""
    return needed in _INCLUDES[held]


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a logged-in user, a personal token's owner, or the intake token."""

    name: str
    role: Role
    via: Literal["session", "token", "intake_token"]
    csrf: str = ""
    """The session's CSRF value (forms carry it back); empty for tokens (no cookies, no forms)."""

    @property
    def sees_full_numbers(self) -> bool:
        """Officers must call people back: they see full phone numbers; everyone else sees them masked."""
        return self.role is Role.OFFICER

    @property
    def sees_full_numbers_in_api(self) -> bool:
        """On /v1 the intake token also sees full numbers and names: the warning platform sent
        them in the first place, and reading them back is the API's contract since v1. Everyone
        else follows the pages' rule (`sees_full_numbers`)."""
        return self.sees_full_numbers or self.role is Role.INTAKE
