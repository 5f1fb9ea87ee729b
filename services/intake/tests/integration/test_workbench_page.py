"""/work without a browser: who may sign in and how, the page's policy, instructions as
Markdown, and the draft check the page asks for."""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from bpo_common.auth import Role, issue_token
from bpo_common.ids import new_id
from bpo_devtools.testing import TEST_AUDIENCE, TEST_ISSUER, Tokens

from .browsing import Served, http_api
from .keying import lease_a_task


@pytest.fixture
async def api(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the served app of its own: no cookie from another test."""
    async with await http_api(served) as client:
        yield client


@pytest.mark.parametrize("role", ["client", "manager"])
async def test_only_contractors_sign_in_to_the_workbench(
    api: httpx.AsyncClient, tokens: Tokens, role: str
) -> None:
    token = tokens.token(Role(role), "someone", new_id() if role == "client" else None)
    response = await api.post("/work/login", data={"token": token})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert f"the workbench is for contractors; this token is for a {role}" in response.text
    page = await api.get("/work", headers={"Cookie": f"bpo_work={token}"})
    assert page.status_code == 403
    assert 'id="claim"' not in page.text


async def test_the_workbench_page_is_served_with_a_strict_policy_and_sends_strangers_to_sign_in(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    anonymous = await api.get("/work")
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/work/login")
    token = tokens.token(Role.CONTRACTOR, str(new_id()))
    signed = await api.post("/work/login", data={"token": token})
    assert signed.status_code == 303
    flags = {part.strip().lower() for part in signed.headers["set-cookie"].split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    page = await api.get("/work", headers={"Cookie": f"bpo_work={token}"})
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "<script>" not in page.text, "no inline script"
    script = await api.get("/work/static/workbench.js")
    assert script.status_code == 200
    assert "X-BPO-Page" in script.text
    # Asked for afresh each time (and answered 304 while it is the same), so a new release's
    # page never runs with the script a browser kept from the last one.
    for path in ("/work/static/workbench.js", "/work/static/workbench.css"):
        kept = await api.get(path)
        assert kept.headers["cache-control"] == "no-cache"
        same = await api.get(path, headers={"If-None-Match": kept.headers["etag"]})
        assert (same.status_code, same.content) == (304, b"")


async def test_instructions_are_shown_as_markdown_with_raw_html_escaped(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    token = tokens.token(Role.CONTRACTOR, str(new_id()))
    cookie = {"Cookie": f"bpo_work={token}"}
    markdown = (
        "# Invoices\n\n**Totals** [help](javascript:alert(1)) <img src=x onerror=alert(1)> "
        "[guide](https://guide.example/invoices)"
    )
    answered = await api.post("/work/instructions", json={"markdown": markdown}, headers=cookie)
    assert answered.status_code == 200
    shown = answered.json()["html"]
    # Followed in the workbench's tab, a link would leave the page and give the task back.
    assert (
        '<a href="https://guide.example/invoices" target="_blank" rel="noopener noreferrer">'
        "guide</a>" in shown
    )
    assert "<h1>Invoices</h1>" in shown
    assert "<strong>Totals</strong>" in shown
    assert "&lt;img" in shown
    assert "<img" not in shown
    assert 'href="javascript' not in shown
    refused = await api.post("/work/instructions", json={"markdown": markdown})
    assert refused.status_code == 401


async def test_a_draft_is_checked_as_a_submit_would_check_it_without_requiring_what_is_not_keyed(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    _, _, keyer, task = await lease_a_task(api, tokens)
    path = f"/v1/tasks/{task['id']}/check"
    draft = await api.post(path, json={"data": {"total": "12,50x"}}, headers=keyer)
    assert draft.json() == {
        "valid": False,
        "errors": [{"field": "total", "message": "not a number"}],
        "normalized": {},
    }
    good = await api.post(path, json={"data": {"total": "1,250.50"}}, headers=keyer)
    assert good.json() == {"valid": True, "errors": [], "normalized": {"total": "1250.5"}}
    submitted = await api.post(
        f"/v1/tasks/{task['id']}/submit", json={"data": {"total": "12,50x"}}, headers=keyer
    )
    assert {"field": "total", "message": "not a number"} in submitted.json()["errors"]


async def test_a_sign_in_posted_from_another_site_is_refused(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    token = tokens.token(Role.CONTRACTOR, str(new_id()))
    forged = await api.post(
        "/work/login", data={"token": token}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert forged.status_code == 403
    assert "set-cookie" not in forged.headers
    own = await api.post(
        "/work/login", data={"token": token}, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert own.status_code == 303


async def test_a_token_that_has_just_expired_is_refused_saying_so(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    token = issue_token(
        tokens.private_key, subject=str(new_id()), role=Role.CONTRACTOR, issuer=TEST_ISSUER,
        audience=TEST_AUDIENCE, ttl=timedelta(seconds=-10),
    )  # fmt: skip
    refused = await api.post("/work/login", data={"token": token})
    assert refused.status_code == 401
    assert "set-cookie" not in refused.headers
    assert "the token has expired" in refused.text


@pytest.mark.parametrize("name", ["token", "access_token"])
async def test_the_workbench_asked_for_with_a_token_in_its_address_says_to_replace_it(
    api: httpx.AsyncClient, tokens: Tokens, name: str
) -> None:
    token = tokens.token(Role.CONTRACTOR, str(new_id()))
    refused = await api.get(f"/work?{name}={token}", headers={"Cookie": f"bpo_work={token}"})
    assert refused.status_code == 400
    assert "set-cookie" not in refused.headers
    assert "paste it into the form instead, and have this one replaced" in refused.text
    assert 'id="claim"' not in refused.text
