"""The worker's signer computes exactly what the Standard Webhooks reference library computes,
for every active secret, over the exact bytes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import standardwebhooks
from hypothesis import given
from hypothesis import strategies as st

from app.delivery.signing import Signer

secrets_ = st.binary(min_size=16, max_size=48).map(
    lambda raw: "whsec_" + base64.b64encode(raw).decode().rstrip("=")  # unpadded, as issued
)
bodies = st.text(max_size=400).map(lambda t: ('{"data":' + repr(t) + "}").encode())


@given(
    secrets=st.lists(secrets_, min_size=1, max_size=2),
    body=bodies,
    msg_id=st.from_regex(r"msg_[0-9a-f]{32}", fullmatch=True),
    seconds=st.integers(min_value=0, max_value=2_000_000_000),
)
def test_the_signer_matches_the_reference_library(
    secrets: list[str], body: bytes, msg_id: str, seconds: int
) -> None:
    at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=654321)
    headers = Signer(secrets).headers(msg_id, body, at)
    expected = [standardwebhooks.Webhook(s).sign(msg_id, at, body.decode()) for s in secrets]
    assert headers["webhook-signature"].split(" ") == expected
    assert headers["webhook-id"] == msg_id and headers["webhook-timestamp"] == str(seconds)


def test_a_signed_event_verifies_with_each_secret_of_a_rotation() -> None:
    old, new = (
        "whsec_" + base64.b64encode(b"o" * 24).decode(),
        "whsec_" + base64.b64encode(b"n" * 24).decode(),
    )
    body = '{"type":"issuance.requested","data":{"name":"李娜"}}'.encode()
    headers = Signer([new, old]).headers("msg_1", body, datetime.now(UTC))
    for secret in (old, new):
        assert standardwebhooks.Webhook(secret).verify(body, headers)["data"]["name"] == "李娜"
