from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.centres.models import Centre
from app.centres.schemas import CentreCreate
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.i18n import _
from app.pagination import PageParams, fetch_page


def create(*, db: Session, data: CentreCreate, default_timezone: str) -> Centre:
    if db.get(Centre, data.code) is not None:
        raise Conflict(_("Centre %(code)s already exists.", code=data.code))
    centre = Centre(
        code=data.code,
        name=data.name,
        region=data.region,
        timezone=data.timezone or default_timezone,
        created_at=utcnow(),
    )
    db.add(centre)
    try:
        db.flush()
    except IntegrityError:
        raise Conflict(_("Centre %(code)s already exists.", code=data.code)) from None
    return centre


def get(*, db: Session, code: str) -> Centre:
    centre = db.get(Centre, code)
    if centre is None:
        raise NotFound(_("No centre %(code)s.", code=code))
    return centre


def list_centres(*, db: Session, page: PageParams) -> tuple[Sequence[Centre], str | None]:
    return fetch_page(db, sa.select(Centre), Centre.code, page)
