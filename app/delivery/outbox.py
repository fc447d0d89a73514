"""Writing to the outbox: webhook events created in the caller's transaction, never sent from it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.crypto import Vault
from app.db import bulk_insert, new_id
from app.delivery.models import Delivery

BODY_CONTEXT = "webhook-body"


def event_values(
    vault: Vault,
    *,
    request_id: str,
    department: str,
    event_type: str,
    body: bytes,
    now: datetime,
    status: str = "pending",
    delay: float = 0.0,
) -> dict[str, Any]:
    """Column values for a new event, its body sealed; first attempt ``delay`` seconds from now
    (the first entry of the retry schedule)."""
    return {
        "id": new_id("msg"),
        "request_id": request_id,
        "department_code": department,
        "event_type": event_type,
        "status": status,
        "body_encrypted": vault.encrypt(body, context=BODY_CONTEXT),
        "attempts": 0,
        "failures": 0,
        "next_attempt_at": now + timedelta(seconds=delay),
        "lease_version": 0,
        "created_at": now,
    }


def add_events(db: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        bulk_insert(db, Delivery, rows)


def body_of(vault: Vault, delivery: Delivery) -> bytes:
    return vault.decrypt(delivery.body_encrypted, context=BODY_CONTEXT)
