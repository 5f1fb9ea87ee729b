"""Signed page links: each works for at least the lifetime it is made with, and a page shown
again within a step keeps its link (and the browser's cached image)."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse
from uuid import UUID

import pytest

from bpo_intake.domain.links import PageLinks, SignedPage

DOCUMENT = UUID("00000000-0000-0000-0000-00000000d0c5")
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _signed(url: str) -> SignedPage:
    query = {name: values[0] for name, values in parse_qs(urlparse(url).query).items()}
    return SignedPage(DOCUMENT, 1, int(query["expires"]), query["signature"])


@pytest.mark.parametrize("ttl_s", [900, 901, 60, 1])
def test_a_link_works_for_at_least_its_lifetime_whenever_it_is_made(ttl_s: int) -> None:
    links = PageLinks(b"k" * 32, ttl_s)
    for second in range(2 * ttl_s + 2):
        made = START + timedelta(seconds=second)
        link = _signed(links.url(DOCUMENT, 1, made))
        assert link.expires - int(made.timestamp()) >= ttl_s, f"made {second} s in"
        assert link.expires - int(made.timestamp()) <= ttl_s + max(1, ttl_s // 2)
        assert links.check(link, made + timedelta(seconds=ttl_s - 1)) >= 1


def test_a_page_shown_again_within_a_step_keeps_its_link() -> None:
    links = PageLinks(b"k" * 32, 900)
    urls = {links.url(DOCUMENT, 1, START + timedelta(seconds=second)) for second in range(1800)}
    assert len(urls) == 4, "one link for each 450 s"
