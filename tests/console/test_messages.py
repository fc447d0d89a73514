"""Every text of the console has a Chinese translation (gettext domain ``console``)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from app.console import i18n

CONSOLE = Path(i18n.__file__).resolve().parent


def console_messages() -> set[str]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true"}}
    found: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(CONSOLE),
        method_map,
        options_map=options,
        keywords={"_": None, "gettext": None, "N_": None},
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_the_console_has_texts_to_translate() -> None:
    assert len(console_messages()) > 50


def test_every_console_text_has_a_chinese_translation() -> None:
    chinese = i18n.catalogue(i18n.CHINESE)
    missing = sorted(m for m in console_messages() if m not in chinese)
    assert not missing, "no Chinese for:\n" + "\n".join(missing)


def test_chinese_keeps_every_placeholder() -> None:
    import re

    placeholder = re.compile(r"%\((\w+)\)s")
    for message, text in i18n.catalogue(i18n.CHINESE).items():
        assert set(placeholder.findall(message)) == set(placeholder.findall(text)), message


def test_dates_are_written_as_chinese_readers_expect() -> None:
    from datetime import UTC, date, datetime

    instant = datetime(2026, 12, 15, 1, 0, tzinfo=UTC)
    with i18n.speaking(i18n.CHINESE):
        assert i18n.when(instant, "Asia/Shanghai") == "2026年12月15日 09:00"
        assert i18n.day(date(2026, 12, 5)) == "2026年12月5日"
    with i18n.speaking(i18n.ENGLISH):
        assert i18n.when(instant, "Asia/Shanghai") == "15 Dec 2026, 09:00"
