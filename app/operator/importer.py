"""CSV import against a running oneexam (``oneexam import registrations|results``).

Registrations: ``id_number,name,targets,held``. ``targets`` is a ``;``-separated list of
certificate codes; ``held`` a ``;``-separated list of ``CODE:NUMBER`` or
``CODE:NUMBER:VALID_UNTIL`` (a date). Rows are independent, as in the batch API: each row is
registered, found already registered (a duplicate, not an error), or refused with a reason.

Results: ``registration_id,section,score,passed``: one of ``score`` (a number) or ``passed``
(``true``/``false``). Instead of ``registration_id`` a row may name the candidate by
``id_number`` (and ``name``), as a centre's own mark sheet does; the importer finds the
registration in the session (not a withdrawn one). All or nothing: the whole file is checked
(``dry_run``) before anything is written, and a file with any bad row writes nothing. Identical
rows sent again are unchanged.

Files are read as UTF-8 (with or without a byte-order mark) or GBK/GB18030, whichever they
are; the files written are UTF-8 with a byte-order mark (Excel reads them as they are).
Every refused row goes to ``<file>.errors.csv`` beside the input, with the line and the
problem; registrations also get ``<file>.registered.csv`` mapping each line to its
registration id. ID numbers in these files are masked.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from app.rules import InvalidIdNumber, mask_id_number, normalise_id_number
from app.sessions.states import RegistrationStatus

REGISTRATION_BATCH = 1000
RESULT_BATCH = 5000
REGISTRATION_COLUMNS = ("id_number", "name", "targets", "held")
RESULT_COLUMNS = ("registration_id", "section", "score", "passed")

Progress = Callable[[int], None]


class ImportFailed(Exception):
    """The import could not run at all (unreachable server, bad key, unknown session)."""


@dataclass
class Report:
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_file: Path | None = None
    output_file: Path | None = None


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(f"{path.stem}.{suffix}.csv")


def _masked(value: str) -> str:
    try:
        return mask_id_number(normalise_id_number(value))
    except InvalidIdNumber:
        return "(invalid)"


def read_text(path: Path) -> str:
    """The file's text: UTF-8 (with or without a byte-order mark) or, failing that, GB18030
    (a superset of GBK, what Excel and WPS write on Chinese Windows)."""
    raw = path.read_bytes()
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportFailed(
            f"{path.name} is neither UTF-8 nor GBK/GB18030 text; save it as CSV (UTF-8)"
        ) from None


def count_rows(path: Path) -> int:
    return max(len(read_text(path).splitlines()) - 1, 0)


def _read(
    path: Path, columns: tuple[str, ...], required: tuple[str, ...] | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    fields = [f.strip() for f in reader.fieldnames or []]
    reader.fieldnames = fields
    missing = [c for c in required or columns[:2] if c not in fields]
    if missing:
        raise ImportFailed(
            f"{path.name}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}"
        )
    for line, row in enumerate(reader, start=2):
        yield line, {k: (v or "").strip() for k, v in row.items() if k}


def _write(path: Path, fieldnames: list[str], rows: list[dict[str, Any]]) -> Path:
    """UTF-8 with a byte-order mark, so that Excel shows the Chinese names."""
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.DictWriter(fh, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _problem_text(problem: dict[str, Any]) -> str:
    details = [
        f"{e.get('pointer') or e.get('parameter') or ''}: {e['message']}".lstrip(": ")
        for e in problem.get("errors") or []
    ]
    return "; ".join(details) or problem.get("detail") or problem.get("title", "refused")


class Api:
    """The running oneexam, with every failure to talk to it turned into one ImportFailed line."""

    def __init__(self, api: str, key: str, session_id: str) -> None:
        if not key:
            raise ImportFailed(
                "no API key: set ONEEXAM_API_KEY or pass --api-key (a centre or admin key)"
            )
        self.api, self.session_id = api.rstrip("/"), session_id
        self.http = httpx.Client(
            base_url=self.api, headers={"Authorization": f"Bearer {key}"}, timeout=300
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, f"/v1/sessions/{self.session_id}{path}", **kwargs)
        except httpx.TransportError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ImportFailed(
                f"cannot reach oneexam at {self.api} ({reason}): is it running? "
                "Set ONEEXAM_API_URL or --api-url"
            ) from None
        self._check(response)
        return response

    def _check(self, response: httpx.Response) -> None:
        status = response.status_code
        try:
            text = _problem_text(response.json())
        except ValueError:
            text = response.text[:200]
        if status == 401:
            raise ImportFailed(
                f"the API key was refused (401: {text}); set ONEEXAM_API_KEY or --api-key"
            )
        if status == 403:
            raise ImportFailed(f"this key may not import into this session (403: {text})")
        if status == 404:
            raise ImportFailed(
                f"no session {self.session_id} (404): check the id, and that it is a session "
                "of this key's centre"
            )
        if status == 413 or status >= 500:
            raise ImportFailed(f"the server answered {status}: {text}")


def _check(response: httpx.Response) -> dict[str, Any]:
    return response.json()  # type: ignore[no-any-return]


def parse_registration(row: dict[str, str]) -> dict[str, Any]:
    """One CSV row as a registration body; ValueError if the held column is malformed."""
    held = []
    for entry in filter(None, (h.strip() for h in row.get("held", "").split(";"))):
        parts = entry.split(":")
        if len(parts) not in (2, 3) or not all(parts[:2]):
            raise ValueError(f"held entry {entry!r} is not CODE:NUMBER or CODE:NUMBER:VALID_UNTIL")
        item: dict[str, Any] = {"certificate": parts[0], "number": parts[1]}
        if len(parts) == 3 and parts[2]:
            item["valid_until"] = date.fromisoformat(parts[2]).isoformat()
        held.append(item)
    targets = [t.strip() for t in row.get("targets", "").split(";") if t.strip()]
    return {
        "candidate": {"id_number": row.get("id_number", ""), "name": row.get("name", "")},
        "targets": targets,
        "held": held,
    }


def _who(line: int, row: dict[str, str]) -> dict[str, Any]:
    return {
        "line": line,
        "id_number": _masked(row.get("id_number", "")),
        "name": row.get("name", ""),
    }


Pending = list[tuple[int, dict[str, str], dict[str, Any]]]


def _parse_registrations(
    rows: list[tuple[int, dict[str, str]]], report: Report, progress: Progress | None
) -> Pending:
    """Rows as registration bodies; a malformed row becomes an error without reaching the API."""
    pending: Pending = []
    for line, row in rows:
        try:
            pending.append((line, row, parse_registration(row)))
        except ValueError as exc:
            report.errors.append({**_who(line, row), "status": 422, "problem": str(exc)})
            if progress:
                progress(1)
    return pending


def _settle_registration(
    who: dict[str, Any], item: dict[str, Any], report: Report, registered: list[dict[str, Any]]
) -> None:
    """One batch item: registered, already registered (a duplicate), or refused."""
    problem = item.get("problem") or {}
    if item["status"] == 201:
        report.created += 1
        registration_id, status = item["registration"]["id"], "registered"
    elif problem.get("type", "").endswith("/already-registered"):
        report.duplicates += 1
        registration_id, status = problem.get("registration_id", ""), "already registered"
    else:
        report.errors.append({**who, "status": item["status"], "problem": _problem_text(problem)})
        return
    registered.append({**who, "registration_id": registration_id, "status": status})


def import_registrations(
    api: str, key: str, session_id: str, path: Path, progress: Progress | None = None
) -> Report:
    report = Report()
    rows = list(_read(path, REGISTRATION_COLUMNS))
    report.rows = len(rows)
    registered: list[dict[str, Any]] = []
    pending = _parse_registrations(rows, report, progress)
    with Api(api, key, session_id) as http:
        for start in range(0, len(pending), REGISTRATION_BATCH):
            chunk = pending[start : start + REGISTRATION_BATCH]
            body = _check(
                http.call(
                    "POST",
                    "/registrations:batch",
                    json={"registrations": [c[2] for c in chunk]},
                )
            )
            for (line, row, _), item in zip(chunk, body["items"], strict=True):
                _settle_registration(_who(line, row), item, report, registered)
            if progress:
                progress(len(chunk))
    report.errors.sort(key=lambda e: e["line"])
    registered.sort(key=lambda r: r["line"])
    report.output_file = _write(
        _sibling(path, "registered"),
        ["line", "id_number", "name", "registration_id", "status"],
        registered,
    )
    if report.errors:
        report.error_file = _write(
            _sibling(path, "errors"),
            ["line", "id_number", "name", "status", "problem"],
            report.errors,
        )
    return report


def parse_result(row: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "registration_id": row.get("registration_id", ""),
        "section": row.get("section", ""),
    }
    score, passed = row.get("score", ""), row.get("passed", "").lower()
    if score and passed:
        raise ValueError("give a score or passed, not both")
    if score:
        result["score"] = float(score)
    elif passed in ("true", "1", "yes", "passed", "pass"):
        result["passed"] = True
    elif passed in ("false", "0", "no", "failed", "fail"):
        result["passed"] = False
    else:
        raise ValueError("give a score (a number) or passed (true/false)")
    return result


def _parse_results(
    rows: list[tuple[int, dict[str, str]]], report: Report
) -> list[tuple[int, dict[str, Any]]]:
    parsed: list[tuple[int, dict[str, Any]]] = []
    for line, row in rows:
        try:
            parsed.append((line, parse_result(row)))
        except ValueError as exc:
            report.errors.append(_result_error(line, row, str(exc)))
    return parsed


def _result_error(line: int, row: dict[str, Any], problem: str) -> dict[str, Any]:
    return {
        "line": line,
        "registration_id": row.get("registration_id", ""),
        "id_number": _masked(row["id_number"]) if row.get("id_number") else "",
        "section": row.get("section", ""),
        "problem": problem,
    }


def _registrations_by_person(http: Api) -> dict[tuple[str, str], list[str]]:
    """The session's registration ids by (masked ID number, name), read page by page; withdrawn
    ones take no results, so a person registered again after withdrawing has one."""
    found: dict[tuple[str, str], list[str]] = {}
    cursor = None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = http.call("GET", "/registrations", params=params).json()
        for item in page["items"]:
            if item["status"] == RegistrationStatus.WITHDRAWN:
                continue
            key = (item["candidate"]["id_number"], item["candidate"]["name"])
            found.setdefault(key, []).append(item["id"])
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def _resolve(
    http: Api, rows: list[tuple[int, dict[str, str]]], report: Report
) -> list[tuple[int, dict[str, str]]]:
    """Rows that name a candidate by ``id_number`` (and ``name``) instead of a registration id
    get the id of their registration in this session; a row matching none, or several, is an
    error."""
    if all(row.get("registration_id") for _, row in rows):
        return rows
    people = _registrations_by_person(http)
    resolved = []
    for line, row in rows:
        if not row.get("registration_id"):
            masked = _masked(row.get("id_number", ""))
            ids = {
                i
                for (m, name), ids in people.items()
                for i in ids
                if m == masked
                if not row.get("name") or name == row["name"]
            }
            if len(ids) != 1:
                why = "no registration" if not ids else "more than one registration"
                report.errors.append(
                    _result_error(line, row, f"{why} in this session for {masked}")
                )
                continue
            row = {**row, "registration_id": ids.pop()}
        resolved.append((line, row))
    return resolved


def _send_results(
    http: Api,
    chunks: list[list[tuple[int, dict[str, Any]]]],
    report: Report,
    progress: Progress | None,
) -> None:
    for chunk in chunks:  # check every chunk before writing any, and report every bad row
        response = http.call(
            "POST", "/results", params={"dry_run": "true"}, json={"results": [r for _, r in chunk]}
        )
        if response.status_code != 200:
            report.errors += _result_errors(chunk, response.json())
    if report.errors:
        return
    for chunk in chunks:
        body = _check(http.call("POST", "/results", json={"results": [r for _, r in chunk]}))
        if "created" not in body:
            raise ImportFailed(f"the server refused a checked batch: {_problem_text(body)}")
        report.created += body["created"]
        report.unchanged += body["unchanged"]
        if progress:
            progress(len(chunk))


def import_results(
    api: str, key: str, session_id: str, path: Path, progress: Progress | None = None
) -> Report:
    report = Report()
    rows = list(_read(path, RESULT_COLUMNS, required=("section",)))
    names = rows[0][1].keys() if rows else set()
    if rows and "registration_id" not in names and "id_number" not in names:
        raise ImportFailed(f"{path.name}: give a registration_id or an id_number column")
    report.rows = len(rows)
    with Api(api, key, session_id) as http:
        parsed = _parse_results(_resolve(http, rows, report), report)
        chunks = [parsed[i : i + RESULT_BATCH] for i in range(0, len(parsed), RESULT_BATCH)]
        _send_results(http, chunks, report, progress)
    if report.errors:
        report.errors.sort(key=lambda e: e["line"])
        report.error_file = _write(
            _sibling(path, "errors"),
            ["line", "registration_id", "id_number", "section", "problem"],
            report.errors,
        )
    return report


def _result_errors(
    chunk: list[tuple[int, dict[str, Any]]], problem: dict[str, Any]
) -> list[dict[str, Any]]:
    out = []
    for error in problem.get("errors") or [
        {"pointer": "", "message": problem.get("detail", "refused")}
    ]:
        pointer = error.get("pointer") or ""
        parts = pointer.split("/")
        index = (
            int(parts[2])
            if len(parts) > 2 and parts[1] == "results" and parts[2].isdigit()
            else None
        )
        line, row = chunk[index] if index is not None and index < len(chunk) else (0, {})
        out.append(_result_error(line, row, error["message"]))
    return out
