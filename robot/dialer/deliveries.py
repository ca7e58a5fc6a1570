"""`robot deliveries list|retry`: the webhook deliveries in the store, and requeueing them.

A delivery is retried until it is delivered; one whose host is no longer allowed is `failed`
and waits for an operator: once the host is allowed again (or the URL fixed), `robot
deliveries retry ID` (or `--failed`, every one of them) makes it due at once. The running
daemon picks it up within a second.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import Any

from ..clock import WallClock
from ..escalation.webhook import redact
from ..store.records import DeliveryKind, DeliveryRecord, DeliveryStatus
from ..store.repository import StoreError
from .config import DialerConfig
from .storage import repository_for


def add_deliveries_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
                          load: Callable[[str | None], DialerConfig]) -> None:
    deliveries = subparsers.add_parser("deliveries", help="webhook deliveries: list them, send them again")
    actions = deliveries.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="deliveries, newest first")
    listing.add_argument("--status", choices=[s.value for s in DeliveryStatus], help="only these")
    listing.add_argument("--kind", choices=[k.value for k in DeliveryKind], help="only these")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--config", help="daemon config YAML (for the database)")
    listing.set_defaults(handler=lambda args: _run(_list(load(args.config), args)))
    retry = actions.add_parser("retry", help="make deliveries due now (tries counted afresh)")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", type=int, default=[], metavar="ID")
    which.add_argument("--failed", action="store_true", help="every failed delivery")
    retry.add_argument("--config", help="daemon config YAML (for the database)")
    retry.set_defaults(handler=lambda args: _run(_retry(load(args.config), args)))


def _run(job: Any) -> int:
    try:
        return int(asyncio.run(job))
    except StoreError as err:
        print(f"robot: {err}", file=sys.stderr)
        return 2


def _line(delivery: DeliveryRecord) -> str:
    created = dt.datetime.fromtimestamp(delivery.created_at).isoformat(timespec="seconds")
    target = redact(delivery.url) if delivery.url else "(not sent yet)"
    error = f"  {delivery.last_error}" if delivery.last_error else ""
    return f"{delivery.id}\t{delivery.kind.value}\t{delivery.status.value}\t{delivery.tries} tries\t{created}\t{target}{error}"


async def _list(config: DialerConfig, args: argparse.Namespace) -> int:
    repository = repository_for(config)
    await repository.open()
    try:
        found = await repository.deliveries(status=DeliveryStatus(args.status) if args.status else None,
                                            kind=DeliveryKind(args.kind) if args.kind else None, limit=args.limit)
        backlog, oldest = await repository.delivery_backlog()
    finally:
        await repository.close()
    for delivery in found:
        if args.json:
            record = delivery.model_dump(mode="json", exclude={"payload"})
            record["url"] = redact(delivery.url) if delivery.url else None
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(_line(delivery))
    age = f", the oldest queued {WallClock().now() - oldest:.0f} s ago" if oldest is not None else ""
    print(f"{backlog} delivery(ies) not delivered yet{age}", file=sys.stderr)
    return 0


async def _retry(config: DialerConfig, args: argparse.Namespace) -> int:
    repository = repository_for(config)
    await repository.open()
    try:
        requeued = await repository.requeue_deliveries(None if args.failed else args.ids, WallClock().now())
    finally:
        await repository.close()
    missing = sorted(set(args.ids) - set(requeued))
    print(f"{len(requeued)} delivery(ies) requeued: {' '.join(map(str, requeued)) or '-'}", file=sys.stderr)
    if missing:
        print(f"not requeued (unknown, or delivered/skipped already): {' '.join(map(str, missing))}", file=sys.stderr)
        return 1
    return 0
