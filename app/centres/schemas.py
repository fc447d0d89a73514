from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from app.clock import zone
from app.i18n import _
from app.schemas import Code, Label, Name, StrictModel


@cache
def zone_names() -> list[str]:
    """The IANA zone names this installation knows (the system's and ``tzdata``'s)."""
    return sorted(available_timezones())


def _known_zone(value: str) -> str:
    try:
        if value not in zone_names():
            raise ValueError(value)
        zone(value)
    except ValueError:
        raise ValueError(_("unknown time zone %(zone)s", zone=repr(value))) from None
    return value


TIME_ZONE_FORMAT = "iana-time-zone"
"""The JSON Schema ``format`` of a zone name: one of :func:`zone_names`."""

TimeZoneName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_known_zone),
    WithJsonSchema(
        {
            "type": "string",
            "format": TIME_ZONE_FORMAT,
            "description": "an IANA time zone name known to the service's tz database",
            "examples": ["Asia/Shanghai", "Asia/Urumqi"],
        }
    ),
]
"""An IANA time zone name."""


class CentreCreate(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "BJ01",
                    "name": "北京市职业技能鉴定中心",
                    "region": "北京市",
                    "timezone": "Asia/Shanghai",
                }
            ]
        }
    )

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
