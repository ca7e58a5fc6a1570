"""The base of every error the robot raises on purpose."""

from __future__ import annotations


class RobotError(Exception):
    """`code` is stable for programs, `message` is for people, `retryable` says whether
    trying again later may succeed (a trunk fault may; a bad script will not)."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
