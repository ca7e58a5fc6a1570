"""The daemon's configuration (`robot run --config robot.yaml`), validated like the scripts:
a typo is an error naming the file, line and key."""

from __future__ import annotations

import datetime as dt
import re
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    field_validator,
    model_validator,
)

from ..config import REPO_ROOT, SpeechSettings
from ..config_file import load_config
from ..dialog.const import AttemptOutcome, EscalationReason, RiskLevel
from ..dialog.schema import Variable
from ..sip.config import Secret
from ..sip.endpoint import MAX_CALLS_PER_PROCESS
from .intake import IntakeRules


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsFiles(_Model):
    cert_file: FilePath = Field(description="PEM certificate (chain) the API presents")
    key_file: FilePath = Field(description="Its PEM private key")


class ApiConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535, description="0 picks a free port")
    token: Secret = Field(default=Secret(env="ROBOT_API_TOKEN"), description="Bearer token for /v1/*; an empty one is refused")
    tls: TlsFiles | None = Field(default=None, description="Serve HTTPS with this certificate; omit for plain HTTP (loopback "
                                                          "or behind a reverse proxy that terminates TLS)")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="Larger request bodies get 413 before they are read")
    session_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60,
                                 description="A console login lasts this long (the session cookie expires, and is refused after)")

    def read_token(self) -> str:
        """The bearer token; ValueError if it cannot be read or is empty (the API would be unusable)."""
        token = self.token.read()
        if not token.strip():
            source = f"environment variable {self.token.env}" if self.token.env else f"file {self.token.file}"
            raise ValueError(f"the API token ({source}) is empty")
        return token


class IntakeConfig(_Model):
    max_batch_size: int = Field(default=1000, ge=1, description="Warnings in one POST; more get 413")
    max_extra_bytes: int = Field(default=16_384, ge=256, description="A warning's `extra`, as JSON")
    max_extra_depth: int = Field(default=5, ge=1, le=32, description="Nesting of `extra`")
    max_errors_listed: int = Field(default=20, ge=1, description="A 422 lists at most this many field errors (and says how many)")


class WorkersConfig(_Model):
    processes: int = Field(default=2, ge=1, le=64, description="Call-worker processes")
    calls_per_process: int = Field(
        default=MAX_CALLS_PER_PROCESS - 1, ge=1, le=MAX_CALLS_PER_PROCESS,
        description="3 keeps one of pjsua2's 4 call slots free for a live hand-off's officer leg; with 4, a live "
                    "escalation in a full worker becomes a call-back ticket",
    )
    start_timeout_seconds: float = Field(default=120, gt=0)
    restart_delay_seconds: float = Field(default=2.0, ge=0)
    drain_seconds: float = Field(default=120, ge=0, description="On SIGTERM, how long active calls may finish")
    log_file: Path | None = Field(default=None, description="Append the workers' logs here; omit for the daemon's stderr")


class Window(_Model):
    """Local time of day; `end` before `start` spans midnight."""

    start: dt.time
    end: dt.time

    def contains(self, moment: dt.datetime) -> bool:
        now = moment.timetz().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def next_opening(self, moment: dt.datetime) -> dt.datetime:
        """The next time at or after `moment` the window is open."""
        if self.contains(moment):
            return moment
        opening = moment.replace(hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0)
        if opening <= moment:
            opening += dt.timedelta(days=1)
        return opening


class OutcomeRule(_Model):
    finish: bool = Field(default=False, description="The warning is done")
    retry: bool = Field(default=False, description="Call again, on the risk's retry schedule")
    retry_after_seconds: float | None = Field(default=None, ge=0, description="Instead of the schedule's next delay")
    escalate: EscalationReason | None = Field(default=None, description="Open an escalation at once")
    escalate_for_risks: list[RiskLevel] | None = Field(
        default=None, description="Only for warnings of these risk levels (default: all)"
    )
    escalate_when_exhausted: EscalationReason | None = Field(default=None, description="When no retry is left")
    counts_attempt: bool = Field(default=True, description="Uses up one of the warning's attempts")
    trunk_fault: bool = Field(default=False, description="Retry on the trunk back-off schedule")
    robot_fault: bool = Field(default=False, description="Retry on the robot-error schedule, a bounded number of times")

    @model_validator(mode="after")
    def _one_ending(self) -> OutcomeRule:
        if self.finish == (self.retry or self.trunk_fault or self.robot_fault):
            raise ValueError("a rule either finishes the warning or retries it")
        return self


Outcome = AttemptOutcome
DEFAULT_RULES: dict[AttemptOutcome, OutcomeRule] = {
    Outcome.DISSUADED: OutcomeRule(finish=True),
    Outcome.ESCALATED: OutcomeRule(finish=True),
    Outcome.WRONG_PERSON: OutcomeRule(finish=True),
    Outcome.INVALID_NUMBER: OutcomeRule(finish=True, escalate=EscalationReason.INVALID_NUMBER),
    Outcome.BUSY: OutcomeRule(retry=True, retry_after_seconds=120, escalate=EscalationReason.UNANSWERED_BUSY),
    Outcome.NO_ANSWER: OutcomeRule(retry=True, escalate_when_exhausted=EscalationReason.UNANSWERED),
    Outcome.REJECTED: OutcomeRule(retry=True, escalate_when_exhausted=EscalationReason.UNANSWERED),
    Outcome.UNREACHABLE: OutcomeRule(retry=True, escalate_when_exhausted=EscalationReason.UNANSWERED),
    Outcome.REFUSED: OutcomeRule(retry=True, escalate_when_exhausted=EscalationReason.UNANSWERED),
    # Hung up without refusing, maybe mid-story: an officer calls a medium-risk one back.
    Outcome.HUNG_UP: OutcomeRule(retry=True, escalate=EscalationReason.HUNG_UP, escalate_for_risks=[RiskLevel.MEDIUM],
                                 escalate_when_exhausted=EscalationReason.UNANSWERED),
    Outcome.NO_INPUT: OutcomeRule(retry=True, escalate_when_exhausted=EscalationReason.UNANSWERED),
    Outcome.CALLBACK_REQUESTED: OutcomeRule(retry=True, retry_after_seconds=1800, escalate_when_exhausted=EscalationReason.UNANSWERED),
    Outcome.FAILED: OutcomeRule(trunk_fault=True, counts_attempt=False),
    Outcome.ROBOT_ERROR: OutcomeRule(robot_fault=True, counts_attempt=False),
    Outcome.INTERRUPTED: OutcomeRule(retry=True, retry_after_seconds=0, counts_attempt=False),
}


class PolicyConfig(_Model):
    retry_delays_seconds: dict[RiskLevel, list[float]] = Field(
        default={RiskLevel.MEDIUM: [120, 300, 600], RiskLevel.LOW: [600, 1800]},
        description="Delay before each retry; one first attempt plus one retry per entry",
    )
    trunk_fault_delays_seconds: list[float] = Field(default=[15, 30, 60, 120, 300], min_length=1, description="The last repeats")
    max_trunk_failures: int = Field(default=20, ge=1, description="Then escalate (call_failed)")
    robot_error_delays_seconds: list[float] = Field(default=[60, 300], min_length=1, description="The last repeats")
    max_robot_errors: int = Field(default=3, ge=1, description="Robot errors on one warning; then escalate (robot_error)")
    outcomes: dict[AttemptOutcome, OutcomeRule] = Field(default=DEFAULT_RULES, description="Merged over the defaults")

    @field_validator("outcomes")
    @classmethod
    def _merge(cls, outcomes: dict[AttemptOutcome, OutcomeRule]) -> dict[AttemptOutcome, OutcomeRule]:
        return {**DEFAULT_RULES, **outcomes}


class CircuitBreakerConfig(_Model):
    window_seconds: float = Field(default=60, gt=0)
    min_attempts: int = Field(default=10, ge=1)
    failure_ratio: float = Field(default=0.5, gt=0, le=1)
    open_seconds: float = Field(default=30, gt=0)


class WebhookConfig(_Model):
    escalation_url: str | None = Field(default=None, description="POSTed each new escalation")
    outcome_url: str | None = Field(default=None, description="Final outcomes of warnings without a callback_url")
    secret: Secret | None = Field(default=None, description="HMAC-SHA256 key for X-Robot-Signature")
    retry_delays_seconds: list[float] = Field(
        default=[5, 15, 60, 300, 900, 1800, 3600], min_length=1,
        description="Before each retry; the last repeats until the delivery gets through (never given up)",
    )
    timeout_seconds: float = Field(default=10, gt=0)
    allowed_callback_hosts: list[str] = Field(
        default=[], description="Hosts (or host:port) a warning's callback_url may name; empty: no callback_url is accepted",
    )
    concurrent_escalations: int = Field(default=8, ge=1, description="Escalation deliveries under way at once")
    concurrent_outcomes: int = Field(default=8, ge=1, description="Outcome deliveries under way at once (a lane of their own)")
    concurrent_per_host: int = Field(default=4, ge=1, description="Deliveries under way to any one host")

    @field_validator("allowed_callback_hosts")
    @classmethod
    def _lower(cls, hosts: list[str]) -> list[str]:
        return [host.strip().lower().strip("[]") for host in hosts]

    def allowed_hosts(self) -> set[str]:
        """Where deliveries may go: the configured URLs' hosts and the allowed callback hosts."""
        configured = {(urlsplit(url).hostname or "").lower() for url in (self.escalation_url, self.outcome_url) if url}
        return {*self.allowed_callback_hosts, *configured}


_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
POSTGRES_SCHEMES = ("postgresql", "postgres")


def check_database(value: object) -> str:
    """A SQLite file path (or sqlite:///PATH), or postgresql://USER[:PASSWORD]@HOST[:PORT]/DB.
    Any other URL scheme is an error: it must never become a file of that name."""
    if isinstance(value, Path):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("give a SQLite file path or a postgresql://USER:PASSWORD@HOST:PORT/DB URL")
    found = _URL_SCHEME.match(value)
    if found is None:
        return value
    scheme = found.group(1).lower()
    if scheme == "sqlite":
        path = value[found.end():]
        if not path.startswith("/"):
            raise ValueError("a sqlite:// URL names an absolute path: sqlite:///var/lib/robot/robot.db")
        return path
    if scheme not in POSTGRES_SCHEMES:
        raise ValueError(f"unsupported database URL scheme {scheme!r}: give a SQLite file path, or "
                         "postgresql://USER:PASSWORD@HOST:PORT/DB")
    try:
        parts = urlsplit(value)
        port = parts.port  # a port that is not a number raises here
    except ValueError as err:
        raise ValueError(f"not a valid PostgreSQL URL: {err}") from None
    if not parts.hostname:
        raise ValueError("the PostgreSQL URL names no host: postgresql://USER:PASSWORD@HOST:PORT/DB")
    if not parts.path.strip("/"):
        raise ValueError("the PostgreSQL URL names no database: postgresql://USER:PASSWORD@HOST:PORT/DB")
    if port == 0:
        raise ValueError("the PostgreSQL URL's port is 0")
    return value


class DialerConfig(_Model):
    node_id: str = Field(default_factory=socket.gethostname, pattern=r"^[A-Za-z0-9._:-]{1,64}$",
                         description="Names this node's leases; each node of a cluster has its own")
    database: str = Field(
        default="/var/lib/robot/robot.db",
        description="A SQLite file path (one node), or postgresql://USER:PASSWORD@HOST:PORT/DB (a cluster's shared store)",
    )
    database_password: Secret | None = Field(
        default=None, description="The PostgreSQL password, when it is not in the URL: {env: NAME} or {file: PATH} "
                                  "(libpq's PGPASSWORD and ~/.pgpass work too)",
    )
    results_journal_file: Path | None = Field(
        default=None, description="Worker reports the store could not take yet; default: beside the SQLite file, "
                                  "or /var/lib/robot/results-NODE_ID.jsonl with PostgreSQL",
    )
    sip_config: Path | None = Field(default=None, description="A sip-config/*.yaml; omit for the loopback default")
    dialogs_dir: Path = REPO_ROOT / "dialogs"
    speech: SpeechSettings = SpeechSettings()
    language: str = Field(default="zh-CN", description="For warnings that do not say (extra.language)")
    phone_region: str = Field(default="CN", description="How numbers without a country code are read")
    timezone: str = "Asia/Shanghai"
    api: ApiConfig = ApiConfig()
    intake: IntakeConfig = IntakeConfig()
    workers: WorkersConfig = WorkersConfig()
    calls_per_second: float = Field(default=10, gt=0, description="Pacing of new INVITEs (for the whole cluster on PostgreSQL)")
    cluster_pacing: Literal["bucket", "shares"] = Field(
        default="bucket",
        description="On a shared store: one token bucket in the database (exact), or each node paces itself at its "
                    "share, calls_per_second / nodes alive (no database round trip per call); see docs/benchmarks.md",
    )
    calling_windows: dict[RiskLevel, Window | None] = Field(
        default={RiskLevel.LOW: Window(start=dt.time(8), end=dt.time(21)), RiskLevel.MEDIUM: None},
        description="Local time; null means any hour",
    )
    max_attempts_per_number_per_day: int = Field(default=8, ge=1)
    policy: PolicyConfig = PolicyConfig()
    circuit_breaker: CircuitBreakerConfig = CircuitBreakerConfig()
    webhooks: WebhookConfig = WebhookConfig()
    lease_margin_seconds: float = Field(default=120, ge=10, description="Added to max_call_seconds for a lease")

    @field_validator("database", mode="before")
    @classmethod
    def _database(cls, value: object) -> str:
        return check_database(value)

    @model_validator(mode="after")
    def _password_once(self) -> DialerConfig:
        if self.database_password is not None and self.postgres_url_without_password() is None:
            raise ValueError("database_password is for a postgresql:// database")
        if self.database_password is not None and urlsplit(self.database).password:
            raise ValueError("the database URL has a password already: give it in one place")
        return self

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None with PostgreSQL."""
        return None if _URL_SCHEME.match(self.database) else Path(self.database)

    def postgres_url_without_password(self) -> str | None:
        return self.database if _URL_SCHEME.match(self.database) else None

    def postgres_url(self) -> str | None:
        """The PostgreSQL URL with `database_password` put in (it is never logged); None with SQLite."""
        url = self.postgres_url_without_password()
        if url is None or self.database_password is None:
            return url
        parts = urlsplit(url)
        user = parts.username or ""
        netloc = f"{quote(user, safe='')}:{quote(self.database_password.read(), safe='')}@{parts.netloc.rpartition('@')[2]}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {name!r}") from err
        return name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def results_journal(self) -> Path:
        """Worker reports the store could not take yet wait here (see results.py)."""
        if self.results_journal_file is not None:
            return self.results_journal_file
        path = self.sqlite_path
        if path is None:
            return Path("/var/lib/robot") / f"results-{self.node_id}.jsonl"
        return path.parent / f"{path.name}-results.jsonl"

    def intake_rules(self, warning_variables: Callable[[str, str, str], Mapping[str, Variable]] | None) -> IntakeRules:
        return IntakeRules(
            region=self.phone_region, zone=self.zone, default_language=self.language,
            callback_hosts=frozenset(self.webhooks.allowed_callback_hosts),
            max_extra_bytes=self.intake.max_extra_bytes, max_extra_depth=self.intake.max_extra_depth,
            warning_variables=warning_variables,
        )


def load_dialer_config(path: str | Path | None) -> DialerConfig:
    """`robot.yaml`; with no file, the defaults. Errors name the file, line and key."""
    return load_config(DialerConfig, path) if path is not None else DialerConfig()
