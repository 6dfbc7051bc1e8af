"""docs/openapi.yaml is valid OpenAPI 3.1 and describes exactly the routes the app serves."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from openapi_spec_validator import validate
from web_support import make_app

SPEC_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
METHODS = {"get", "post", "patch", "put", "delete"}
OUTSIDE_FLASK = {("GET", "/metrics")}  # answered by a WSGI wrapper ahead of the app


def load_spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def operations(spec: dict):
    """(path, method, operation) for every operation the description has."""
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def test_the_description_is_valid_openapi_3_1():
    spec = load_spec()
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_every_route_is_described_and_nothing_else(r):
    app = make_app(r)
    served = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((method, path))
    described = {(method.upper(), path) for path, method, _ in operations(load_spec())}
    assert described - OUTSIDE_FLASK == served


def test_every_json_error_answer_uses_the_error_shape():
    spec = load_spec()
    shared = spec["components"]["responses"]
    for path, method, op in operations(spec):
        for status, answer in op["responses"].items():
            if not status.startswith(("4", "5")) or path == "/health":
                continue  # /health's 503 is its own {"status": "degraded"} (docs/api.md)
            if "$ref" in answer:
                answer = shared[answer["$ref"].rsplit("/", 1)[-1]]
            json_body = answer.get("content", {}).get("application/json")
            if json_body is not None:
                assert json_body["schema"] == {"$ref": "#/components/schemas/Error"}, \
                    (method, path, status)


def test_protected_json_operations_document_401():
    for path, method, op in operations(load_spec()):
        if op.get("security") != [] and path.startswith("/api/"):
            assert "401" in op["responses"], (method, path)


def test_every_operation_documents_the_answers_the_server_can_give_before_any_route():
    # Header timeout (408) and an over-long request line (414) are written by the server for
    # any path; storage busy or down (503) can answer any route that reads Redis. Each is one
    # shared component, referenced — never a copy.
    spec = load_spec()
    shared = spec["components"]["responses"]
    for path, method, op in operations(spec):
        answers = op["responses"]
        assert answers.get("408") == {"$ref": "#/components/responses/RequestTimeout"}, \
            (method, path)
        assert answers.get("414") == {"$ref": "#/components/responses/UriTooLong"}, \
            (method, path)
        if path != "/health":  # its 503 is its own {"status": "degraded"}
            assert answers.get("503", {}).get("$ref") in (
                "#/components/responses/Unavailable",
                "#/components/responses/CatalogUnavailable"), (method, path)
    assert "Retry-After" in shared["Unavailable"]["headers"]
