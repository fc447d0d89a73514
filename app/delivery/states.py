"""Named state of the outbox: event types, event statuses and attempt outcomes.

An event (a ``deliveries`` row) moves only as this table says:

=============  ============  ==========================================================
from           to            by whom
=============  ============  ==========================================================
(new)          ``pending``   ``Outbox.enqueue`` (the caller's transaction)
(new)          ``held``      ``Outbox.enqueue(..., held=True)``: a follow-up waiting for
                             the subject's first event, which is in flight
``pending``    ``delivered`` the recorder: a 2xx answer (``service.record``)
``pending``    ``failed``    the recorder: the last attempt of the retry schedule failed
``pending``    ``pending``   the recorder: a retry is scheduled, or a 410 (it waits,
                             uncounted, until the endpoint is switched on again)
``pending``    ``cancelled`` ``Outbox.drop`` (the subject no longer needs it)
``failed``     ``cancelled`` ``Outbox.drop``
``held``       ``pending``   ``Outbox.release_held`` (the first event was delivered)
``held``       ``cancelled`` ``Outbox.drop_held`` (the first event failed for good)
``failed``     ``pending``   ``Outbox.requeue`` / ``service.recover`` (redeliver, recover)
``delivered``  ``pending``   ``Outbox.requeue`` (redeliver)
=============  ============  ==========================================================

Leases (``locked_until``, ``lease_version``) are orthogonal to status: only ``pending`` events
are claimed, and an attempt changes its event only while it still holds the lease it was sent
under (fencing).
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """Webhook event types (docs/api.md §9)."""

    REQUESTED = "issuance.requested"
    CANCELLED = "issuance.cancelled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    HELD = "held"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class AttemptOutcome(StrEnum):
    """What one recorded attempt did to its event."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    ENDPOINT_GONE = "endpoint_gone"
    SUPERSEDED = "superseded"
    """The lease had been taken over: the attempt is kept and changes nothing."""


class Settlement(StrEnum):
    """What the outbox reports to the owner of an event's subject (see ``Outbox``)."""

    DELIVERED = "delivered"
    FAILED = "failed"
    ENDPOINT_GONE = "endpoint_gone"
    REQUEUED = "requeued"


def sql_in(column: str, values: type[StrEnum]) -> str:
    """The text of a CHECK constraint allowing exactly the members of ``values``."""
    return f"{column} in ({', '.join(repr(v.value) for v in values)})"
