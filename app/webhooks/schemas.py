"""What the webhook endpoints take and return."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

EventType = Literal[
    "job.succeeded", "job.failed", "job.cancelled", "version.published", "alias.moved", "drift.detected"
]


class WebhookCreate(BaseModel):
    url: str = Field(max_length=2048, description="http(s) URL whose host is in MAAS_WEBHOOK_HOSTS.")
    events: list[EventType] = Field(min_length=1)
    secret: str = Field(min_length=1, max_length=512, description="The HMAC-SHA256 key of `Maas-Signature`.")


class Webhook(BaseModel):
    id: str
    url: str
    events: list[EventType]
    created_at: datetime


class Attempt(BaseModel):
    at: datetime
    status_code: int | None = None
    error: str | None = None
    #: The start of the receiver's answer, for debugging a refusal.
    response: str | None = None


class Delivery(BaseModel):
    id: str
    webhook_id: str
    event: dict[str, Any]
    status: Literal["pending", "delivered", "failed"]
    attempts: list[Attempt]
    next_attempt_at: datetime | None
    created_at: datetime
