"""The pages of each role: routes gathered into one router."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from app.console.web import ConsoleRoute, Person, csrf_guard, render, require_role

router = APIRouter(
    prefix="/console",
    route_class=ConsoleRoute,
    include_in_schema=False,
    dependencies=[Depends(csrf_guard)],
)


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, person: Person) -> Response:
    require_role(person, "admin")
    return render(request, "start.html", person=person)
