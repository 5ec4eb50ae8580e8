"""``/webhooks``: the SDKs' ``webhooks`` resource (endpoint management), on the services
GraphQL's webhook endpoint mutations and queries call (SPEC §3.10).

The signing secret (``secretKey``) is in the answer to ``POST /webhooks`` only, never in the
response an idempotency key stores (a replay shows ``secretKey: null``), as GraphQL does.
``POST /webhooks/{id}/test`` waits for the deliverer's first attempt (up to the delivery
timeout) and reports it."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from api.rest.bodies import ListQuery
from api.rest.objects import DeletedObject
from api.rest.pipeline import Call, Operation, list_cost
from api.rest.versions import CURRENT
from api.rest.wire import Body, ListObject, Text, WireObject
from models.webhook_endpoint import WebhookEndpoint as EndpointRow
from services.errors import validation_error
from services.infra.database import Session, after_commit
from services.pagination import encode_cursor
from services.webhook_endpoints import service
from services.webhook_endpoints.setup import WebhookEndpoints
from services.webhook_endpoints.urls import check_url

ENDPOINT_IN_PATH = {"id": "id", "endpointId": "id"}
SETTLE_MARGIN_SECONDS = 2.0


class CreateWebhookBody(Body):
    url: Text = Field(description="https, public addresses only.")
    events: list[Text] = Field(description="Event types to send; empty means every type.")
    description: Text | None = None
    api_version: Text | None = Field(
        default=None, description=f"Deliveries use {CURRENT}; no other version can be pinned."
    )


class UpdateWebhookBody(Body):
    url: Text | None = None
    events: list[Text] | None = None
    description: Text | None = Field(default=None, description="null or empty clears it.")
    is_active: bool | None = Field(
        default=None, description="true re-enables (from the next event on)."
    )
    api_version: Text | None = None


class Webhook(WireObject):
    id: str
    url: str
    events: list[str] = Field(description="Empty: every event type.")
    description: str | None
    is_active: bool
    disabled_reason: str | None
    api_version: str | None = Field(description="Always null: deliveries use the current one.")
    created_at: datetime
    object: Literal["webhook"] = "webhook"
    livemode: bool

    @classmethod
    def of(cls, row: EndpointRow) -> Webhook:
        return cls(
            id=row.id,
            url=row.url,
            events=row.event_list,
            description=row.description,
            is_active=row.enabled,
            disabled_reason=row.disabled_reason,
            api_version=None,
            created_at=row.created_at,
            livemode=row.livemode,
        )


class CreatedWebhook(Webhook):
    STORED_AS_NONE: ClassVar[frozenset[str]] = frozenset({"secret_key"})

    secret_key: str | None = Field(
        description="The signing secret (whsec_…), shown this once; null on a replay."
    )


class WebhookTest(WireObject):
    success: bool = Field(description="The endpoint answered the test event with a 2xx.")
    delivery_id: str
    status: Literal["pending", "succeeded", "failed"]
    status_code: int | None = Field(description="The endpoint's HTTP status, if it answered.")
    delivered_at: datetime | None
    object: Literal["webhook_delivery"] = "webhook_delivery"
    livemode: bool


def _setup(call: Call) -> WebhookEndpoints:
    setup = call.app.webhook_endpoints
    if setup is None:  # wired by api.composition in every server process
        raise RuntimeError("webhook endpoints are not configured in this process")
    return setup


def _no_version_pin(version: str | None) -> None:
    if version is not None and version != CURRENT:
        raise validation_error(f"deliveries use API version {CURRENT}", "input", "apiVersion")


async def checked_url(call: Call) -> str | None:
    url: str | None = call.body.url if call.body is not None else None
    _no_version_pin(call.body.api_version if call.body is not None else None)
    if url is None:
        return None
    return await check_url(url, allow_private=_setup(call).policy.allow_private_urls)


async def create(session: Session, call: Call, url: str) -> CreatedWebhook:
    body: CreateWebhookBody = call.body
    setup = _setup(call)
    created = await service.create_endpoint(
        session,
        call.viewer,
        setup.box,
        setup.policy,
        url=url,
        events=list(body.events),
        description=body.description,
    )
    return CreatedWebhook(**Webhook.of(created.endpoint).model_dump(), secret_key=created.secret)


async def list_webhooks(session: Session, call: Call, _: None) -> ListObject[Webhook]:
    query: ListQuery = call.query
    page = await service.list_endpoints(session, call.viewer, first=query.limit, after=query.cursor)
    last = page.rows[-1] if page.rows else None
    return ListObject[Webhook](
        data=[Webhook.of(row) for row in page.rows],
        has_more=page.has_next_page,
        next_cursor=encode_cursor(last.created_at, last.id)
        if last is not None and page.has_next_page
        else None,
    )


async def get(session: Session, call: Call, _: None) -> Webhook:
    row = await service.require_endpoint(session, call.viewer, call.path["id"], ["id"])
    return Webhook.of(row)


async def update(session: Session, call: Call, url: str | None) -> Webhook:
    body: UpdateWebhookBody = call.body
    description = body.description
    if "description" in body.model_fields_set and description is None:
        description = ""  # null clears it; the service reads "" as "clear"
    row = await service.update_endpoint(
        session,
        call.viewer,
        call.path["id"],
        url=url,
        events=list(body.events) if body.events is not None else None,
        description=description,
        enabled=body.is_active,
    )
    return Webhook.of(row)


async def delete(session: Session, call: Call, _: None) -> DeletedObject:
    deleted = await service.delete_endpoint(session, call.viewer, call.path["id"])
    return DeletedObject(id=deleted, object="webhook", livemode=call.viewer.livemode)


async def send_test(session: Session, call: Call, _: None) -> WebhookTest:
    view = await service.send_test(session, call.viewer, call.path["id"])
    result = WebhookTest(
        success=False,
        delivery_id=view.id,
        status="pending",
        status_code=None,
        delivered_at=None,
        livemode=call.viewer.livemode,
    )
    timeout = _setup(call).policy.timeout_seconds + SETTLE_MARGIN_SECONDS

    async def wait_for_the_attempt() -> None:
        async with asyncio.timeout(timeout):
            while True:
                async with call.app.database.read() as reading:
                    seen = await service.get_delivery(reading, call.viewer, view.id)
                if seen is not None and seen.attempts:
                    attempt = seen.attempts[-1]
                    ok = attempt.status_code is not None and 200 <= attempt.status_code < 300
                    result.success = ok
                    result.status = "succeeded" if ok else "failed"
                    result.status_code = attempt.status_code
                    result.delivered_at = attempt.attempted_at if ok else None
                    return
                await asyncio.sleep(0.1)

    async def settle() -> None:
        # Still pending after the timeout: the deliverer keeps retrying on its schedule.
        with contextlib.suppress(TimeoutError):
            await wait_for_the_attempt()

    after_commit(session, settle)
    return result


OPERATIONS = [
    Operation(
        "POST",
        "/webhooks",
        "create-webhook-endpoint",
        "Create a webhook endpoint",
        create,
        CreatedWebhook,
        tag="webhooks",
        body=CreateWebhookBody,
        prepare=checked_url,
        errors=(422,),
        description="The response holds the signing secret, shown this once.",
    ),
    Operation(
        "GET",
        "/webhooks",
        "list-webhook-endpoints",
        "List webhook endpoints",
        list_webhooks,
        ListObject[Webhook],
        tag="webhooks",
        query=ListQuery,
        cost=list_cost,
        errors=(422,),
    ),
    Operation(
        "GET",
        "/webhooks/{id}",
        "get-webhook-endpoint",
        "Retrieve a webhook endpoint",
        get,
        Webhook,
        tag="webhooks",
        renames=ENDPOINT_IN_PATH,
        not_found="webhook_not_found",
        errors=(404,),
    ),
    Operation(
        "PATCH",
        "/webhooks/{id}",
        "update-webhook-endpoint",
        "Update a webhook endpoint",
        update,
        Webhook,
        tag="webhooks",
        body=UpdateWebhookBody,
        prepare=checked_url,
        renames=ENDPOINT_IN_PATH,
        not_found="webhook_not_found",
        also=("PUT",),
        errors=(404, 422),
        description="Only the fields given change. `PUT` is accepted too (API versions before "
        "2026-07-24).",
    ),
    Operation(
        "DELETE",
        "/webhooks/{id}",
        "delete-webhook-endpoint",
        "Delete a webhook endpoint",
        delete,
        DeletedObject,
        tag="webhooks",
        renames=ENDPOINT_IN_PATH,
        not_found="webhook_not_found",
        errors=(404,),
        description="With its delivery history.",
    ),
    Operation(
        "POST",
        "/webhooks/{id}/test",
        "test-webhook-endpoint",
        "Send a test event",
        send_test,
        WebhookTest,
        tag="webhooks",
        renames=ENDPOINT_IN_PATH,
        not_found="webhook_not_found",
        errors=(404,),
        description="A `webhook.test` event to this endpoint; answers once the first attempt "
        "is made (or with `status: pending` after the delivery timeout).",
    ),
]
