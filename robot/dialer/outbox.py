"""Where each delivery goes and what it says, decided when it is first tried: an escalation
goes to `webhooks.escalation_url`; a finished warning's outcome to its own `callback_url`, else
`webhooks.outcome_url`. The body is the API's public JSON (views.py). The store only records
that a delivery is due."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ..escalation.webhook import Compose, Envelope
from ..store.records import DeliveryKind, DeliveryRecord
from ..store.repository import NotFound, Repository
from .config import WebhookConfig
from .views import escalation_body, outcome_body


def compose_deliveries(repository: Repository, hooks: WebhookConfig, zone: ZoneInfo) -> Compose:
    async def compose(delivery: DeliveryRecord) -> Envelope:
        if delivery.kind is DeliveryKind.ESCALATION:
            if hooks.escalation_url is None:
                return Envelope(None, {})  # nowhere to send it: no body to build
            entry = await repository.queued_escalation(delivery.subject_id)
            warning = await repository.get_warning(entry.warning_id) if entry else None
            if entry is None or warning is None:
                raise NotFound(f"delivery {delivery.id}: no escalation {delivery.subject_id}")
            return Envelope(hooks.escalation_url, escalation_body(entry, await repository.warning_detail(warning), zone))
        warning = await repository.get_warning(delivery.subject_id)
        if warning is None:
            raise NotFound(f"delivery {delivery.id}: no warning {delivery.subject_id}")
        url = warning.callback_url or hooks.outcome_url
        if url is None:
            return Envelope(None, {})
        return Envelope(url, outcome_body(await repository.warning_detail(warning), zone))

    return compose
