"""Errors raised by the dialog layer."""

from __future__ import annotations

from ..error import RobotError


class DialogError(RobotError):
    """A dialog could not run (an unknown variable, a template that cannot be filled)."""
