"""The outbox in ``/metrics``: queue depth and the oldest waiting event per department, read
from the database at scrape time, so every replica reports the same shared queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from app.db import Database, utcnow
from app.delivery.models import Delivery
from app.delivery.states import DeliveryStatus


def queue_depths(db: Session, *, now: datetime) -> list[tuple[str, int, float]]:
    """(department, events waiting, age in seconds of the oldest)."""
    rows = db.execute(
        sa.select(Delivery.department_code, sa.func.count(), sa.func.min(Delivery.created_at))
        .where(Delivery.status == DeliveryStatus.PENDING)
        .group_by(Delivery.department_code)
    ).all()
    return [
        (department, int(count), max((now - oldest).total_seconds(), 0.0))
        for department, count, oldest in rows
    ]


class DeliveryQueueCollector(Collector):
    """``oneexam_delivery_queue_depth`` and ``oneexam_delivery_oldest_pending_seconds``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "oneexam_delivery_queue_depth",
            "Webhook events waiting to be delivered",
            labels=["department"],
        )
        oldest = GaugeMetricFamily(
            "oneexam_delivery_oldest_pending_seconds",
            "Age of the oldest webhook event still waiting",
            labels=["department"],
        )
        try:
            with self.database.read() as db:
                rows = queue_depths(db, now=utcnow())
        except Exception:  # a scrape must not fail because the database is briefly away
            rows = []
        for department, count, age in rows:
            depth.add_metric([department], count)
            oldest.add_metric([department], age)
        yield depth
        yield oldest
