"""Webhooks: subscribe a URL to events; see each delivery's attempts. Creating and deleting need an admin key
(a predict key may only read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.webhooks.dispatcher import Dispatcher
from app.webhooks.schemas import Delivery, Webhook, WebhookCreate
from app.webhooks.targets import check_target

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def get_dispatcher(request: Request) -> Dispatcher:
    return request.app.state.webhooks


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


@router.post("", status_code=201, response_model=Webhook)
def create_webhook(body: WebhookCreate, dispatcher: DispatcherDep) -> Webhook:
    """Post each event of `events` to `url`, signed with `secret` (header `Maas-Signature`)."""
    check_target(body.url, dispatcher.allowed_hosts)
    return dispatcher.store.create(body.url, list(body.events), body.secret)


@router.get("", response_model=list[Webhook])
def read_webhooks(dispatcher: DispatcherDep) -> list[Webhook]:
    """Every webhook (secrets are never shown)."""
    return dispatcher.store.list()


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, dispatcher: DispatcherDep) -> Response:
    """Stop delivering to a webhook; its pending deliveries are dropped."""
    dispatcher.store.delete(webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=list[Delivery])
def read_deliveries(
    webhook_id: str, dispatcher: DispatcherDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[Delivery]:
    """A webhook's deliveries, newest first: the event, its state, every attempt and the receiver's answers."""
    return dispatcher.store.deliveries(webhook_id, limit)
