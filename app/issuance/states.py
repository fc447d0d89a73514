"""Named state of an issuance request, and who moves it.

``app/issuance/lifecycle.py`` is the only code that assigns ``IssuanceRequest.status``:

=============  ============  ==========================================================
from           to            by whom
=============  ============  ==========================================================
(new)          ``pending``   ``lifecycle.create_requests`` (finalisation, re-evaluation)
``pending``    ``delivered`` ``lifecycle.events_settled``: its ``issuance.requested``
                             event was delivered (the outbox reports it)
``failed``     ``delivered`` ``lifecycle.events_settled`` (a redelivery succeeded)
``pending``    ``failed``    ``lifecycle.events_settled``: the retry schedule ran out
``failed``     ``pending``   ``lifecycle.events_settled``: redeliver / recover requeued it
``delivered``  ``pending``   ``lifecycle.events_settled``: redeliver requeued it
``pending``    ``issued``    ``lifecycle.decide`` (the department; pull-only departments
``delivered``  ``issued``    decide without a push)
``failed``     ``issued``    ``lifecycle.decide``
``pending``    ``rejected``  ``lifecycle.decide``
``delivered``  ``rejected``  ``lifecycle.decide``
``failed``     ``rejected``  ``lifecycle.decide``
any but        ``cancelled`` ``lifecycle.cancel`` (re-evaluation: no longer qualified);
``rejected``                 an ``issued`` request's certificate is revoked with it
=============  ============  ==========================================================

``rejected``, ``cancelled`` are final; ``issued`` ends only by a cancellation.
"""

from __future__ import annotations

from enum import StrEnum


class RequestStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    ISSUED = "issued"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Decision(StrEnum):
    ISSUED = "issued"
    REJECTED = "rejected"
