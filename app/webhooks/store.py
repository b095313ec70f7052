"""WebhookStore: subscriptions, events and their deliveries in the jobs' database, so that a delivery pending at
a restart is retried after it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.errors import WebhookNotFound
from app.jobs.engine import utcnow
from app.webhooks.schemas import Attempt, Delivery, Webhook
from app.webhooks.tables import create_webhook_tables, webhook, webhook_cursor, webhook_delivery, webhook_event


class Due(NamedTuple):
    """A delivery to attempt now."""

    id: str
    url: str
    secret: str
    event: dict[str, Any]
    attempts: list[dict[str, Any]]
    created_at: datetime


class WebhookStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_webhook_tables(engine)

    def create(self, url: str, events: list[str], secret: str) -> Webhook:
        row = {"id": str(uuid.uuid4()), "url": url, "events": events, "secret": secret, "created_at": utcnow()}
        with self.engine.begin() as conn:
            conn.execute(insert(webhook).values(**row))
        return Webhook.model_validate(row)

    def list(self) -> list[Webhook]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(webhook).order_by(webhook.c.created_at)).mappings().all()
        return [Webhook.model_validate(dict(row)) for row in rows]

    def delete(self, webhook_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(webhook_delivery).where(webhook_delivery.c.webhook_id == webhook_id))
            if conn.execute(delete(webhook).where(webhook.c.id == webhook_id)).rowcount == 0:
                raise WebhookNotFound(f"no webhook {webhook_id!r}")

    def deliveries(self, webhook_id: str, limit: int = 100) -> list[Delivery]:
        """Newest first, with every attempt and the receiver's answers."""
        query = (
            select(webhook_delivery, webhook_event.c.type, webhook_event.c.data, webhook_event.c.created_at.label("at"))
            .join(webhook_event, webhook_event.c.id == webhook_delivery.c.event_id)
            .where(webhook_delivery.c.webhook_id == webhook_id)
            .order_by(webhook_delivery.c.created_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            if conn.execute(select(webhook.c.id).where(webhook.c.id == webhook_id)).first() is None:
                raise WebhookNotFound(f"no webhook {webhook_id!r}")
            rows = conn.execute(query).mappings().all()
        return [_delivery(row) for row in rows]

    def emit(self, event_type: str, data: dict[str, Any], *, event_id: str | None = None) -> bool:
        """Record an event and a pending delivery per webhook that wants it; False when `event_id` was already
        emitted (job events are emitted by whichever poller sees the job first)."""
        now = utcnow()
        event = {"id": event_id or str(uuid.uuid4()), "type": event_type, "created_at": now, "data": data}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(webhook_event).values(**event))
                targets = conn.execute(select(webhook.c.id, webhook.c.events)).all()
                for target_id, events in targets:
                    if event_type in events:
                        conn.execute(insert(webhook_delivery).values(**_pending(target_id, event["id"], now)))
        except IntegrityError:
            return False
        return True

    def due(self, now: datetime, limit: int = 50) -> list[Due]:
        query = (
            select(
                webhook_delivery.c.id,
                webhook_delivery.c.attempts,
                webhook_delivery.c.created_at,
                webhook.c.url,
                webhook.c.secret,
                webhook_delivery.c.event_id,
                webhook_event.c.type,
                webhook_event.c.data,
                webhook_event.c.created_at.label("at"),
            )
            .join(webhook, webhook.c.id == webhook_delivery.c.webhook_id)
            .join(webhook_event, webhook_event.c.id == webhook_delivery.c.event_id)
            .where(webhook_delivery.c.status == "pending", webhook_delivery.c.next_attempt_at <= now)
            .order_by(webhook_delivery.c.next_attempt_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_due(row) for row in rows]

    def next_due(self) -> datetime | None:
        """When the earliest pending delivery is due."""
        query = select(webhook_delivery.c.next_attempt_at).where(webhook_delivery.c.status == "pending")
        with self.engine.connect() as conn:
            return conn.execute(query.order_by(webhook_delivery.c.next_attempt_at).limit(1)).scalar()

    def record(self, due: Due, attempt: Attempt, *, status: str, next_at: datetime | None) -> None:
        attempts = [*due.attempts, attempt.model_dump(mode="json")]
        values = {"attempts": attempts, "status": status, "next_attempt_at": next_at}
        with self.engine.begin() as conn:
            conn.execute(update(webhook_delivery).where(webhook_delivery.c.id == due.id).values(**values))

    def cursor(self, name: str) -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(select(webhook_cursor.c.value).where(webhook_cursor.c.name == name)).scalar()

    def move_cursor(self, name: str, value: datetime) -> None:
        with self.engine.begin() as conn:
            if conn.execute(update(webhook_cursor).where(webhook_cursor.c.name == name).values(value=value)).rowcount:
                return
            conn.execute(insert(webhook_cursor).values(name=name, value=value))


def _pending(webhook_id: str, event_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "webhook_id": webhook_id,
        "event_id": event_id,
        "status": "pending",
        "attempts": [],
        "next_attempt_at": now,
        "created_at": now,
    }


def _event(row: Any) -> dict[str, Any]:
    return {"id": row["event_id"], "type": row["type"], "created_at": row["at"].isoformat(), "data": row["data"]}


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        event=_event(row),
        status=row["status"],
        attempts=[Attempt.model_validate(a) for a in row["attempts"]],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
    )


def _due(row: Any) -> Due:
    return Due(
        id=row["id"],
        url=row["url"],
        secret=row["secret"],
        event=_event(row),
        attempts=list(row["attempts"]),
        created_at=row["created_at"],
    )
