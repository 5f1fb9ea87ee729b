"""The reporting API as the tests call it."""

from dataclasses import dataclass
from typing import Any

import httpx

from bpo_devtools.testing import Tokens


@dataclass(frozen=True)
class Reports:
    """The reports API as a manager reads it."""

    http: httpx.AsyncClient
    tokens: Tokens

    async def get(
        self, report: str, params: dict[str, str] | None = None, accept: str | None = None
    ) -> httpx.Response:
        headers = self.tokens.manager() | ({"Accept": accept} if accept else {})
        return await self.http.get(f"/v1/reports/{report}", params=params, headers=headers)

    async def body(self, report: str, **params: str) -> dict[str, Any]:
        """A report's JSON, which must be there (200)."""
        response = await self.get(report, params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body
