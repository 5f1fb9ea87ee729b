"""Signed links to page images: whoever has one may fetch the image until it expires, without
a token (an `<img>` sends none). The signature is an HMAC of the document, the page and the
expiry; the expiry is rounded up to a step of half the lifetime, so that a page shown twice
within a step has the same link and the browser answers it from its cache."""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from bpo_common.errors import Forbidden


@dataclass(frozen=True)
class PageLinks:
    secret: bytes
    ttl_s: int

    def url(self, document_id: UUID, number: int, now: datetime) -> str:
        step = max(1, self.ttl_s // 2)
        expires = (int(now.timestamp()) // step + 2) * step
        signature = self._signature(document_id, number, expires)
        return f"/v1/documents/{document_id}/pages/{number}?expires={expires}&signature={signature}"

    def check(
        self, document_id: UUID, number: int, expires: int, signature: str, now: datetime
    ) -> int:
        """The seconds the link has left; Forbidden when it expired or is not ours."""
        expected = self._signature(document_id, number, expires)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise Forbidden("the link's signature is not valid; ask for the document again")
        left = expires - int(now.timestamp())
        if left <= 0:
            raise Forbidden("the link has expired; ask for the document again")
        return left

    def _signature(self, document_id: UUID, number: int, expires: int) -> str:
        message = f"{document_id}/{number}/{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()
