"""The dialog scripts the dialer calls with, chosen by language and scam type, and
reloaded on SIGHUP: a broken new set is rejected with its errors and the old one stays."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..dialog.checks import check_paths, script_files
from ..dialog.loader import Problem, ScriptError, load_script
from ..dialog.schema import Script, Variable
from ..speech.kit import SpeechKit
from ..store.records import WarningRecord

_LOGGER = logging.getLogger(__name__)
GENERIC = "generic"


@dataclass(frozen=True)
class ScriptVersion:
    script: Script
    path: Path
    version: str
    """meta.version plus a content hash: two edits never share a version."""

    @property
    def name(self) -> str:
        return f"{self.script.meta.language.value}/{self.script.meta.id}"

    def as_json(self) -> dict[str, Any]:
        return self.script.model_dump(mode="json")


def _version(script: Script) -> str:
    digest = hashlib.sha256(json.dumps(script.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:10]
    return f"v{script.meta.version}-{digest}"


class ScriptLibrary:
    def __init__(self, directory: Path, speech: SpeechKit | None = None) -> None:
        self.directory = directory
        self.speech = speech
        """When given, a script whose voice or recogniser is not installed is refused."""
        self._scripts: list[ScriptVersion] = []
        self.loaded_at_generation = 0

    @property
    def scripts(self) -> list[ScriptVersion]:
        return list(self._scripts)

    async def load(self) -> None:
        """Check every script (schema, references, embedded tests) and swap them in, or raise
        ScriptError and keep the scripts already loaded. The reading and checking run on a
        thread of their own: the daemon's API and calls go on meanwhile (SIGHUP)."""
        loaded = await asyncio.to_thread(self._read)
        self._scripts = loaded
        self.loaded_at_generation += 1
        _LOGGER.info("loaded %d dialog scripts from %s", len(loaded), self.directory)

    def _read(self) -> list[ScriptVersion]:
        problems, count = asyncio.run(check_paths([self.directory]))  # its own loop, on this thread
        if count == 0:
            problems = [Problem(str(self.directory), 1, 1, "no dialog scripts here")]
        if problems:
            raise ScriptError(problems)
        loaded = []
        for path in script_files([self.directory]):
            script = load_script(path).script
            loaded.append(ScriptVersion(script=script, path=path, version=_version(script)))
        if self.speech is not None:
            for version in loaded:
                meta = version.script.meta
                problems += [Problem(str(version.path), 1, 1, f"cannot run here: {why}")
                             for why in self.speech.missing(voice=meta.voice, language=meta.language.value)]
            if problems:
                raise ScriptError(problems)
        return loaded

    def warning_variables(self, language: str, fraud_type: str, risk: str) -> dict[str, Variable]:
        """The variables a warning may set for the script that would call it; for a warning no
        script would call (high risk, no script), those any script of its language allows."""
        chosen = self.select(language, fraud_type, risk)
        candidates = [chosen] if chosen else [s for s in self._scripts if s.script.meta.language.value == language]
        allowed: dict[str, Variable] = {}
        for version in candidates:
            for name, variable in version.script.warning_variables().items():
                allowed.setdefault(name, variable)
        return allowed

    def languages(self) -> list[str]:
        return sorted({s.script.meta.language.value for s in self._scripts})

    def select(self, language: str, fraud_type: str, risk: str) -> ScriptVersion | None:
        """The script for this scam type in this language, else the language's generic script."""
        fitting = [s for s in self._scripts if s.script.meta.language.value == language
                   and risk in {r.value for r in s.script.meta.risk_levels}]
        for wanted in (fraud_type, GENERIC):
            for candidate in fitting:
                if wanted in candidate.script.meta.fraud_types:
                    return candidate
        return None


def warning_values(warning: WarningRecord, version: ScriptVersion) -> dict[str, str]:
    """The script variables this warning sets: only those the script declares from_warning,
    and only values that fit them (checked at intake too; scripts may have been reloaded
    since). Everything else the robot says comes from the script."""
    given: dict[str, str] = {}
    extra_variables = warning.extra.get("variables")
    if isinstance(extra_variables, dict):
        given |= {str(key): value for key, value in extra_variables.items() if isinstance(value, str)}
    if warning.name:
        given["name"] = warning.name
    allowed = version.script.warning_variables()
    values = {}
    for key, value in given.items():
        variable = allowed.get(key)
        why = variable.refuses(value) if variable is not None else "the script does not let a warning set it"
        if why is None:
            values[key] = value
        elif key != "name" or variable is not None:
            _LOGGER.warning("warning %s: variable %s not used (%s)", warning.external_id, key, why)
    return values
