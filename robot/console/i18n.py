"""The console's languages: every string a person reads comes from a catalogue per language
(`locales/<language>.json`, package data). zh-CN is the default; `?lang=en-US` (or zh-CN)
switches and is remembered in a cookie."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from fastapi import Request

LANGUAGES = ("zh-CN", "en-US")
DEFAULT_LANGUAGE = "zh-CN"
LANGUAGE_COOKIE = "robot_lang"


@cache
def catalogue(language: str) -> dict[str, str]:
    if language not in LANGUAGES:
        raise KeyError(f"no catalogue for language {language!r}")
    text = resources.files(__package__).joinpath("locales", f"{language}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"locales/{language}.json: expected an object of strings")
    return data


class Translator:
    def __init__(self, language: str) -> None:
        self.language = language
        self._strings = catalogue(language)

    def __call__(self, key: str, **params: object) -> str:
        """The string for `key`; a key missing from the catalogue is a bug (KeyError)."""
        text = self._strings[key]
        return text.format(**params) if params else text

    def label(self, prefix: str, code: str | None) -> str:
        """A code's name (`reason.urgent_speech`), or the code itself when the catalogue has none
        (a script's own escalation reason, a new scam type)."""
        return self._strings.get(f"{prefix}.{code}", code or "")


def language_of(request: Request) -> str:
    """`?lang=` if it names a language, else the cookie, else zh-CN."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def translator(request: Request) -> Translator:
    return Translator(language_of(request))
