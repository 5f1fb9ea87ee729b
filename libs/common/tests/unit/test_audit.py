"""Pure parts of the audit trail: whose address a call came from, and what a summary holds."""

from datetime import UTC, datetime
from decimal import Decimal
from ipaddress import ip_network
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.audit import _FACTS, client_address, summarize
from bpo_common.auth import KeyScope, Role
from bpo_common.settings import ServiceSettings

PROXIES = (ip_network("10.0.0.0/8"), ip_network("2001:db8::/32"))


def scope(peer: str | None, *forwarded: str) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"client": (peer, 40000) if peer else None, "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded", "address"),
    [
        # No proxy is trusted by default: the peer is the caller, whatever the header says.
        ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),
        # A trusted proxy's last hop is the address it heard from.
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        # Through two trusted proxies; the leftmost hop could be forged, so it is not taken.
        ("10.0.0.2", ["1.2.3.4, 198.51.100.1, 10.9.9.9"], "198.51.100.1"),
        # Several headers are one list, in order.
        ("10.0.0.2", ["1.2.3.4", "198.51.100.1"], "198.51.100.1"),
        # A peer that is not a trusted proxy: its header counts for nothing.
        ("198.51.100.9", ["1.2.3.4"], "198.51.100.9"),
        # Garbage stops the walk at the proxy that passed it on.
        ("10.0.0.2", ["1.2.3.4, not-an-address"], "10.0.0.2"),
        # Nothing forwarded: the proxy itself.
        ("10.0.0.2", [], "10.0.0.2"),
        ("2001:db8::1", ["2001:db8::2, 2a00:1450::1"], "2a00:1450::1"),
    ],
)
def test_the_callers_address_is_taken_from_trusted_proxies_only(
    peer: str, forwarded: list[str], address: str
) -> None:
    trusted = () if peer == "203.0.113.5" else PROXIES
    assert client_address(scope(peer, *forwarded), trusted) == address


def test_a_call_without_a_peer_has_no_address() -> None:
    assert client_address(scope(None, "1.2.3.4"), PROXIES) is None


def test_trusted_proxies_are_read_comma_separated() -> None:
    settings = ServiceSettings(
        database_url="postgresql+asyncpg://x:y@h/d",
        port=1,
        trusted_proxies="10.0.0.0/8, 192.0.2.7 ,2001:db8::/32",
    )
    assert settings.trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("192.0.2.7/32"),
        ip_network("2001:db8::/32"),
    )
    assert (
        ServiceSettings(database_url="postgresql+asyncpg://x:y@h/d", port=1).trusted_proxies == ()
    )


def test_a_summary_holds_plain_json_of_the_facts_given() -> None:
    session = AsyncSession()
    summarize(session, before=Role.CLIENT, amount=Decimal("12.50"), scopes=[KeyScope.JOBS_WRITE])
    summarize(session, at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), items=3, flag=True)
    assert session.info[_FACTS] == {
        "before": "client",
        "amount": "12.50",
        "scopes": ["jobs:write"],
        "at": "2026-01-02T03:04:05Z",
        "items": 3,
        "flag": True,
    }
