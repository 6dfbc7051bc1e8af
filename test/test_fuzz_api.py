"""Schemathesis against a real web process: no 5xx, every 4xx of a JSON route in the error shape.

Every JSON operation in docs/openapi.yaml gets schema-valid and schema-violating requests (wrong
types, missing fields, odd strings) from two identities — a signed-in guest (session cookie, so
CSRF rules apply to non-JSON writes) and the operator token — against the nest ``main`` and a
real temporary nest as well as random codes. Bounded: a fixed number of examples per operation,
derandomized (the same requests every run), no shrinking, no deadline. Marker ``fuzz``:
``make test-fuzz``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from servers import Guest, web_server

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(300)]

SPEC = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
TOKEN = "fuzz-operator-token-0123456789"
EXAMPLES = 5           # per operation, generation mode and nest target
SKIPPED_TAGS = {"pages", "sign-in", "realtime"}  # HTML, sign-out, or streams that never end
# Room for the fuzzer to reach the handlers instead of the limiter (limits have their own tests).
ROOMY_LIMITS = {name: [100000, 3600] for name in (
    "create_nest_user", "create_nest_ip", "guest_login_ip", "unknown_code_ip", "add_song_user",
    "airhorn_user", "comment_user", "spotify_user")}


def operations() -> list:
    schema = schemathesis.openapi.from_path(SPEC)
    found = []
    for result in schema.get_all_operations():
        op = result.ok()
        if SKIPPED_TAGS & set(op.definition.raw.get("tags", [])):
            continue
        found.append(op)
    return found


def problems_with(response: requests.Response) -> str | None:
    if response.status_code >= 500:
        return f"{response.status_code}: {response.text[:300]}"
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError:
            return f"{response.status_code} is not JSON: {response.text[:200]!r}"
        if not (isinstance(body, dict) and isinstance(body.get("error"), str)
                and isinstance(body.get("message"), str) and body["message"]):
            return f"{response.status_code} not in the error shape: {json.dumps(body)[:200]}"
    return None


def fuzz(base_url: str, session: requests.Session, targets: list[str]) -> list[str]:
    """Run every operation; the failures (operation, request, what was wrong), not raised."""
    failures: list[str] = []
    for op in operations():
        has_code = "{code}" in op.path
        for code in (targets if has_code else [None]):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                path_parameters = {"code": code} if code else None
                strategy = op.as_strategy(generation_mode=mode, path_parameters=path_parameters)

                @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                          phases=[Phase.explicit, Phase.generate],
                          suppress_health_check=list(HealthCheck))
                @given(strategy)
                def run(case) -> None:
                    response = case.call(base_url=base_url, session=session, timeout=15)
                    problem = problems_with(response)
                    if problem:
                        failures.append(f"{case.method} {case.path} {case.path_parameters} "
                                        f"{case.query} {case.body!r:.200}: {problem}")

                try:
                    run()
                except Unsatisfiable:
                    pass  # nothing to get wrong (e.g. negative mode for GET /health)
    return failures


@pytest.fixture(scope="module")
def server(redis_url):
    with web_server(redis_url, {"RATE_LIMITS": ROOMY_LIMITS, "NEST_MAX_ACTIVE": 200},
                    ECHONEST_API_TOKEN=TOKEN) as srv:
        yield srv


def test_fuzz_with_a_signed_in_session(server):
    guest = Guest(server.url, "Fuzzy")
    nest = guest.create_nest("Fuzzed")
    failures = fuzz(server.url, guest.http, [None, nest])  # None: random codes, and main
    assert not failures, "\n".join(failures[:30])
    assert requests.get(f"{server.url}/health", timeout=5).status_code == 200


def test_fuzz_with_the_operator_token(server):
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {TOKEN}"
    # Random codes were covered by the session run; the token moderates main.
    failures = fuzz(server.url, http, ["main"])
    assert not failures, "\n".join(failures[:30])
    assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
