"""The base of every error the robot raises on purpose."""

from __future__ import annotations


class RobotError(Exception):
    """`code` is stable for programs, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
