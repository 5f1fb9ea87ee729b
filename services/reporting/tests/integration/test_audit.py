"""Reporting's audit trail: reporting changes nothing through its API, but who signs in to
the dashboard, or tries to with a token that may not, is recorded (never the token)."""

import httpx

from bpo_common.auth import Role, Scope
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.audit import (
    assert_append_only,
    assert_nowhere_in_the_trail,
    assert_only_admins_read_the_trail,
    assert_the_trail_reads_back,
    audit_rows,
)
from bpo_devtools.testing import Tokens

# The in-process client's origin: base_url http://service, so Host: service.
OWN_PAGE = {"Origin": "http://service", "Sec-Fetch-Site": "same-origin"}


async def test_sign_ins_to_the_dashboard_are_recorded_without_the_token(
    reporting: httpx.AsyncClient, reporting_db: SessionFactory, tokens: Tokens
) -> None:
    manager, client, contractor = f"ops-{new_id()}", f"client-user-{new_id()}", new_id()
    manager_token = tokens.token(Role.MANAGER, manager, scopes=[Scope.OPS])
    headers = OWN_PAGE | {"X-Correlation-ID": "audit-reporting-1"}
    signed = await reporting.post(
        "/dashboard/login", data={"token": manager_token}, headers=headers
    )
    assert signed.status_code == 303, signed.text
    client_token = tokens.token(Role.CLIENT, client, new_id())
    refused = await reporting.post(
        "/dashboard/login", data={"token": client_token}, headers=headers
    )
    assert refused.status_code == 403, refused.text
    contractor_token = tokens.token(Role.CONTRACTOR, str(contractor))
    keyer = await reporting.post(
        "/dashboard/login", data={"token": contractor_token}, headers=headers
    )
    assert keyer.status_code == 403, keyer.text

    (signed_in,) = await audit_rows(reporting_db, actor=manager)
    (turned_away,) = await audit_rows(reporting_db, actor=client)
    assert await audit_rows(reporting_db, actor=str(contractor)) == []
    assert (signed_in.action, signed_in.status_code, signed_in.object_id) == (
        "POST /dashboard/login",
        303,
        None,
    )
    assert (signed_in.role, signed_in.scopes, signed_in.summary) == (Role.MANAGER, ["ops"], {})
    assert (signed_in.address, signed_in.correlation_id) == ("127.0.0.1", "audit-reporting-1")
    assert (turned_away.action, turned_away.status_code, turned_away.role) == (
        "POST /dashboard/login",
        403,
        Role.CLIENT,
    )
    for token in (manager_token, client_token):
        await assert_nowhere_in_the_trail(reporting_db, token)


async def test_the_trail_cannot_be_changed_and_admins_read_it(
    reporting: httpx.AsyncClient, reporting_db: SessionFactory, tokens: Tokens
) -> None:
    subject = f"admin-{new_id()}"
    for scopes in ([Scope.ADMIN], [Scope.FINANCE]):
        token = tokens.token(Role.MANAGER, subject, scopes=scopes)
        signed = await reporting.post("/dashboard/login", data={"token": token}, headers=OWN_PAGE)
        assert signed.status_code == 303, signed.text
    rows = await audit_rows(reporting_db, actor=subject)
    assert [row.scopes for row in rows] == [["admin"], ["finance"]]

    await assert_append_only(reporting_db)
    await assert_only_admins_read_the_trail(reporting, tokens)
    await assert_the_trail_reads_back(reporting, tokens, rows)
