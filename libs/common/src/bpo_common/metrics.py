"""Prometheus metrics of the plumbing. Each service process exposes them at /metrics."""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "bpo_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram("bpo_http_request_seconds", "HTTP request latency", ["method", "route"])
OUTBOX_PUBLISHED = Counter("bpo_outbox_published_total", "Outbox events published to JetStream")
OUTBOX_FAILURES = Counter(
    "bpo_outbox_publish_failures_total",
    "Outbox events whose publish failed, one per event and attempt, and relay passes that "
    "failed before publishing",
)
EVENTS_APPLIED = Counter(
    "bpo_events_applied_total", "Events applied by a consumer", ["consumer", "type"]
)
EVENTS_DUPLICATE = Counter(
    "bpo_events_duplicate_total", "Redelivered events that changed nothing", ["consumer"]
)
EVENTS_FAILED = Counter(
    "bpo_events_failed_total", "Event deliveries whose handler failed", ["consumer"]
)
EVENTS_DEAD_LETTERED = Counter(
    "bpo_events_dead_lettered_total", "Events given up after their last delivery", ["consumer"]
)
AUDIT_WRITE_FAILURES = Counter(
    "bpo_audit_write_failures_total",
    "Audit rows of refused calls that could not be written (each is logged instead)",
)
