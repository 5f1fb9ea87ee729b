"""Signed links to page images and their words: whoever has one may fetch the image (or the
words) until it expires, without a token (an `<img>` sends none). The signature is an HMAC of
the document, the page, the expiry and, on a contractor's link, the contractor (`holder`),
whose link works only while they hold a lease on a task keyed from the document. The expiry,
at least the lifetime away, is rounded up to a step of half the lifetime, so that a page shown
twice within a step has the same link and the browser answers it from its cache: a link works
for the lifetime, and at most half as long again."""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from bpo_common.errors import Forbidden


@dataclass(frozen=True)
class SignedPage:
    """A page link as it was followed: the page, until when, and the signature."""

    document_id: UUID
    number: int
    expires: int
    signature: str
    holder: UUID | None = None


@dataclass(frozen=True)
class PageLinks:
    secret: bytes
    ttl_s: int

    def url(
        self,
        document_id: UUID,
        number: int,
        now: datetime,
        part: str = "",
        holder: UUID | None = None,
    ) -> str:
        """The page's image link; with `part` "/words", the same link to its words; with a
        `holder`, a contractor's, good only while they hold a lease on the document."""
        step = max(1, self.ttl_s // 2)
        expires = ((int(now.timestamp()) + self.ttl_s) // step + 1) * step
        signature = self._signature(document_id, number, expires, holder)
        query = f"expires={expires}&signature={signature}"
        query += f"&holder={holder}" if holder is not None else ""
        return f"/v1/documents/{document_id}/pages/{number}{part}?{query}"

    def check(self, link: SignedPage, now: datetime) -> int:
        """The seconds the link has left; Forbidden when it expired or is not ours."""
        expected = self._signature(link.document_id, link.number, link.expires, link.holder)
        if not hmac.compare_digest(expected.encode(), link.signature.encode()):
            raise Forbidden("the link's signature is not valid; ask for the document again")
        left = link.expires - int(now.timestamp())
        if left <= 0:
            raise Forbidden("the link has expired; ask for the document again")
        return left

    def _signature(self, document_id: UUID, number: int, expires: int, holder: UUID | None) -> str:
        message = f"{document_id}/{number}/{expires}" + (f"/{holder}" if holder else "")
        return hmac.new(self.secret, message.encode(), hashlib.sha256).hexdigest()
