"""Whether the stream may have dropped its oldest events: what a rebuild from it would miss."""

from datetime import UTC, datetime, timedelta

from nats.js.api import StreamInfo, StreamState

from bpo_common.messaging import dropped_before, stream_config

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _stream(max_age_days: int, created: datetime | None) -> StreamInfo:
    state = StreamState(messages=10, bytes=1000, first_seq=1, last_seq=10, consumer_count=4)
    return StreamInfo(config=stream_config(1, max_age_days), state=state, created=created)


def test_a_stream_younger_than_what_it_keeps_holds_every_event() -> None:
    assert dropped_before(_stream(400, NOW - timedelta(days=399)), NOW) is None


def test_a_stream_older_than_what_it_keeps_may_have_dropped_events_before_the_cutoff() -> None:
    assert dropped_before(_stream(400, NOW - timedelta(days=401)), NOW) == NOW - timedelta(days=400)


def test_a_stream_without_an_age_limit_keeps_everything_however_old() -> None:
    assert dropped_before(_stream(0, NOW - timedelta(days=4000)), NOW) is None
    assert dropped_before(_stream(400, None), NOW) is None
