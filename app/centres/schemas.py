from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from app.schemas import Code, Name, StrictModel


class CentreCreate(StrictModel):
    code: Code
    name: Name
    region: Name | None = None


class CentreOut(BaseModel):
    code: str
    name: str
    region: str | None
    created_at: datetime
