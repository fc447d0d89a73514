"""Standard Webhooks signatures: one ``v1,`` entry per active secret, over the exact bytes sent.

The signature is HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}`` with the secret's
key (the base64 after ``whsec_``), exactly as ``standardwebhooks.Webhook.sign`` computes it. A
:class:`Signer` parses a department's secrets once and keeps an HMAC keyed with each, so signing
an event costs two hash passes over its bytes, not a parse of every secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The key bytes of a ``whsec_…`` secret (unpadded base64 accepted, like the reference
    library)."""
    key = base64.b64decode(secret.removeprefix(PREFIX) + "==")
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


class Signer:
    """Signs for one department with its active secrets, newest first."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self.secrets = tuple(secrets)
        self._macs = [hmac.new(secret_key(s), digestmod=hashlib.sha256) for s in self.secrets]

    def headers(self, msg_id: str, body: bytes, at: datetime) -> dict[str, str]:
        """``webhook-id``, ``webhook-timestamp`` (unix seconds) and ``webhook-signature`` for
        these exact bytes, sent at ``at`` (an aware datetime)."""
        timestamp = str(int(at.timestamp()))
        signed = f"{msg_id}.{timestamp}.".encode()
        signatures = []
        for keyed in self._macs:
            mac = keyed.copy()
            mac.update(signed)
            mac.update(body)
            signatures.append("v1," + base64.b64encode(mac.digest()).decode())
        return {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": " ".join(signatures),
        }
