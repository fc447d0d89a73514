"""Exports by content negotiation: list endpoints answer ``Accept: text/csv`` or the xlsx media
type with every row at once (no paging), for Excel and for the people a centre reports to.

- CSV is UTF-8 with a byte-order mark (so that Excel on Chinese Windows reads the names), one
  header row, ``;`` between the items of a list cell.
- xlsx is one sheet, a bold header row and frozen panes (openpyxl).
- Column headers are Chinese when ``Accept-Language`` prefers ``zh``, English otherwise; the
  values (codes, statuses, identifiers) are the API's own.
- ID numbers are masked, as in every response.

A router asks for :data:`ExportDep` and, when it is not ``None``, returns
``export.respond(rows)`` (rows from :func:`every_page`) instead of its JSON page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from app import i18n
from app.pagination import MAX_LIMIT, PageParams

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON = "application/json"
Format = Literal["csv", "xlsx"]
Row = TypeVar("Row")


@dataclass(frozen=True)
class Column:
    key: str
    en: str
    zh: str


def _ranked(header: str) -> list[tuple[float, int, str]]:
    """``Accept``/``Accept-Language`` ranges by preference (q, then order), lower-cased."""
    ranked = []
    for order, part in enumerate(header.split(",")):
        value, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, number = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(number)
                except ValueError:
                    q = 0.0
        if value and q > 0:
            ranked.append((-q, order, value.lower()))
    return sorted(ranked)


def negotiate(accept: str) -> Format | None:
    """``csv`` or ``xlsx`` when the client prefers it to JSON; ``None`` for JSON."""
    for _, _, media in _ranked(accept):
        if media == CSV:
            return "csv"
        if media == XLSX:
            return "xlsx"
        if media in (JSON, "application/*", "*/*", "application/problem+json"):
            return None
    return None


def prefers_chinese(accept_language: str) -> bool:
    """The same choice as the problems' language (:func:`app.i18n.negotiate`)."""
    return i18n.negotiate(accept_language) == i18n.CHINESE


@dataclass(frozen=True)
class Export:
    format: Format
    chinese: bool

    def header(self, columns: Sequence[Column]) -> list[str]:
        return [c.zh if self.chinese else c.en for c in columns]

    def respond(
        self, columns: Sequence[Column], rows: Iterable[dict[str, Any]], name: str
    ) -> Response:
        cells = [[_cell(row.get(c.key)) for c in columns] for row in rows]
        if self.format == "csv":
            body, media = render_csv(self.header(columns), cells), f"{CSV}; charset=utf-8"
        else:
            body, media = render_xlsx(self.header(columns), cells, name), XLSX
        filename = f"{name}.{self.format}"
        return Response(
            body,
            media_type=media,
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Vary": "Accept, Accept-Language",
            },
        )


def _cell(value: Any) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def render_csv(header: list[str], cells: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(cells)
    return out.getvalue().encode("utf-8-sig")


def render_xlsx(header: list[str], cells: list[list[Any]], title: str) -> bytes:
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Font  # type: ignore[import-untyped]

    workbook = Workbook(write_only=False)
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in cells:
        sheet.append(row)
    sheet.freeze_panes = "A2"
    for index, name in enumerate(header, start=1):
        width = max([len(str(name)) * 2, *(len(str(r[index - 1])) for r in cells[:200])], default=8)
        sheet.column_dimensions[sheet.cell(1, index).column_letter].width = min(width + 2, 60)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def export_of(request: Request) -> Export | None:
    fmt = negotiate(request.headers.get("accept", ""))
    if fmt is None:
        return None
    return Export(fmt, prefers_chinese(request.headers.get("accept-language", "")))


ExportDep = Annotated[Export | None, Depends(export_of)]


def every_page(fetch: Callable[[PageParams], tuple[Sequence[Row], str | None]]) -> list[Row]:
    """All rows of a paged listing, page by page through the listing's own query and checks."""
    rows: list[Row] = []
    cursor: str | None = None
    while True:
        page, cursor = fetch(PageParams(limit=MAX_LIMIT, cursor=cursor))
        rows.extend(page)
        if cursor is None:
            return rows


def responses(description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` documenting the CSV and xlsx forms of a list endpoint's 200."""
    return {
        200: {
            "description": description,
            "content": {
                CSV: {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    }


REGISTRATION_COLUMNS = (
    Column("registration_id", "registration_id", "报名编号"),
    Column("id_number", "id_number", "身份证号"),
    Column("name", "name", "姓名"),
    Column("birth_date", "birth_date", "出生日期"),
    Column("certificate", "certificate", "报考证书"),
    Column("required_sections", "required_sections", "应考科目"),
    Column("exempt_sections", "exempt_sections", "免考科目"),
    Column("status", "status", "状态"),
)

OUTCOME_COLUMNS = (
    Column("registration_id", "registration_id", "报名编号"),
    Column("id_number", "id_number", "身份证号"),
    Column("name", "name", "姓名"),
    Column("certificate", "certificate", "证书"),
    Column("department", "department", "发证部门"),
    Column("status", "status", "结果"),
    Column("failed_sections", "failed_sections", "未通过科目"),
    Column("exempt_sections", "exempt_sections", "免考科目"),
    Column("issuance_request_id", "issuance_request_id", "发证申请编号"),
)


def registration_rows(items: Iterable[Any]) -> list[dict[str, Any]]:
    """One row per registration and target certificate (``RegistrationOut`` items)."""
    rows = []
    for item in items:
        for target in item.targets:
            rows.append(
                {
                    "registration_id": item.id,
                    "id_number": item.candidate.id_number,
                    "name": item.candidate.name,
                    "birth_date": item.candidate.birth_date,
                    "certificate": target,
                    "required_sections": item.required_sections,
                    "exempt_sections": [e.section for e in item.exemptions if e.target == target],
                    "status": item.status,
                }
            )
    return rows


def outcome_rows(items: Iterable[Any], people: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """One row per outcome (``OutcomeOut`` items); ``people`` maps a registration id to the
    masked ID number and the name."""
    rows = []
    for item in items:
        id_number, name = people.get(item.registration_id, ("", ""))
        rows.append(
            {
                **item.model_dump(include={"registration_id", "certificate", "department"}),
                "id_number": id_number,
                "name": name,
                "status": str(item.status),
                "failed_sections": item.failed_sections,
                "exempt_sections": [e.section for e in item.exemptions],
                "issuance_request_id": item.issuance_request_id,
            }
        )
    return rows


def outcomes_response(
    db: Session, *, export: Export, outcomes: Sequence[Any], name: str
) -> Response:
    """The export of ``Outcome`` rows, each with its candidate's masked ID number and name."""
    from app.results.schemas import outcome_out
    from app.sessions.models import Registration

    ids = sorted({o.registration_id for o in outcomes})
    people: dict[str, tuple[str, str]] = {}
    for start in range(0, len(ids), MAX_LIMIT):
        chunk = ids[start : start + MAX_LIMIT]
        for registration in db.scalars(sa.select(Registration).where(Registration.id.in_(chunk))):
            people[registration.id] = (registration.candidate.id_number_masked, registration.name)
    rows = outcome_rows((outcome_out(o) for o in outcomes), people)
    return export.respond(OUTCOME_COLUMNS, rows, name)
