from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.i18n import _
from app.schemas import Code, Name, StrictModel


class ApiKeyCreate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"role": "centre", "subject": "BJ01", "label": "北京考点报名系统"}],
            "description": "An admin key has no subject; a centre or department key names its "
            "centre or department code.",
            "oneOf": [
                {"properties": {"role": {"const": "admin"}, "subject": {"type": "null"}}},
                {
                    "properties": {
                        "role": {"enum": ["centre", "department"]},
                        "subject": {"type": "string"},
                    },
                    "required": ["subject"],
                },
            ],
        }
    )

    role: Literal["admin", "centre", "department"]
    subject: Code | None = Field(
        None, description="the centre code (role centre) or department code (role department)"
    )
    label: Name | None = None

    @model_validator(mode="after")
    def _subject_matches_role(self) -> ApiKeyCreate:
        if self.role == "admin" and self.subject is not None:
            raise ValueError(_("an admin key has no subject"))
        if self.role == "centre" and self.subject is None:
            raise ValueError(_("a centre key needs a subject (the centre code)"))
        if self.role == "department" and self.subject is None:
            raise ValueError(_("a department key needs a subject (the department code)"))
        return self


class ApiKeyOut(BaseModel):
    id: str
    role: str
    subject: str | None
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(..., description="the bearer key; shown only in this response")
