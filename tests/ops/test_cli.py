"""The command reads well: --version, serve --host/--port, every summary whole on one line, no
markup shown, lines not wrapped at 80 columns when piped."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import click
import typer.main

from app.cli import cli

ONEEXAM = [sys.executable, "-m", "app.cli"]


def _help(*args: str) -> str:
    done = subprocess.run(
        [*ONEEXAM, *args, "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def test_version() -> None:
    done = subprocess.run([*ONEEXAM, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.strip() == f"oneexam {version('oneexam')}"


def test_serve_takes_host_and_port() -> None:
    text = _help("serve")
    assert "--host" in text and "--port" in text


def test_every_command_summary_is_one_whole_line_without_markup() -> None:
    group = typer.main.get_group(cli)
    listings = {"": (_help(), group.commands)}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            listings[name] = (_help(name), command.commands)
    for page, (text, commands) in listings.items():
        lines = text.splitlines()
        for name, command in commands.items():
            summary = command.get_short_help_str(limit=1000)
            assert any(summary in line for line in lines), (page, name, summary)
        assert "``" not in text and ":class:" not in text, page
        assert any(len(line) > 80 for line in lines), page  # not wrapped at 80 when piped
