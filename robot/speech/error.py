"""Errors raised by the speech layer."""

from __future__ import annotations

from ..error import RobotError


class SpeechError(RobotError):
    """A speech component failed."""


class ModelMissingError(SpeechError):
    """A catalog entry's model is not installed; the message says how to install it."""

    def __init__(self, message: str) -> None:
        super().__init__("model_missing", message)
