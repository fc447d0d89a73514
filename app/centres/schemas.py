from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, WithJsonSchema

from app.clock import zone
from app.i18n import _
from app.schemas import Code, Label, Name, StrictModel


def _known_zone(value: str) -> str:
    try:
        zone(value)
    except ValueError:
        raise ValueError(_("unknown time zone %(zone)s", zone=repr(value))) from None
    return value


TimeZoneName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_known_zone),
    WithJsonSchema({"type": "string", "examples": ["Asia/Shanghai", "Asia/Urumqi"]}),
]
"""An IANA time zone name."""


class CentreCreate(StrictModel):
    code: Code
    name: Name
    region: Label | None = None
    timezone: TimeZoneName | None = Field(
        None, description="IANA zone of the centre's sessions; default ONEEXAM_TIMEZONE"
    )


class CentreOut(BaseModel):
    code: str
    name: str
    region: str | None
    timezone: str
    created_at: datetime
