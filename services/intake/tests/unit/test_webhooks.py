"""Webhooks without a network: Standard Webhooks signatures, the secret's format, where a
webhook may go, and what a try means for its delivery."""

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from bpo_intake.domain import webhooks
from bpo_intake.domain.webhooks import (
    Outcome,
    WebhookDeliveryStatus,
    WebhookEvent,
    WebhookUrlRefused,
    after_attempt,
    clip,
    payload,
    refusal,
    retry_delay,
    why_not_public,
)
from bpo_intake.service.webhook_http import target

CREATED = datetime(2031, 1, 1, tzinfo=UTC)


def test_signing_matches_the_standard_webhooks_reference_vector() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", b'{"test": 2432232314}'
    signed_at = datetime.fromtimestamp(1614265330).astimezone()

    signature = webhooks.sign(secret, msg_id, 1614265330, body)

    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert webhooks.verify(secret, msg_id, "1614265330", body, signature, now=signed_at)
    assert webhooks.verify(
        secret, msg_id, "1614265330", body, f"v1,c3RhbGU= {signature}", now=signed_at
    ), "one valid signature among several (a rotated secret) is enough"
    forgeries = {
        "another body": (secret, msg_id, "1614265330", b'{"test": 1}', signature, signed_at),
        "another id": (secret, "msg_other", "1614265330", body, signature, signed_at),
        "another secret": (webhooks.new_secret(), msg_id, "1614265330", body, signature, signed_at),
        "another version": (secret, msg_id, "1614265330", body, "v2" + signature[2:], signed_at),
        "replayed later": (
            secret,
            msg_id,
            "1614265330",
            body,
            signature,
            signed_at + timedelta(minutes=6),
        ),
        "not a timestamp": (secret, msg_id, "soon", body, signature, signed_at),
    }
    for why, (key, id_, timestamp, content, header, now) in forgeries.items():
        assert not webhooks.verify(key, id_, timestamp, content, header, now=now), why


def test_a_secret_is_whsec_and_32_random_bytes_in_base64() -> None:
    first, second = webhooks.new_secret(), webhooks.new_secret()

    assert first.startswith("whsec_")
    assert len(first) == len("whsec_") + 44
    assert first != second


@pytest.mark.parametrize(
    ("attempt", "longest"),
    [(1, 5), (2, 10), (3, 20), (10, 2560), (11, 3600), (30, 3600), (1000, 3600)],
)
def test_retries_wait_5_s_doubling_to_an_hour_minus_up_to_a_fifth(
    attempt: int, longest: int
) -> None:
    for _ in range(50):
        delay = retry_delay(attempt)
        assert timedelta(seconds=longest * 0.8) <= delay <= timedelta(seconds=longest)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("2002:7f00:1::1", "a loopback address"),  # 6to4, where routed, reaches 127.0.0.1
        ("2002:a9fe:a9fe::1", "a link-local address"),
        ("2002:808:808::1", None),
        ("fec0::1", "a site-local address"),
        ("10.0.0.1", "a private address"),
        ("192.168.1.20", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("0.0.0.0", "an unspecified address"),  # noqa: S104 (an address to classify)
        ("224.0.0.1", "a multicast address"),
        ("100.64.0.1", "not a public address"),
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_addresses_are_classified_public_or_by_what_they_are(
    address: str, kind: str | None
) -> None:
    assert why_not_public(ipaddress.ip_address(address)) == kind


def test_a_host_is_refused_naming_the_first_address_that_is_not_public() -> None:
    public, loopback = ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("127.0.0.1")

    assert refusal("example.com", [public]) is None
    assert refusal("localhost", [public, loopback]) == (
        "localhost resolves to 127.0.0.1, which is a loopback address; "
        "webhooks may only go to public addresses"
    )
    assert refusal("127.0.0.1", [loopback]) == (
        "127.0.0.1 is a loopback address; webhooks may only go to public addresses"
    )


def test_the_payload_carries_the_event_type_the_time_and_the_data_as_json_values() -> None:
    job_id = "0190d7a0-0000-7000-8000-000000000001"

    body = payload(WebhookEvent.JOB_COMPLETED, {"job_id": job_id, "at": CREATED}, CREATED)

    assert body == {
        "type": "job.completed",
        "timestamp": "2031-01-01T00:00:00Z",
        "data": {"job_id": job_id, "at": "2031-01-01T00:00:00Z"},
    }


def test_a_delivered_try_ends_the_delivery() -> None:
    after = after_attempt(Outcome(204, None), 1, CREATED, CREATED, 24)

    assert (after.status, after.next_attempt_at, after.delivered_at, after.last_error) == (
        WebhookDeliveryStatus.DELIVERED,
        None,
        CREATED,
        None,
    )


def test_a_failed_try_is_retried_within_the_window_then_given_up() -> None:
    failed = Outcome(503, "the receiver answered HTTP 503")

    again = after_attempt(failed, 1, CREATED, CREATED, 24)
    late = CREATED + timedelta(hours=24)
    given_up = after_attempt(failed, 30, late, CREATED, 24)

    assert again.status is WebhookDeliveryStatus.PENDING
    assert again.next_attempt_at is not None
    assert timedelta(seconds=4) <= again.next_attempt_at - CREATED <= timedelta(seconds=5)
    assert again.last_error == "the receiver answered HTTP 503"
    assert (given_up.status, given_up.next_attempt_at) == (WebhookDeliveryStatus.FAILED, None)
    assert given_up.last_error == (
        "the receiver answered HTTP 503; gave up after 30 attempts in 24 h"
    )


def test_a_refused_url_fails_the_delivery_at_once() -> None:
    refused = Outcome(None, "refused: 10.0.0.1 is a private address", final=True)

    after = after_attempt(refused, 1, CREATED, CREATED, 24)

    assert (after.status, after.next_attempt_at) == (WebhookDeliveryStatus.FAILED, None)
    assert after.last_error == "refused: 10.0.0.1 is a private address"


def test_long_errors_are_clipped_to_500_characters() -> None:
    assert clip("short") == "short"
    assert clip("x" * 600) == "x" * 499 + "…"


def test_a_webhook_url_calls_its_host_on_its_port_or_the_schemes() -> None:
    assert target("https://hooks.example.com/bpo") == ("hooks.example.com", 443)
    assert target("http://hooks.example.com:8080/bpo") == ("hooks.example.com", 8080)
    assert target("http://[::1]/") == ("::1", 80)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/", "ftp://example.com/ must use http or https, not ftp"),
        ("hooks.example.com/bpo", "hooks.example.com/bpo must use http or https, not nothing"),
        ("http:///bpo", "http:///bpo has no host"),
    ],
)
def test_a_webhook_url_that_is_not_http_with_a_host_is_refused(url: str, reason: str) -> None:
    with pytest.raises(WebhookUrlRefused) as refused:
        target(url)

    assert refused.value.reason == reason
    assert [error.field for error in refused.value.errors] == ["webhook_url"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example.com/", "https://hooks.example.com/"),
        ("https://hooks.example.com:8443/in/c1", "https://hooks.example.com:8443/•••"),
        ("https://hooks.example.com/?token=t0k3n", "https://hooks.example.com/?•••"),
        ("https://erp:pa55@[2001:db8::1]/h#t0k3n", "https://•••@[2001:db8::1]/•••#•••"),
    ],
)
def test_a_managers_view_of_a_webhook_url_keeps_only_where_it_goes(url: str, shown: str) -> None:
    assert webhooks.url_shown(url) == shown
