"""The webhooks oneexam sends, declared for the OpenAPI document (``webhooks``, OpenAPI 3.1).

These models document the bodies; ``app/issuance/payload.py`` builds them. The integrator's
reference with verification is ``docs/webhooks.md``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body, FastAPI, Header
from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class WebhookCertificate(_Open):
    code: str
    name: str
    department: str
    level: str | None
    validity_years: int | None = Field(description="null: lifelong")


class WebhookCandidate(_Open):
    id_number: str = Field(description="the full national ID number (only in this webhook)")
    name: str
    birth_date: str = Field(description="YYYY-MM-DD")


class WebhookSession(_Open):
    id: str
    centre: str
    starts_at: str = Field(description="RFC 3339 with the centre's offset")
    exam_date: str | None = Field(None, description="YYYY-MM-DD, local to the centre")
    catalogue_version: int


class CarriedFrom(_Open):
    registration_id: str
    exam_date: str


class WebhookSection(_Open):
    code: str
    name: str
    kind: Literal["theory", "practical", "training"]
    scoring: Literal["score", "pass_fail"]
    score: float | None = Field(None, description="scored sections (null when exempted)")
    passed: bool | None = Field(None, description="pass/fail sections (null when exempted)")
    pass_score: float | None
    exempted: bool
    carried_from: CarriedFrom | None = Field(None, description="a result from an earlier sitting")


class Basis(_Open):
    certificate: str
    number: str
    via: list[str] = Field(default_factory=list, description="equivalences counted through")


class WebhookExemption(_Open):
    section: str
    basis: Basis


class Prerequisite(_Open):
    certificate: str
    basis: Basis


class IssuanceRequestedData(_Open):
    request_id: str = Field(description="answer with POST /v1/issuance-requests/{id}/decision")
    certificate: WebhookCertificate
    candidate: WebhookCandidate
    session: WebhookSession
    sections: list[WebhookSection]
    exemptions: list[WebhookExemption]
    prerequisite: Prerequisite | None = None


class IssuanceRequested(BaseModel):
    type: Literal["issuance.requested"]
    timestamp: str = Field(description="when the event was created, RFC 3339")
    data: IssuanceRequestedData


class IssuanceCancelledData(BaseModel):
    request_id: str
    reason: str


class IssuanceCancelled(BaseModel):
    type: Literal["issuance.cancelled"]
    timestamp: str
    data: IssuanceCancelledData


REQUESTED_EXAMPLE: dict[str, Any] = {
    "type": "issuance.requested",
    "timestamp": "2026-12-15T18:02:11.532+08:00",
    "data": {
        "request_id": "isr_0193c1f2a4b87d5e9f0a1b2c3d4e5f60",
        "certificate": {
            "code": "MOHURD-ELEC",
            "name": "建筑施工特种作业操作资格证（建筑电工）",
            "department": "mohurd",
            "level": None,
            "validity_years": 2,
        },
        "candidate": {
            "id_number": "110105199005170011",
            "name": "王芳",
            "birth_date": "1990-05-17",
        },
        "session": {
            "id": "ses_0193c1e0b1a27c4d8e9f0a1b2c3d4e5f",
            "centre": "BJ01",
            "starts_at": "2026-12-15T09:00:00+08:00",
            "exam_date": "2026-12-15",
            "catalogue_version": 1,
        },
        "sections": [
            {
                "code": "ELEC-TRAINING",
                "name": "电工安全培训",
                "kind": "training",
                "scoring": "pass_fail",
                "passed": None,
                "pass_score": None,
                "exempted": True,
            },
            {
                "code": "ELEC-THEORY",
                "name": "电工作业安全技术理论",
                "kind": "theory",
                "scoring": "score",
                "score": 74.5,
                "pass_score": 70,
                "exempted": False,
            },
            {
                "code": "BUILD-SAFETY",
                "name": "建筑施工安全知识",
                "kind": "theory",
                "scoring": "score",
                "score": 81,
                "pass_score": 70,
                "exempted": False,
            },
            {
                "code": "ELEC-PRACTICAL",
                "name": "电工实际操作",
                "kind": "practical",
                "scoring": "score",
                "score": 68,
                "pass_score": 60,
                "exempted": False,
            },
        ],
        "exemptions": [
            {
                "section": "ELEC-TRAINING",
                "basis": {"certificate": "MEM-LV", "number": "T110105199005170011", "via": []},
            },
        ],
        "prerequisite": None,
    },
}

CANCELLED_EXAMPLE: dict[str, Any] = {
    "type": "issuance.cancelled",
    "timestamp": "2026-12-18T10:15:00.000+08:00",
    "data": {
        "request_id": "isr_0193c1f2a4b87d5e9f0a1b2c3d4e5f60",
        "reason": "ELEC-THEORY amended from 74.5 to 65: below the pass mark 70",
    },
}

HEADERS_HELP = (
    "Headers (Standard Webhooks): `webhook-id` (the event id, the same on every retry), "
    "`webhook-timestamp` (unix seconds of this attempt), `webhook-signature` "
    "(`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one space-separated entry per active "
    "secret). Answer 2xx quickly; anything else is retried. See docs/webhooks.md."
)

WebhookId = Annotated[str, Header(alias="webhook-id", description="the event id")]
WebhookTimestamp = Annotated[str, Header(alias="webhook-timestamp", description="unix seconds")]
WebhookSignature = Annotated[
    str, Header(alias="webhook-signature", description="v1,<base64 HMAC-SHA256>, space-separated")
]


def install_webhooks(app: FastAPI) -> None:
    """Declare both events under the document's ``webhooks``."""

    @app.webhooks.post(
        "issuance.requested",
        summary="A candidate qualified for one of your certificates",
        description="Sent to the issuing department's `webhook_url` for every qualified "
        "certificate. Decide with `POST /v1/issuance-requests/{request_id}/decision`. "
        + HEADERS_HELP,
        operation_id="issuance_requested",
    )
    def issuance_requested(
        event: Annotated[
            IssuanceRequested,
            Body(
                openapi_examples={
                    "qualified": {"summary": "王芳, MOHURD-ELEC", "value": REQUESTED_EXAMPLE}
                }
            ),
        ],
        webhook_id: WebhookId,
        webhook_timestamp: WebhookTimestamp,
        webhook_signature: WebhookSignature,
    ) -> None:
        """Documentation only."""

    @app.webhooks.post(
        "issuance.cancelled",
        summary="A request you were told of no longer stands",
        description="Sent after `issuance.requested` when an amendment disqualifies the "
        "candidate. Withdraw the request; do not issue. " + HEADERS_HELP,
        operation_id="issuance_cancelled",
    )
    def issuance_cancelled(
        event: Annotated[
            IssuanceCancelled,
            Body(
                openapi_examples={"amended": {"summary": "a re-mark", "value": CANCELLED_EXAMPLE}}
            ),
        ],
        webhook_id: WebhookId,
        webhook_timestamp: WebhookTimestamp,
        webhook_signature: WebhookSignature,
    ) -> None:
        """Documentation only."""
