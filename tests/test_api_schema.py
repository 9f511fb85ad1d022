"""The OpenAPI schema of /api/v1/ is valid and complete: generated without a warning and valid against the
OpenAPI specification; every operation has a Chinese summary, description and tag and documents the error
responses in the one error format; every parameter and field is described in Chinese; every example matches
its schema. A new endpoint that forgets any of this fails here.
"""

from __future__ import annotations

import copy
import os
import re

import jsonschema
import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from registry.api.schema import APP_TAGS

CJK = re.compile(r"[\u4e00-\u9fff]")
READ_ERRORS = {"400", "401", "403", "404", "429"}
WRITE_ERRORS = READ_ERRORS | {"409", "413", "415", "422"}
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", method, operation


def test_schema_generates_without_warnings_and_validates_against_openapi():
    GENERATOR_STATS.reset()  # warnings of an earlier generation in this process are not this run's
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", os.devnull)


def test_every_operation_has_a_chinese_summary_description_and_tag(schema):
    known_tags = {name for name, _text in APP_TAGS.values()}
    problems = []
    for label, _method, operation in _operations(schema):
        for key in ("summary", "description"):
            if not CJK.search(operation.get(key, "")):
                problems.append(f"{label}: no Chinese {key}")
        tags = operation.get("tags") or []
        if not tags or not set(tags) <= known_tags:
            problems.append(f"{label}: tags {tags} (expected one of {sorted(known_tags)})")
    assert not problems, "\n".join(problems)
    declared = {tag["name"]: tag.get("description", "") for tag in schema["tags"]}
    assert all(CJK.search(text) for text in declared.values()), declared


def test_every_parameter_and_field_is_described_in_chinese(schema):
    problems = []
    for label, _method, operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            text = parameter.get("description", "") + parameter.get("schema", {}).get("title", "")
            if not CJK.search(text):
                problems.append(f"{label}: parameter {parameter['in']} {parameter['name']}")
    for name, component in schema["components"]["schemas"].items():
        for field, spec in (component.get("properties") or {}).items():
            if not CJK.search(spec.get("title", "") + spec.get("description", "")):
                problems.append(f"component {name}: field {field}")
    assert not problems, "no Chinese title or description:\n" + "\n".join(problems)


def test_every_operation_documents_the_error_responses_in_the_error_format(schema):
    problems = []
    for label, method, operation in _operations(schema):
        expected = WRITE_ERRORS if method != "get" else READ_ERRORS
        for status in sorted(expected):
            response = operation["responses"].get(status)
            ref = (response or {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
            if ref != "#/components/schemas/Error":
                problems.append(f"{label}: {status} not documented with the Error body")
            elif not CJK.search(response.get("description", "")):
                problems.append(f"{label}: {status} without a Chinese description")
    assert not problems, "\n".join(problems)
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) >= {"code", "message", "message_en", "errors", "request_id"}


def _json_schema(node):
    """OpenAPI 3.0 schema objects as JSON Schema: ``nullable: true`` becomes a union with null."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def _examples(schema):
    """(where, value, schema) for every request and response example of every operation."""
    for label, _method, operation in _operations(schema):
        bodies = [("request", operation.get("requestBody", {}))]
        bodies += [(f"response {status}", response) for status, response in operation["responses"].items()]
        for where, body in bodies:
            for media_type, content in body.get("content", {}).items():
                for name, example in content.get("examples", {}).items():
                    yield f"{label} {where} {media_type} «{name}»", example["value"], content["schema"]


def test_every_example_matches_its_schema(schema):
    components = _json_schema(copy.deepcopy(schema["components"]))
    checked, problems = 0, []
    for where, value, body_schema in _examples(schema):
        validator = jsonschema.Draft202012Validator(
            {**_json_schema(body_schema), "components": components}, format_checker=jsonschema.FormatChecker()
        )
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        problems += [f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
        checked += 1
    assert not problems, "\n".join(problems)
    # The main bodies carry examples: payments, declarations, enrollments, cases, the person lookup, errors.
    assert checked >= 12, checked


def _routes(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def test_every_api_route_is_in_the_schema(schema):
    routes = {
        pattern.name or route
        for route, pattern in _routes(get_resolver().url_patterns)
        if route.startswith("api/v1/")
        and "format" not in pattern.pattern.regex.groupindex  # the router's .json suffix variants
        and pattern.name != "api-root"  # the router's index page, a list of links
    }
    matches = [resolve(re.sub(r"\{[^}]+\}", "1", path)) for path in schema["paths"]]
    documented = {match.url_name or match.route for match in matches}
    assert routes - documented == set()
