"""Cursor pagination: ``?limit=`` (default 50, max 500) and ``?cursor=``, answered with
``{items, next_cursor}``. Rows are ordered by their time-ordered id; the cursor is the last id
seen, encoded so that clients treat it as opaque."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.errors import ProblemItem, Unprocessable
from app.i18n import _

T = TypeVar("T")
Row = TypeVar("Row")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page")


class PageParams(BaseModel):
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


Paging = Annotated[PageParams, Depends(page_params)]


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
        if not value:
            raise ValueError("empty cursor")
        return value
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Unprocessable(
            _("The cursor is not one this service issued."),
            errors=[ProblemItem(parameter="cursor", message=_("invalid cursor"))],
        ) from None


def fetch_page(
    db: Session,
    stmt: sa.Select[Any],
    id_column: InstrumentedAttribute[Any],
    params: PageParams,
) -> tuple[Sequence[Any], str | None]:
    """Run ``stmt`` ordered by ``id_column`` from the cursor on; return rows and next cursor."""
    if params.cursor:
        stmt = stmt.where(id_column > _typed(id_column, decode_cursor(params.cursor)))
    rows = db.scalars(stmt.order_by(id_column).limit(params.limit + 1)).all()
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        return rows, encode_cursor(str(getattr(rows[-1], id_column.key)))
    return rows, None


def _typed(column: InstrumentedAttribute[Any], value: str) -> Any:
    if column.type.python_type is int:
        if not value.isdigit():
            raise Unprocessable(
                _("The cursor is not one this service issued."),
                errors=[ProblemItem(parameter="cursor", message=_("invalid cursor"))],
            )
        return int(value)
    return value
