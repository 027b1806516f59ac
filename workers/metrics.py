"""Prometheus metrics of SPEC §8.

Workers run as separate processes, so when `PROMETHEUS_MULTIPROC_DIR` is set (the CLI sets it
for `serve` and `worker`) every process writes its samples there and `/metrics` on the web
process aggregates them: what the workers did shows up on the web's endpoint.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from integrations import failures

EVENTS = Counter("triage_events_total", "Slack events by classification", ["kind"])
REQUESTS = Counter("triage_requests_total", "Requests triaged", ["category", "urgency"])
DRAFTS = Counter("triage_drafts_total", "Draft outcomes", ["outcome"])
FEEDBACK = Counter("triage_feedback_total", "Feedback reactions", ["value", "source"])
ESCALATIONS = Counter("triage_escalations_total", "Escalations", ["priority"])
SLA_BREACHES = Counter("triage_sla_breaches_total", "First-response SLA breaches")
INCIDENTS = Counter("triage_incidents_total", "Incidents formed (SPEC §6.6)")
INCIDENT_REPORTS = Counter(
    "triage_incident_reports_total", "Customer requests grouped into an incident"
)
CSAT = Counter(
    "triage_csat_total", "Customers' answers to the CSAT question (SPEC §6.7)", ["value"]
)
ACK_SECONDS = Histogram(
    "triage_ack_seconds",
    "Time from request received to ack",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5),
)
TIME_TO_CARD = Histogram(
    "triage_time_to_card_seconds",
    "Customer message received to card posted",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
)
QUEUE_DEPTH = Gauge(
    "triage_queue_depth", "Jobs waiting per queue", ["queue"], multiprocess_mode="livemax"
)
# triage_errors_total{where}: unexpected exceptions, logged with their traceback. Defined in
# integrations/ (`integrations.failures.unexpected`), whose enqueue thread counts them too.
ERRORS = failures.ERRORS


def render() -> tuple[bytes, str]:
    """The exposition text for `/metrics`, aggregated across processes when configured."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
