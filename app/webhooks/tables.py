"""The webhook tables, on the job tables' metadata: one `create_all` on the jobs' database makes them too."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Engine, ForeignKey, String, Table

from app.jobs.tables import UTCDateTime, metadata

webhook = Table(
    "webhook",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("events", JSON, nullable=False),
    Column("secret", String(512), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# One row per event: its id is deterministic for job events, so that two pollers never emit one twice.
webhook_event = Table(
    "webhook_event",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("data", JSON, nullable=False),
)

webhook_delivery = Table(
    "webhook_delivery",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("webhook_id", String(36), ForeignKey("webhook.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("event_id", String(128), ForeignKey("webhook_event.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False, index=True),  # pending | delivered | failed
    Column("attempts", JSON, nullable=False),
    Column("next_attempt_at", UTCDateTime, index=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# Named positions (the job poller's last finished_at), so that a restart resumes where it stopped.
webhook_cursor = Table(
    "webhook_cursor",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", UTCDateTime, nullable=False),
)

TABLES = [webhook, webhook_event, webhook_delivery, webhook_cursor]


def create_webhook_tables(engine: Engine) -> None:
    metadata.create_all(engine, tables=TABLES)
