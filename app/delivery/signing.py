"""Standard Webhooks signatures: one ``v1,`` entry per active secret, over the exact bytes sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook


def signed_headers(
    secrets: Sequence[Webhook], msg_id: str, body: bytes, at: datetime
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` (unix seconds, UTC) and ``webhook-signature``.

    The body is UTF-8 JSON, so signing its text signs exactly these bytes.
    """
    at = at.astimezone(UTC)
    text = body.decode("utf-8")
    signatures = " ".join(secret.sign(msg_id, at, text) for secret in secrets)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }
