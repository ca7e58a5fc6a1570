"""Errors raised by the dialog layer."""

from __future__ import annotations


class DialogError(Exception):
    """A dialog could not run; `code` is stable for programs, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
