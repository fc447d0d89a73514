"""The OpenAPI document is written for people and says what the service enforces: every
operation has a summary and a description of its own, every request body an example that the
schema and the service's models both accept, the text patterns are exactly the validators, and
a 405 lists every method of its path."""

from __future__ import annotations

import unicodedata
from typing import Any

import jsonschema_rs
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from app.schemas import Label, Name, ShortText, Text, text_schemas
from tests.schemathesis_hooks import FORMATS
from tests.support import World

OPERATIONS = ("get", "put", "post", "patch", "delete")


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in OPERATIONS
    ]


def _generated_summary(operation_id: str) -> str:
    """What FastAPI writes when a route names no summary: ``decide`` -> ``Decide``."""
    return operation_id.replace("_", " ").title()


def test_every_operation_has_a_summary_and_a_description_written_for_people(
    client: TestClient,
) -> None:
    schema = client.get("/openapi.json").json()
    missing = []
    for method, path, operation in _operations(schema):
        summary = operation.get("summary", "")
        description = operation.get("description", "")
        if not summary or summary == _generated_summary(operation["operationId"]):
            missing.append(f"{method} {path}: summary {summary!r}")
        if len(description) < 20 or description == summary:
            missing.append(f"{method} {path}: description {description!r}")
    assert not missing, "\n".join(missing)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _body_examples(schema: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """The examples of a request body: on the media type, or on its schema (also when the body
    is optional, ``anyOf: [$ref, null]``)."""
    found = [e["value"] for e in media.get("examples", {}).values()]
    found += [media["example"]] if "example" in media else []
    body = _resolve(schema, media["schema"])
    for branch in [body, *body.get("anyOf", [])]:
        found += _resolve(schema, branch).get("examples", [])
    return found


def _body_models(client: TestClient) -> dict[str, Any]:
    """operationId -> the type FastAPI validates the body with."""
    models = {}
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema and route.body_field:
            models[route.name] = route.body_field.field_info.annotation
    return models


def test_every_request_body_has_an_example_the_schema_and_the_service_accept(
    client: TestClient,
) -> None:
    schema = client.get("/openapi.json").json()
    models = _body_models(client)
    without, invalid = [], []
    for method, path, operation in _operations(schema):
        media = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if media is None:
            continue
        examples = _body_examples(schema, media)
        if not examples:
            without.append(f"{method} {path}")
        validator = jsonschema_rs.validator_for(
            {**media["schema"], "components": schema["components"]},
            validate_formats=True,
            formats=FORMATS,
        )
        model = TypeAdapter(models[operation["operationId"]])
        for example in examples:
            errors = [e.message for e in validator.iter_errors(example)]
            try:
                model.validate_python(example)
            except ValidationError as exc:
                errors.append(str(exc))
            if errors:
                invalid.append(f"{method} {path}: {example}: {errors[:3]}")
    assert not without, "request bodies without an example:\n" + "\n".join(without)
    assert not invalid, "\n".join(invalid)


TEXTS = [("Name", Name), ("Label", Label), ("Text", Text), ("ShortText", ShortText)]
# Letters, digits, spaces (ASCII and ideographic), and what is refused: control characters,
# zero-width and direction marks, the byte order mark, a tag character beyond the BMP.
ALPHABET = st.sampled_from("a李1 \u3000\t\n\x00\x85\u200b\u202e\ufeff\U000e0041-·") | st.characters(
    exclude_categories=["Cs"]  # lone surrogates: not text (JSON cannot carry them as UTF-8)
)


@pytest.mark.parametrize(("kind", "annotation"), TEXTS)
@settings(max_examples=300, deadline=None)
@given(text=st.text(ALPHABET, min_size=1, max_size=12))
def test_each_kind_of_text_in_the_schema_accepts_exactly_what_its_validators_accept(
    kind: str, annotation: Any, text: str
) -> None:
    pattern = jsonschema_rs.validator_for(
        text_schemas()[kind], validate_formats=True, formats=FORMATS
    )
    try:
        TypeAdapter(annotation).validate_python(text)
        accepted = True
    except ValidationError:
        accepted = False
    assert pattern.is_valid(text) == accepted, [unicodedata.name(c, hex(ord(c))) for c in text]


def test_a_405_lists_every_method_of_its_path(world: World, client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, item in schema["paths"].items():
        if "{" in path:
            continue
        r = client.request("OPTIONS", path, headers=world.admin)
        assert r.status_code == 405, path
        allowed = {m.strip() for m in r.headers["allow"].split(",")}
        documented = {m.upper() for m in item if m in OPERATIONS}
        assert documented <= allowed <= documented | {"HEAD"}, (path, allowed)
