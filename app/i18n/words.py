"""Words that messages take from data (a status), each translated with the message it is in."""

from __future__ import annotations

from app.i18n import Message, pgettext

SESSION_STATUSES = {
    "scheduled": pgettext("session status", "scheduled"),
    "partially_finalised": pgettext("session status", "partially finalised"),
    "finalised": pgettext("session status", "finalised"),
    "cancelled": pgettext("session status", "cancelled"),
}
REQUEST_STATUSES = {
    "pending": pgettext("request status", "pending"),
    "delivered": pgettext("request status", "delivered"),
    "issued": pgettext("request status", "issued"),
    "rejected": pgettext("request status", "rejected"),
    "failed": pgettext("request status", "failed"),
    "cancelled": pgettext("request status", "cancelled"),
}


def session_status(status: str) -> Message | str:
    """A session's status as a word of a sentence (an unknown status stays as it is)."""
    return SESSION_STATUSES.get(status, status)


def request_status(status: str) -> Message | str:
    """An issuance request's status (or a decision: ``issued``, ``rejected``) as a word."""
    return REQUEST_STATUSES.get(status, status)
