"""Cursor pagination: ``?limit=`` (default 50, max 500) and ``?cursor=``, answered with
``{items, next_cursor}``. Rows are ordered by their time-ordered id; the cursor is the last id
seen, encoded so that clients treat it as opaque (unpadded base64url: the documented pattern)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")
Row = TypeVar("Row")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_ID_CHARACTERS = re.compile(r"[A-Za-z0-9_.:-]{1,128}\Z")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page")


class PageParams(BaseModel):
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


CURSOR_PATTERN = "^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?$"
"""Unpadded base64url (RFC 4648 §5), what ``next_cursor`` is made of."""


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=CURSOR_PATTERN,
            description=(
                "the `next_cursor` of the previous page: unpadded base64url, opaque. A cursor "
                "that names no position of this list gives an empty page"
            ),
            examples=["c2VzXzAxOWFmMGI3"],
        ),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


Paging = Annotated[PageParams, Depends(page_params)]


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str | None:
    """The last id seen, or None when the cursor (of the documented form) names none: not
    UTF-8, or with characters no id has."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return value if _ID_CHARACTERS.match(value) else None


def fetch_page(
    db: Session,
    stmt: sa.Select[Any],
    id_column: InstrumentedAttribute[Any],
    params: PageParams,
) -> tuple[Sequence[Any], str | None]:
    """Run ``stmt`` ordered by ``id_column`` from the cursor on; return rows and next cursor."""
    if params.cursor:
        last = _typed(id_column, decode_cursor(params.cursor))
        if last is None:
            return [], None
        stmt = stmt.where(id_column > last)
    rows = db.scalars(stmt.order_by(id_column).limit(params.limit + 1)).all()
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        return rows, encode_cursor(str(getattr(rows[-1], id_column.key)))
    return rows, None


def _typed(column: InstrumentedAttribute[Any], value: str | None) -> Any:
    if value is not None and column.type.python_type is int:
        return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None
    return value
