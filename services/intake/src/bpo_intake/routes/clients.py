"""Clients: managers register them."""

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bpo_common import audit
from bpo_common.auth import Admin, Ops, Scope, scope_refusal
from bpo_common.db import SessionDep
from bpo_common.errors import Forbidden
from bpo_common.idempotency import IdempotencyDep
from bpo_common.text import CheckedRoute
from bpo_intake.domain.erasure import ClientRetention, RetentionUpdate
from bpo_intake.schemas import ClientCreate, ClientCreated
from bpo_intake.service import clients
from bpo_intake.settings import SettingsDep

router = APIRouter(prefix="/v1", route_class=CheckedRoute)


@router.post("/clients", status_code=201, tags=["clients"], response_model=ClientCreated)
async def create_client(
    body: ClientCreate,
    session: SessionDep,
    manager: Ops,
    idempotency: IdempotencyDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Register a client company; the answer carries its webhook signing secret. A
    `webhook_url` needs the scope admin as well, as changing it does."""
    # Where a client's results are sent is an admin's to choose, here as on PUT .../webhook.
    refusal = scope_refusal(manager, [Scope.ADMIN]) if body.webhook_url is not None else None
    if refusal is not None:
        raise Forbidden(f"webhook_url: {refusal}")
    client = await clients.create_client(
        session, body, allow_private_webhooks=settings.webhook_allow_private
    )
    audit.summarize(session, fields=sorted(body.model_fields_set))
    return await idempotency.respond(
        201, ClientCreated.model_validate(client, from_attributes=True)
    )


@router.put("/clients/{client_id}/retention", tags=["clients"])
async def set_retention(
    client_id: UUID, body: RetentionUpdate, session: SessionDep, _: Admin, settings: SettingsDep
) -> ClientRetention:
    """Set how many days after a job ended its data is erased (null: the service's default)."""
    days = await clients.set_retention(
        session, client_id, body.retention_days, settings.stream_max_age_days
    )
    audit.summarize(session, after=days)
    return ClientRetention(
        client_id=client_id, retention_days=days, default_days=settings.retention_days
    )
