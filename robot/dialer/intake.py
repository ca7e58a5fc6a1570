"""Warnings as the national platform sends them: validation, phone numbers, CSV/JSONL files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, ValidationError

from ..dialog.const import RiskLevel
from ..store.records import NewWarning
from .phone import InvalidPhone, normalize_phone


class WarningIn(BaseModel):
    """One warning, as posted to `POST /v1/warnings` or read from an import file."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=128, description="The warning system's id; resubmitting it is harmless")
    phone: str = Field(min_length=1, max_length=40, description="Mobile (+86 optional) or landline with area code")
    name: str = Field(default="", max_length=100)
    risk: RiskLevel
    fraud_type: str = Field(default="generic", max_length=64, description="e.g. investment, impersonate_police")
    received_at: dt.datetime = Field(description="ISO 8601; without an offset it is read in the configured time zone")
    callback_url: AnyHttpUrl | None = Field(default=None, description="Where the final outcome is POSTed")
    extra: dict[str, Any] = Field(default={}, description="Kept and returned as is; extra.language picks the script language")


@dataclass(frozen=True)
class FieldError:
    """A problem with one field of one warning: `loc` as in a 422 response."""

    loc: tuple[str | int, ...]
    message: str
    kind: str = "value_error"

    def as_detail(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "msg": self.message, "type": self.kind}


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


def validate_warning(
    data: Any, *, region: str, zone: ZoneInfo, default_language: str, loc: tuple[str | int, ...] = ()
) -> NewWarning | list[FieldError]:
    try:
        warning = WarningIn.model_validate(data)
    except ValidationError as err:
        return [FieldError((*loc, *e["loc"]), e["msg"], e["type"]) for e in err.errors()]
    try:
        return to_new_warning(warning, region=region, zone=zone, default_language=default_language)
    except InvalidPhone as err:
        return [FieldError((*loc, "phone"), f"invalid phone number {warning.phone!r}: {err}")]


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
                value = json.loads(line)
            except json.JSONDecodeError as err:
                yield Row(number, None, f"not JSON: {err.msg} (column {err.colno})")
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
