"""Warnings as the national platform sends them: validation, phone numbers, CSV/JSONL files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..dialog.const import EscalationReason, RiskLevel
from ..dialog.schema import Variable
from ..store.records import Intake, NewWarning
from .phone import InvalidPhone, normalize_phone

WARNING_ID = re.compile(r"[A-Za-z0-9._:-]+")
"""A warning id names a SIP header value and log lines: nothing else may be in it."""
NAME = re.compile(r"(?:[^\W\d_]|[ ·.'-])*")
"""A person's name: letters of any script, spaces and ·.'- (no digits, no punctuation)."""
FRAUD_TYPE = re.compile(r"[A-Za-z0-9_.-]+")
LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?")


class WarningIn(BaseModel):
    """One warning, as posted to `POST /v1/warnings` or read from an import file."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=128,
                    description="The warning system's id: letters, digits and ._:- (at most 128); resubmitting it is harmless")
    phone: str = Field(min_length=1, max_length=40, description="Mobile (+86 optional) or landline with area code; no extension")
    name: str = Field(default="", max_length=32,
                      description="The person's name (letters of any script, spaces, ·.'-); spoken only if the script's "
                                  "`name` variable says from_warning: true")
    risk: RiskLevel
    fraud_type: str = Field(default="generic", max_length=64,
                            description="e.g. investment, impersonate_police (letters, digits, _.-)")
    received_at: dt.datetime = Field(description="ISO 8601; without an offset it is read in the configured time zone")
    callback_url: AnyHttpUrl | None = Field(
        default=None, description="Where the final outcome is POSTed; its host must be in webhooks.allowed_callback_hosts",
    )
    extra: dict[str, Any] = Field(
        default={}, description="Kept and returned as is (size and depth capped; finite numbers only). extra.language "
                                "picks the script language; extra.variables may set only the script's from_warning variables",
    )

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        if not WARNING_ID.fullmatch(value):
            raise ValueError("only letters, digits and . _ : - are allowed")
        return value

    @field_validator("name")
    @classmethod
    def _a_name(cls, value: str) -> str:
        value = unicodedata.normalize("NFC", value)
        if value and not (NAME.fullmatch(value) and any(character.isalpha() for character in value)):
            raise ValueError("a name has only letters (any script), spaces and · . ' -")
        return value

    @field_validator("fraud_type")
    @classmethod
    def _fraud_type(cls, value: str) -> str:
        if not FRAUD_TYPE.fullmatch(value):
            raise ValueError("only letters, digits and _ . - are allowed")
        return value


@dataclass(frozen=True)
class FieldError:
    """A problem with one field of one warning: `loc` as in a 422 response."""

    loc: tuple[str | int, ...]
    message: str
    kind: str = "value_error"

    def as_detail(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "msg": self.message, "type": self.kind}


@dataclass(frozen=True)
class IntakeRules:
    """What a warning is checked against, beyond its own shape."""

    region: str
    zone: ZoneInfo
    default_language: str
    callback_hosts: frozenset[str] = frozenset()
    """webhooks.allowed_callback_hosts, lower case: `host` or `host:port`."""
    max_extra_bytes: int = 16_384
    max_extra_depth: int = 5
    warning_variables: Callable[[str, str, str], Mapping[str, Variable]] | None = None
    """(language, fraud_type, risk) -> the variables the script that would call it lets a warning set."""


def to_new_warning(warning: WarningIn, *, region: str, zone: ZoneInfo, default_language: str) -> NewWarning:
    """Raises InvalidPhone."""
    phone = normalize_phone(warning.phone, region)
    received = warning.received_at if warning.received_at.tzinfo else warning.received_at.replace(tzinfo=zone)
    language = warning.extra.get("language") if isinstance(warning.extra.get("language"), str) else default_language
    return NewWarning(
        external_id=warning.id, phone=phone.e164, dial_number=phone.national, name=warning.name, risk=warning.risk,
        fraud_type=warning.fraud_type or "generic", language=language or default_language,
        received_at=received.isoformat(), callback_url=str(warning.callback_url) if warning.callback_url else None,
        extra=warning.extra,
    )


def intake_for(warning: NewWarning) -> Intake:
    """How a valid warning is stored: high risk is not dialled (officers handle it in
    person), so it is finished at once with an escalation."""
    return Intake(warning=warning, escalate=EscalationReason.HIGH_RISK.value if warning.risk is RiskLevel.HIGH else None)


def validate_warning(data: Any, rules: IntakeRules, *, loc: tuple[str | int, ...] = ()) -> NewWarning | list[FieldError]:
    try:
        warning = WarningIn.model_validate(data)
    except ValidationError as err:
        return [FieldError((*loc, *e["loc"]), e["msg"].removeprefix("Value error, "), e["type"]) for e in err.errors()]
    problems = [FieldError((*loc, *where), message) for where, message in _extra_problems(warning.extra, rules)]
    if warning.callback_url is not None and not _allowed_host(warning.callback_url, rules.callback_hosts):
        problems.append(FieldError((*loc, "callback_url"),
                                   f"host {warning.callback_url.host!r} is not in webhooks.allowed_callback_hosts"))
    try:
        new = to_new_warning(warning, region=rules.region, zone=rules.zone, default_language=rules.default_language)
    except InvalidPhone as err:
        problems.append(FieldError((*loc, "phone"), f"invalid phone number {warning.phone!r}: {err}"))
        return problems
    if problems:
        return problems
    return _variable_problems(new, rules, loc) or new


def _allowed_host(url: AnyHttpUrl, hosts: frozenset[str]) -> bool:
    host = (url.host or "").lower().strip("[]")
    return host in hosts or f"{host}:{url.port}" in hosts


def _extra_problems(extra: dict[str, Any], rules: IntakeRules) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(extra, ("extra",))]
    while stack:
        value, where = stack.pop()
        if len(where) - 1 > rules.max_extra_depth:
            problems.append((where, f"nested deeper than {rules.max_extra_depth} levels"))
            continue
        if isinstance(value, float) and not math.isfinite(value):
            problems.append((where, "NaN and Infinity are not JSON numbers"))
        elif isinstance(value, dict):
            stack += [(item, (*where, str(key))) for key, item in value.items()]
        elif isinstance(value, list):
            stack += [(item, (*where, index)) for index, item in enumerate(value)]
    if problems:
        return problems
    size = len(json.dumps(extra, ensure_ascii=False, allow_nan=False).encode())
    if size > rules.max_extra_bytes:
        return [(("extra",), f"{size} bytes as JSON; at most {rules.max_extra_bytes}")]
    language = extra.get("language")
    if language is not None and not (isinstance(language, str) and LANGUAGE.fullmatch(language)):
        problems.append((("extra", "language"), "a language tag such as zh-CN"))
    variables = extra.get("variables")
    if variables is not None and not (isinstance(variables, dict) and all(isinstance(v, str) for v in variables.values())):
        problems.append((("extra", "variables"), "an object of text values"))
    return problems


def _variable_problems(warning: NewWarning, rules: IntakeRules, loc: tuple[str | int, ...]) -> list[FieldError]:
    """Every value a warning gives for a script variable must be one the script lets a
    warning set (from_warning: true) and must fit its pattern and length."""
    declared = rules.warning_variables(warning.language, warning.fraud_type, warning.risk.value) if rules.warning_variables else {}
    problems = []
    given = warning.extra.get("variables") or {}
    for key, value in given.items():
        variable = declared.get(key)
        if variable is None:
            problems.append(FieldError((*loc, "extra", "variables", key), "not a variable a warning may set for this script"
                                       f" (allowed: {', '.join(sorted(declared)) or 'none'})"))
        elif (why := variable.refuses(value)) is not None:
            problems.append(FieldError((*loc, "extra", "variables", key), why))
    name_variable = declared.get("name")
    if warning.name and name_variable is not None and (why := name_variable.refuses(warning.name)) is not None:
        problems.append(FieldError((*loc, "name"), why))
    return problems


def parse_json(text: str | bytes) -> Any:
    """JSON as the standard has it: NaN and Infinity (which Python's json accepts) are refused."""
    return json.loads(text, parse_constant=_not_json)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not valid JSON")


@dataclass(frozen=True)
class Row:
    line: int
    data: dict[str, Any] | None
    problem: str = ""


def read_rows(path: Path) -> Iterator[Row]:
    """Rows of a .csv (header line first) or .jsonl file, with their line numbers."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = parse_json(line)
            except json.JSONDecodeError as err:
                yield Row(number, None, f"not JSON: {err.msg} (column {err.colno})")
                continue
            except (ValueError, RecursionError) as err:
                yield Row(number, None, f"not JSON: {err}")
                continue
            yield Row(number, value, "" if isinstance(value, dict) else "a line must be one JSON object")
    elif path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for record in reader:
            row_line = reader.line_num
            if None in record:
                yield Row(row_line, None, "more cells than header columns")
                continue
            data: dict[str, Any] = {k.strip(): v for k, v in record.items() if k and v not in (None, "")}
            extra = {k.removeprefix("extra."): data.pop(k) for k in list(data) if k.startswith("extra.")}
            if extra:
                data["extra"] = extra
            yield Row(row_line, data)
    else:
        raise ValueError(f"{path}: import reads .csv or .jsonl files")
