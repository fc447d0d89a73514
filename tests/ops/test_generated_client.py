"""A Python client generated from the live schema in one command (the README's integrator
guide) works: it is generated offline from the running service, imports, and registers and
reads a centre with its own models."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ADMIN_KEY

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def test_a_client_generated_from_the_schema_calls_the_service(
    live,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--url",
            f"{live.url}/openapi.json",
            "--meta",
            "none",
            "--output-path",
            "oneexam_client",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout, done.stdout
    monkeypatch.syspath_prepend(str(tmp_path))

    client_module = importlib.import_module("oneexam_client")
    create_centre = importlib.import_module("oneexam_client.api.centres.create_centre")
    get_centre = importlib.import_module("oneexam_client.api.centres.get_centre")
    models = importlib.import_module("oneexam_client.models")

    with client_module.AuthenticatedClient(base_url=live.url, token=ADMIN_KEY) as client:
        created = create_centre.sync(
            client=client,
            body=models.CentreCreate(code="GZ01", name="广州市职业技能鉴定中心"),
        )
        assert isinstance(created, models.CentreOut), created
        read = get_centre.sync(code="GZ01", client=client)
    assert isinstance(read, models.CentreOut), read
    assert (read.code, read.name, read.timezone) == (
        "GZ01",
        "广州市职业技能鉴定中心",
        created.timezone,
    )
