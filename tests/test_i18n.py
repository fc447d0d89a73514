"""The API speaks Chinese when asked (docs/api.md §2 "Language"), and every message has its Chinese.

The messages are found the way ``pybabel extract -F babel.cfg`` finds them; the catalogue is
``app/i18n/locales/zh_CN/LC_MESSAGES/messages.po``. A message added in code without its Chinese
fails :func:`test_every_message_in_code_has_a_chinese_translation`; a message written as a plain
string where a client reads it fails :func:`test_client_facing_texts_are_marked_for_translation`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from pydantic_core import _pydantic_core

from app import i18n
from app.i18n.validation import TEMPLATES

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"
PO = APP / "i18n" / "locales" / "zh_CN" / "LC_MESSAGES" / "messages.po"
UPDATE = (
    "run: .venv/bin/pybabel extract -F babel.cfg --no-location --sort-output "
    "-o var/messages.pot . && .venv/bin/pybabel update -i var/messages.pot -d app/i18n/locales "
    "-D messages -l zh_CN --no-fuzzy-matching --ignore-obsolete, then translate (README, Languages)"
)
CJK = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff01-\uff5e]")
"""Chinese: a character, or Chinese punctuation (a separator's translation is only "；")."""
PERCENT = re.compile(r"%\((\w+)\)[sdr]")
BRACE = re.compile(r"\{(\w+)\}")


def extracted() -> dict[str, set[tuple[str | None, str]]]:
    """Every message in code, as ``pybabel extract -F babel.cfg .`` finds it: key -> files."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str, set[tuple[str | None, str]]] = {}
    for filename, _lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        msgid = message if isinstance(message, str) else message[0]
        key = f"{context}\x04{msgid}" if context else msgid
        found.setdefault(key, set()).add((context, filename))
    return found


def po_entries() -> list[Any]:
    with PO.open("rb") as fh:
        return [m for m in read_po(fh, locale="zh_CN", domain="messages") if m.id]


# ---------------------------------------------------------------- the catalogue ----------


def test_the_api_has_its_messages_in_the_catalogue() -> None:
    messages = extracted()
    assert len(messages) > 250  # problem texts, pydantic's messages, status words
    assert not any(name.startswith("console/") for files in messages.values() for _, name in files)


def test_every_message_in_code_has_a_chinese_translation() -> None:
    chinese = i18n.catalogue(i18n.CHINESE)
    missing = sorted(key.replace("\x04", " | ") for key in extracted() if key not in chinese)
    assert not missing, f"no Chinese for ({UPDATE}):\n" + "\n".join(missing)


def test_every_message_in_the_catalogue_is_translated() -> None:
    untranslated = [m.id for m in po_entries() if not m.string or m.fuzzy]
    assert not untranslated, "untranslated or fuzzy:\n" + "\n".join(map(str, untranslated))


def test_chinese_keeps_every_placeholder() -> None:
    for m in po_entries():
        assert set(PERCENT.findall(m.id)) == set(PERCENT.findall(m.string)), m.id
        # pydantic's templates: the Chinese may leave out a value (an English parser's detail)
        assert set(BRACE.findall(m.string)) <= set(BRACE.findall(m.id)), m.id


def test_every_translation_is_chinese() -> None:
    for m in po_entries():
        words = BRACE.sub("", PERCENT.sub("", m.string)).strip()
        if words:  # "{error}", "%(text)s": a message that is translated by itself
            assert CJK.search(words), (m.id, m.string)


def test_the_glossary_words_are_used() -> None:
    chinese = i18n.catalogue(i18n.CHINESE)
    expected = {
        "The candidate is already registered in this session.": "该考生已在本场次报名。",
        "No session %(session_id)s.": "未找到考试场次 %(session_id)s。",
        "request status\x04cancelled": "已撤回",
        "request status\x04rejected": "已驳回",
        "session status\x04finalised": "已发布",
        "Centre %(code)s already exists.": "考点 %(code)s 已存在。",
    }
    assert {k: chinese[k] for k in expected} == expected
    assert (
        "成绩更正"
        in chinese["contradicts the result recorded for %(section)s (%(was)s); amend it instead"]
    )


def test_pydantic_messages_are_the_installed_pydantic_templates() -> None:
    installed = {e["type"]: e["message_template_python"] for e in _pydantic_core.list_all_errors()}
    assert {t: str(m) for t, m in TEMPLATES.items()} == installed


# ------------------------------------------------------------- marked in code -------------

CHECKED_CALLS = {"ProblemItem", "HTTPException", "RowProblem", "InvalidIdNumber"}
"""Besides every subclass of AppError: calls whose message a client reads."""
SKIPPED = ("console/", "operator/", "i18n/")  # the console's own domain; the CLI importer


def _is_plain_text(node: ast.AST | None) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _is_plain_text(node.left) or _is_plain_text(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "format" and _is_plain_text(node.func.value)
    return False


def _sources() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(APP)): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(APP.rglob("*.py"))
        if not str(path.relative_to(APP)).startswith(SKIPPED)
    }


def _error_classes(trees: dict[str, ast.Module]) -> set[str]:
    names, grew = {"AppError"}, True
    while grew:
        grew = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    bases = {
                        b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")
                        for b in node.bases
                    }
                    if bases & names:
                        names.add(node.name)
                        grew = True
    return names


def _messages_of(node: ast.Call, name: str) -> list[ast.AST]:
    if name == "HTTPException":
        return node.args[1:2] + [k.value for k in node.keywords if k.arg == "detail"]
    if name in ("ProblemItem",):
        return [k.value for k in node.keywords if k.arg == "message"]
    if name == "RowProblem":
        return node.args[1:2] + [k.value for k in node.keywords if k.arg == "message"]
    return node.args[:1] + [k.value for k in node.keywords if k.arg == "detail"]


def _plain_texts(path: str, tree: ast.Module, errors: set[str]) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in errors:
            for statement in node.body:
                if isinstance(statement, ast.Assign):
                    targets = [t for t in statement.targets if isinstance(t, ast.Tuple | ast.Name)]
                    values = (
                        statement.value.elts
                        if isinstance(statement.value, ast.Tuple)
                        else [statement.value]
                    )
                    names = [
                        n.id
                        for t in targets
                        for n in (t.elts if isinstance(t, ast.Tuple) else [t])
                        if isinstance(n, ast.Name)
                    ]
                    for target, value in zip(names, values, strict=False):
                        if target == "title" and _is_plain_text(value):
                            found.append(f"{path}:{statement.lineno} title")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        checked = name in errors or name in CHECKED_CALLS
        if name == "ValueError" and path.endswith("schemas.py"):  # pydantic validators
            checked = True
        if checked:
            for message in _messages_of(node, name):
                if _is_plain_text(message):
                    found.append(f"{path}:{node.lineno} {name}")
    return found


def test_client_facing_texts_are_marked_for_translation() -> None:
    """A problem's detail, an item's message, a validator's message: ``_("...")``, never a
    plain string or an f-string (it would reach a Chinese reader in English)."""
    trees = _sources()
    errors = _error_classes(trees)
    assert {"NotFound", "SessionStarted", "InvalidUser"} <= errors
    found = [f for path, tree in trees.items() for f in _plain_texts(path, tree, errors)]
    assert not found, "write these as _(...) with %(name)s placeholders:\n" + "\n".join(found)


# ---------------------------------------------------------------- negotiation -------------


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, i18n.ENGLISH),
        ("", i18n.ENGLISH),
        ("zh", i18n.CHINESE),
        ("zh-CN", i18n.CHINESE),
        ("zh-Hans", i18n.CHINESE),
        ("zh-Hans-CN", i18n.CHINESE),
        ("ZH-cn", i18n.CHINESE),
        ("zh-CN,zh;q=0.9,en;q=0.8", i18n.CHINESE),
        ("en-US,en;q=0.9,zh-CN;q=0.8", i18n.ENGLISH),
        ("en;q=0.5, zh;q=0.9", i18n.CHINESE),
        ("zh;q=0, en", i18n.ENGLISH),
        ("fr, zh;q=0.5", i18n.CHINESE),
        ("fr", i18n.ENGLISH),
        ("*", i18n.ENGLISH),
        ("en", i18n.ENGLISH),
        ("de;q=x, zh", i18n.CHINESE),
        (";;,,", i18n.ENGLISH),
    ],
)
def test_the_language_is_negotiated_from_accept_language(header: str | None, language: str) -> None:
    assert i18n.negotiate(header) == language
