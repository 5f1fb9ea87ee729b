"""Intake's settings: a document store that cannot be used, or a retention the stream would
outlive, stops the service at start."""

import pytest
from pydantic import ValidationError

from bpo_common.messaging import stream_config
from bpo_intake.settings import Settings

DATABASE = "postgresql+asyncpg://intake@db/intake"


def test_a_document_store_that_cannot_be_opened_stops_the_service_at_start() -> None:
    with pytest.raises(ValidationError, match=r"the document store cannot be opened: .*bogus"):
        Settings(
            database_url=DATABASE,
            document_store_url="s3://bucket/documents",
            document_store_options={"bogus": "1"},
        )


def test_an_s3_store_with_an_endpoint_and_http_allowed_is_accepted() -> None:
    options = {"endpoint": "http://127.0.0.1:9000", "allow_http": "true", "region": "eu-west-1"}
    settings = Settings(
        database_url=DATABASE, document_store_url="s3://bucket/docs", document_store_options=options
    )
    assert settings.document_store_options == options


def test_a_retention_longer_than_the_stream_keeps_events_stops_the_service_at_start() -> None:
    with pytest.raises(ValidationError, match=r"retention_days \(500\) must be between 1 and"):
        Settings(database_url=DATABASE, retention_days=500, stream_max_age_days=400)
    unbounded = Settings(database_url=DATABASE, retention_days=0, stream_max_age_days=0)
    assert stream_config(max_age_days=unbounded.stream_max_age_days).max_age == 0
    bounded = Settings(database_url=DATABASE, retention_days=30, stream_max_age_days=31)
    assert stream_config(max_age_days=bounded.stream_max_age_days).max_age == 31 * 86400


def test_a_short_document_link_secret_stops_the_service_at_start() -> None:
    with pytest.raises(ValidationError, match="document_url_secret"):
        Settings(database_url=DATABASE, document_url_secret="CHANGE_ME")
    assert Settings(database_url=DATABASE, document_url_secret="x" * 32)
