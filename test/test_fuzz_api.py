"""Schemathesis against a real web process: no 5xx, every 4xx of a JSON route in the error shape.

Every JSON operation in docs/openapi.yaml gets schema-valid and schema-violating requests (wrong
types, missing fields, odd strings) from two identities — a signed-in guest (session cookie, so
CSRF rules apply to non-JSON writes) and the operator token — against the nest ``main`` and a
real temporary nest as well as random codes. Bounded: a fixed number of examples per operation,
derandomized (the same requests every run), no shrinking, no deadline. Marker ``fuzz``:
``make test-fuzz``.

A second run chains requests (``NestLife``, a hypothesis state machine): create nest → add →
vote → remove → delete across nests and identities, with hostile bodies on real codes and ids.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
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


# --- chained requests: a state machine over the real HTTP API --------------------------------
# Single operations cannot reach the states that matter (a vote on a song someone else added, a
# remove after a vote, an action on a nest just deleted, one nest's item id used in another).
# Hypothesis drives create nest → add → vote → remove → delete with three identities (two
# signed-in guests, the operator token), mixes hostile bodies into the same endpoints with real
# codes and ids, and after every step checks that no answer was a 5xx, every 4xx is in the error
# shape, and every live nest's queue holds only what was added there, each vote total equal to
# its voters. No player runs, so nothing leaves a queue except by a remove or a vote.
STATEFUL_EXAMPLES = 15   # runs of the machine
STATEFUL_STEPS = 40      # steps per run
ACTIONS = ("songs", "vote", "remove", "comments", "jam", "skip", "clear")
HOSTILE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "up", "track_uri", "text", "name", "user"]) | st.text(max_size=8),
        inner, max_size=4),
    max_leaves=12)


def _uris(count: int) -> list[str]:
    from echonest.catalog.offline.loader import load

    return sorted(t.uri for t in load().tracks)[:count]


class NestLife(RuleBasedStateMachine):
    """One run: a fresh set of nests, driven by three people at once. ``server`` is set by the
    test before the run; ``failures`` collects what went wrong (asserted by the test)."""

    server = None
    actors: list[requests.Session] = []
    failures: list[str] = []
    uris: list[str] = []
    accepted: dict[str, int] = {}  # "METHOD /api/nests/{code}/action" → 2xx answers seen

    nests = Bundle("nests")
    items = Bundle("items")

    def __init__(self):
        super().__init__()
        self.live: dict[str, dict[str, bool]] = {}  # code → item id → "had a down vote"
        self.made: dict[str, set[str]] = {}  # code → every item id it ever gave out
        self.gone: set[str] = set()

    def call(self, actor: int, method: str, path: str, body=None) -> requests.Response:
        response = self.actors[actor].request(method, f"{self.server.url}{path}", json=body,
                                              timeout=15)
        problem = problems_with(response)
        if problem:
            self.failures.append(f"{method} {path} {body!r:.200}: {problem}")
        elif response.status_code < 300:
            shape = f"{method} " + "/".join(
                "{code}" if n == 3 else part for n, part in enumerate(path.split("/")))
            self.accepted[shape] = self.accepted.get(shape, 0) + 1
        return response

    @rule(target=nests, actor=st.integers(0, 2), name=st.text(max_size=30))
    def create(self, actor, name):
        response = self.call(actor, "POST", "/api/nests", {"name": name})
        if response.status_code != 200:
            return multiple()
        code = response.json()["code"]
        self.live[code] = {}
        return code

    @rule(target=items, actor=st.integers(0, 2), code=nests, pick=st.integers(0, 59))
    def add(self, actor, code, pick):
        response = self.call(actor, "POST", f"/api/nests/{code}/songs",
                             {"track_uri": self.uris[pick]})
        if response.status_code != 200:
            return multiple()
        item_id = response.json()["id"]
        self.live[code][item_id] = False
        self.made.setdefault(code, set()).add(item_id)
        return (code, item_id)

    @rule(actor=st.integers(0, 2), item=items, up=st.booleans(), elsewhere=nests)
    def vote(self, actor, item, up, elsewhere):
        code, item_id = item
        # Now and then the id is presented to another nest: it must not reach across.
        target = elsewhere if elsewhere != code and not up else code
        response = self.call(actor, "POST", f"/api/nests/{target}/vote", {"id": item_id, "up": up})
        # Ids count per nest: the same id may name another song there, never this one.
        if target != code and item_id not in self.made.get(target, set()) \
                and response.status_code < 400:
            self.failures.append(f"{item_id} of {code} was voted on in {target}")
        self.settle(target, "vote", {"id": item_id, "up": up}, response)

    @rule(actor=st.integers(0, 2), item=consumes(items))
    def remove(self, actor, item):
        code, item_id = item
        response = self.call(actor, "POST", f"/api/nests/{code}/remove", {"id": item_id})
        self.settle(code, "remove", {"id": item_id}, response)

    @rule(actor=st.integers(0, 2), code=consumes(nests))
    def delete(self, actor, code):
        response = self.call(actor, "DELETE", f"/api/nests/{code}", {})
        if response.status_code == 200:
            self.live.pop(code, None)
            self.gone.add(code)
        else:
            self.call(2, "DELETE", f"/api/nests/{code}", {})  # the operator cleans up
            self.live.pop(code, None)
            self.gone.add(code)

    @rule(actor=st.integers(0, 2), code=nests, action=st.sampled_from(ACTIONS), body=HOSTILE)
    def hostile(self, actor, code, action, body):
        self.settle(code, action, body, self.call(actor, "POST", f"/api/nests/{code}/{action}",
                                                  body))

    @rule(actor=st.integers(0, 2), item=items, action=st.sampled_from(ACTIONS), body=HOSTILE)
    def hostile_with_a_real_id(self, actor, item, action, body):
        code, item_id = item
        if isinstance(body, dict):
            body = {**body, "id": item_id}
        self.settle(code, action, body, self.call(actor, "POST", f"/api/nests/{code}/{action}",
                                                  body))

    def settle(self, code: str, action: str, body, response: requests.Response) -> None:
        """What an accepted action changed, in the model (a refused one changed nothing)."""
        expected = self.live.get(code)
        if response.status_code != 200 or expected is None:
            return
        item_id = body.get("id") if isinstance(body, dict) else None
        if action == "songs":
            expected[response.json()["id"]] = False
            self.made.setdefault(code, set()).add(response.json()["id"])
        elif action == "remove":
            expected.pop(item_id, None)
        elif action == "clear":
            expected.clear()
        elif action == "vote" and item_id in expected and body.get("up") is not True:
            expected[item_id] = True  # a down vote may drop it below the floor

    @invariant()
    def queues_hold_what_was_added_and_votes_add_up(self):
        for code, expected in self.live.items():
            response = self.call(2, "GET", f"/api/nests/{code}/queue")
            if response.status_code != 200:
                self.failures.append(f"live nest {code} answered {response.status_code}")
                continue
            queue = {item["id"]: item for item in response.json()["queue"]}
            if set(queue) - set(expected):
                self.failures.append(f"{code} holds items never added there: "
                                     f"{set(queue) - set(expected)}")
            lost = {i for i, voted_down in expected.items() if not voted_down} - set(queue)
            if lost:
                self.failures.append(f"{code} lost {lost}")
            for item in queue.values():
                votes = item.get("votes") or {}
                if item.get("vote") != sum(votes.values()) or len(votes) > 3:
                    self.failures.append(f"{code} {item['id']}: vote {item.get('vote')} "
                                         f"but voters {votes}")

    def teardown(self):
        for code in list(self.live):
            self.call(2, "DELETE", f"/api/nests/{code}", {})


def test_chained_requests_across_nests_keep_the_api_and_its_invariants(server):
    guests = [Guest(server.url, "Stateful A"), Guest(server.url, "Stateful B")]
    operator = requests.Session()
    operator.headers["Authorization"] = f"Bearer {TOKEN}"
    NestLife.server = server
    NestLife.actors = [guests[0].http, guests[1].http, operator]
    NestLife.failures = []
    NestLife.uris = _uris(60)
    NestLife.accepted = {}
    run_state_machine_as_test(NestLife, settings=settings(
        max_examples=STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS, deadline=None,
        derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck)))
    assert not NestLife.failures, "\n".join(NestLife.failures[:30])
    # The chain really ran: every step of it was accepted at least once (not only refusals).
    for shape in ("POST /api/nests", "POST /api/nests/{code}/songs", "POST /api/nests/{code}/vote",
                  "POST /api/nests/{code}/remove", "DELETE /api/nests/{code}"):
        assert NestLife.accepted.get(shape), (shape, NestLife.accepted)
    assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
