"""The pages of each role: routes gathered into one router."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.console.web import ConsoleRoute, csrf_guard

router = APIRouter(
    prefix="/console",
    route_class=ConsoleRoute,
    include_in_schema=False,
    dependencies=[Depends(csrf_guard)],
)
