"""CSV import against a running oneexam (``oneexam import registrations|results``).

Registrations: ``id_number,name,targets,held``. ``targets`` is a ``;``-separated list of
certificate codes; ``held`` a ``;``-separated list of ``CODE:NUMBER`` or
``CODE:NUMBER:VALID_UNTIL`` (a date). Rows are independent, as in the batch API: each row is
registered, found already registered (a duplicate, not an error), or refused with a reason.

Results: ``registration_id,section,score,passed``: one of ``score`` (a number) or ``passed``
(``true``/``false``). All or nothing: the whole file is checked (``dry_run``) before anything is
written, and a file with any bad row writes nothing. Identical rows sent again are unchanged.

Every refused row goes to ``<file>.errors.csv`` beside the input, with the line and the
problem; registrations also get ``<file>.registered.csv`` mapping each line to its
registration id. ID numbers in these files are masked.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from app.rules import InvalidIdNumber, mask_id_number, normalise_id_number

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


def _read(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns[:2] if c not in (reader.fieldnames or [])]
        if missing:
            raise ImportFailed(
                f"{path.name}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}"
            )
        for line, row in enumerate(reader, start=2):
            yield line, {k: (v or "").strip() for k, v in row.items() if k}


def _write(path: Path, fieldnames: list[str], rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
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


def _client(api: str, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=api.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=300
    )


def _check(response: httpx.Response) -> dict[str, Any]:
    if response.status_code in (401, 403, 404, 413):
        raise ImportFailed(f"{response.status_code}: {_problem_text(response.json())}")
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
    with _client(api, key) as http:
        for start in range(0, len(pending), REGISTRATION_BATCH):
            chunk = pending[start : start + REGISTRATION_BATCH]
            body = _check(
                http.post(
                    f"/v1/sessions/{session_id}/registrations:batch",
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


def import_results(
    api: str, key: str, session_id: str, path: Path, progress: Progress | None = None
) -> Report:
    report = Report()
    rows = list(_read(path, RESULT_COLUMNS))
    report.rows = len(rows)
    parsed: list[tuple[int, dict[str, Any]]] = []
    for line, row in rows:
        try:
            parsed.append((line, parse_result(row)))
        except ValueError as exc:
            report.errors.append(
                {
                    "line": line,
                    "registration_id": row.get("registration_id", ""),
                    "section": row.get("section", ""),
                    "problem": str(exc),
                }
            )
    chunks = [parsed[i : i + RESULT_BATCH] for i in range(0, len(parsed), RESULT_BATCH)]
    with _client(api, key) as http:
        if not report.errors:  # check every chunk before writing any
            for chunk in chunks:
                response = http.post(
                    f"/v1/sessions/{session_id}/results",
                    params={"dry_run": "true"},
                    json={"results": [r for _, r in chunk]},
                )
                body = _check(response)
                if response.status_code != 200:
                    report.errors += _result_errors(chunk, body)
        if not report.errors:
            for chunk in chunks:
                body = _check(
                    http.post(
                        f"/v1/sessions/{session_id}/results",
                        json={"results": [r for _, r in chunk]},
                    )
                )
                if "created" not in body:
                    raise ImportFailed(f"the server refused a checked batch: {_problem_text(body)}")
                report.created += body["created"]
                report.unchanged += body["unchanged"]
                if progress:
                    progress(len(chunk))
    if report.errors:
        report.errors.sort(key=lambda e: e["line"])
        report.error_file = _write(
            _sibling(path, "errors"),
            ["line", "registration_id", "section", "problem"],
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
        out.append(
            {
                "line": line,
                "registration_id": row.get("registration_id", ""),
                "section": row.get("section", ""),
                "problem": error["message"],
            }
        )
    return out
