"""Prometheus metrics, kept in a registry per application instance. Collectors that read a
package's tables live with the package (the delivery queue: ``app/delivery/metrics.py``)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "oneexam_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "oneexam_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.statements = Histogram(
            "oneexam_db_statements_per_request",
            "SQL statements sent to the database while answering one request",
            ["method", "route"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024),
            registry=self.registry,
        )
        self.deliveries = Counter(
            "oneexam_deliveries",
            "Webhook delivery attempts by department and outcome",
            ["department", "outcome"],
            registry=self.registry,
        )
        self.delivery_seconds = Histogram(
            "oneexam_delivery_duration_seconds",
            "Time for one webhook delivery attempt",
            ["department"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )


@dataclass
class RequestStats:
    statements: int = 0


current_request: ContextVar[RequestStats | None] = ContextVar("current_request", default=None)
"""Set by the middleware for each request; worker threads inherit it with the context."""


def count_statement(*_args: Any, **_kwargs: Any) -> None:
    """SQLAlchemy ``before_cursor_execute`` hook: one more statement for this request."""
    stats = current_request.get()
    if stats is not None:
        stats.statements += 1
