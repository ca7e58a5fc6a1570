"""Errors raised by the speech layer, each with a stable code."""

from __future__ import annotations


class SpeechError(Exception):
    """A speech component failed. `retryable` says whether trying again may help."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


class ModelMissingError(SpeechError):
    """A catalog entry's model is not installed; the message says how to install it."""

    def __init__(self, message: str) -> None:
        super().__init__("model_missing", message)
