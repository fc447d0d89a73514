"""Fixtures of the results tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import make_settings
from tests.receiver import Receiver
from tests.support import World, build_world


@pytest.fixture
def delivering(fresh_database_url: str) -> Iterator[tuple[TestClient, World, Receiver]]:
    """The app with its delivery worker running and every department's webhook received."""
    with Receiver() as receiver:
        settings = make_settings(fresh_database_url, worker="embedded")
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            departments = ["mem", "mohurd", "mohrss", "samr"]
            world = build_world(client, {d: receiver.url(d) for d in departments})
            yield client, world, receiver
