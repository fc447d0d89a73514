from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints

from app.i18n import _
from app.schemas import Code, Name, StrictBoolean, StrictModel


def _fits_column(url: AnyHttpUrl) -> AnyHttpUrl:
    if len(str(url)) > 2000:
        raise ValueError(_("the URL is longer than 2000 characters"))
    return url


MAX_URL_LENGTH = 1900
"""As sent; the normalised form (a trailing ``/``, punycode) must still fit the 2000 column."""

WebhookUrl = Annotated[
    AnyHttpUrl, UrlConstraints(max_length=MAX_URL_LENGTH), AfterValidator(_fits_column)
]


class DepartmentCreate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "mem",
                    "name": "应急管理部",
                    "webhook_url": "https://mem.example.gov.cn/oneexam/webhooks",
                }
            ]
        }
    )

    code: Code
    name: Name
    webhook_url: WebhookUrl | None = Field(
        None, description="where issuance webhooks go; leave empty for a pull-only department"
    )


class DepartmentUpdate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"webhook_url": "https://mem.example.gov.cn/oneexam/webhooks", "active": True}
            ]
        }
    )

    name: Name | None = None
    webhook_url: WebhookUrl | None = Field(None, description="null makes the department pull-only")
    active: StrictBoolean | None = Field(
        None, description="turn the endpoint back on after a 410 (or off for maintenance)"
    )


class SecretInfo(BaseModel):
    id: str
    created_at: datetime
    expires_at: datetime | None = Field(None, description="null while it is the current secret")


class DepartmentOut(BaseModel):
    code: str
    name: str
    webhook_url: str | None
    active: bool
    deactivated_reason: str | None
    created_at: datetime
    updated_at: datetime
    secrets: list[SecretInfo] = Field(description="active signing secrets, without their values")


class DepartmentCreated(DepartmentOut):
    signing_secret: str = Field(..., description="`whsec_…`; shown only here and on rotation")


class SecretRotated(BaseModel):
    signing_secret: str = Field(..., description="the new secret; shown only here")
    previous_valid_until: datetime | None = Field(
        None, description="until when the previous secret keeps signing alongside the new one"
    )
