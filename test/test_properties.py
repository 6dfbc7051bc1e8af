"""Random action sequences across several nests keep the queue's invariants (hypothesis).

A plain Python model of each nest's queue (fair round-robin insert, one-slot vote moves,
caps, permissions) runs beside the real dispatcher on the real engine. After every step the
real queue must equal the model: same items in the same order, every ``vote`` total equal to
the sum of its voters' votes, no temporary nest over its cap, and every key in Redis under its
own nest's prefix or a declared global family.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import CONF
from echonest import keys
from echonest.actions import ActionContext, dispatch
from echonest.errors import EchoNestError
from echonest.web.auth import User

USERS = [User(id=f"u{n}@example.com", name=f"U{n}", email=f"u{n}@example.com", kind="google")
         for n in range(3)]
CAP = 3
ROOMY = {name: [100000, 3600] for name in CONF.RATE_LIMITS}
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

# Step kinds and how often they come: adds dominate so queues grow enough for order, votes
# and caps to mean something.
WEIGHTS = {"add": 35, "vote": 16, "jam": 7, "comment": 7, "remove": 10, "skip": 5, "clear": 4,
           "advance": 6}


def random_steps(rnd, count: int) -> list[tuple]:
    """(action, nest, user, pick[, up]) tuples; pick is a URI choice or an item choice."""
    kinds = list(WEIGHTS)
    steps = []
    for _ in range(count):
        action = rnd.choices(kinds, weights=[WEIGHTS[k] for k in kinds])[0]
        steps.append((action, rnd.randrange(3), rnd.randrange(3), rnd.randrange(8),
                      rnd.random() < 0.6))
    return steps


class ModelNest:
    """What the queue must look like: [{id, user, uri, votes}] in order, and what plays."""

    def __init__(self, nest_id: str, creator: str | None, cap: int):
        self.nest_id, self.creator, self.cap = nest_id, creator, cap
        self.queue: list[dict] = []
        self.playing: str | None = None
        self.playing_uri: str | None = None
        self.next_id = 1

    def pick(self, n: int) -> str:
        """Mostly a queued item's id; n = 6 the playing song, n = 7 an id that is nowhere."""
        if n < 6 and self.queue:
            return self.queue[n % len(self.queue)]["id"]
        if n == 6 and self.playing:
            return self.playing
        return "999"

    def find(self, item_id: str) -> int | None:
        return next((i for i, it in enumerate(self.queue) if it["id"] == item_id), None)

    def add(self, user: str, uri: str) -> str:
        if self.cap and len(self.queue) >= self.cap:
            return "queue_full"
        if uri == self.playing_uri or any(it["uri"] == uri for it in self.queue):
            return "already_queued"  # the playing song cannot be queued again while it plays
        counts: dict[str, int] = {}
        rounds = []
        for it in self.queue:
            counts[it["user"]] = counts.get(it["user"], 0) + 1
            rounds.append(counts[it["user"]])
        mine = counts.get(user, 0) + 1
        pos = max((i + 1 for i, rnd in enumerate(rounds) if rnd <= mine), default=0)
        self.queue.insert(pos, {"id": str(self.next_id), "user": user, "uri": uri, "votes": {}})
        self.next_id += 1
        return "ok"

    def vote(self, user: str, item_id: str, up: bool) -> str:
        i = self.find(item_id)
        if i is None:
            return "not_found"
        item, direction = self.queue[i], 1 if up else -1
        if up and item["user"] == user:
            return "forbidden"
        if item["votes"].get(user) == direction:
            return "ok"
        item["votes"][user] = direction
        other = i - direction
        if 0 <= other < len(self.queue):
            self.queue[i], self.queue[other] = self.queue[other], self.queue[i]
        return "ok"

    def touch(self, item_id: str) -> str:
        return "ok" if self.find(item_id) is not None or item_id == self.playing else "not_found"

    def remove(self, user: str, item_id: str) -> str:
        i = self.find(item_id)
        if i is None:
            return "not_found"
        if self.queue[i]["user"] != user and user != self.creator:
            return "forbidden"
        del self.queue[i]
        return "ok"

    def clear(self, user: str) -> str:
        if user != self.creator:
            return "forbidden"
        self.queue = []
        return "ok"

    def advance(self) -> None:
        song = self.queue.pop(0) if self.queue else None
        self.playing = song["id"] if song else None
        self.playing_uri = song["uri"] if song else None


@pytest.fixture
def world(r):
    import nests
    from echonest.catalog import get_catalog

    previous = CONF.NEST_MAX_QUEUE_DEPTH
    CONF.NEST_MAX_QUEUE_DEPTH = CAP  # db.py reads the global CONF
    try:
        yield _world(r, nests, get_catalog)
    finally:
        CONF.NEST_MAX_QUEUE_DEPTH = previous


def _world(r, nests, get_catalog):

    conf = CONF.copy(NEST_MAX_QUEUE_DEPTH=CAP, RATE_LIMITS=ROOMY, USE_BENDER=False,
                     CATALOG="offline", NEST_MAX_ACTIVE=50)
    catalog = get_catalog(conf, r)
    uris = []
    for query in ("love", "night", "the", "a"):
        uris += [t.uri for t in catalog.search(query, limit=10) if t.uri not in uris]
    return r, conf, catalog, nests.NestManager(r, conf=conf), uris[:8]


def check_invariants(r, models: list[ModelNest], db_for) -> None:
    for model in models:
        body = db_for(model.nest_id).queue_body()
        real = [(it["id"], it["user"], it["uri"]) for it in body["queue"]]
        assert real == [(it["id"], it["user"], it["uri"]) for it in model.queue], model.nest_id
        for item, expected in zip(body["queue"], model.queue, strict=True):
            assert item["votes"] == expected["votes"]
            assert item["vote"] == sum(item["votes"].values())
        if model.cap:
            assert len(body["queue"]) <= model.cap
    prefixes = tuple(keys.nest_prefix(m.nest_id) for m in models)
    for key in r.scan_iter(count=500):
        assert key.startswith(prefixes) or key.startswith("NESTS|") \
            or key in keys.GLOBAL_KEYS, key


@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rnd=st.randoms(use_true_random=False), count=st.integers(20, 80))
def test_random_actions_across_nests_keep_the_invariants(world, rnd, count):
    run_steps(world, random_steps(rnd, count))


def test_each_rule_is_exercised_by_a_known_sequence(world):
    """The rules the model encodes, on purpose: fair rounds, vote moves, the cap, permissions."""
    run_steps(world, [("add", 1, 0, 1, True), ("add", 1, 0, 2, True), ("add", 1, 1, 3, True),
                      ("vote", 1, 2, 2, True), ("vote", 1, 1, 0, False),
                      ("add", 1, 2, 4, True), ("add", 1, 2, 5, True), ("remove", 1, 1, 0, True),
                      ("clear", 1, 1, 0, True), ("add", 0, 1, 1, True), ("clear", 0, 0, 0, True),
                      ("advance", 1, 0, 0, True), ("jam", 1, 2, 6, True),
                      ("comment", 1, 1, 6, True), ("clear", 1, 0, 0, True)])


def run_steps(world, steps: list[tuple]) -> None:
    from db import DB

    r, conf, catalog, manager, uris = world
    r.flushdb()
    manager.ensure_main()
    creator = USERS[0].id
    temp = [manager.create_nest(creator, name=f"Prop {n}")["id"] for n in range(2)]
    models = [ModelNest("main", None, 0)] + [ModelNest(n, creator, CAP) for n in temp]

    def db_for(nest_id: str) -> DB:
        return DB(nest_id=nest_id, init_history_to_redis=False, redis_client=r)

    now, fresh = T0, 0
    for action, nest, who, pick, up in steps:
        model = models[nest]
        if action == "advance":
            now += timedelta(days=1)
            db_for(model.nest_id).advance(now)
            model.advance()
            check_invariants(r, models, db_for)
            continue
        user = USERS[who]
        ctx = ActionContext(nest_id=model.nest_id, user=user, redis=r, catalog=catalog,
                            nest_manager=manager, conf=conf, db_factory=db_for)
        item_id = model.pick(pick)
        if action == "add":  # pick chooses a URI here: 0-3 the next one round, else a fixed one
            fresh += pick < 4
            uri = uris[(fresh if pick < 4 else pick) % len(uris)]
            name, args, expected = "add_song", {"track_uri": uri}, model.add(user.id, uri)
        elif action == "vote":
            name, args, expected = "vote", {"id": item_id, "up": up}, \
                model.vote(user.id, item_id, up)
        elif action == "jam":
            name, args, expected = "jam", {"id": item_id}, model.touch(item_id)
        elif action == "comment":
            name, args, expected = "add_comment", {"id": item_id, "text": "nice"}, \
                model.touch(item_id)
        elif action == "remove":
            name, args, expected = "kill", {"id": item_id}, model.remove(user.id, item_id)
        elif action == "skip":
            name, args, expected = "kill_playing", {}, "ok"
        else:
            name, args, expected = "nuke_queue", {}, model.clear(user.id)
        try:
            dispatch(ctx, name, args)
            outcome = "ok"
        except EchoNestError as exc:
            outcome = exc.code
        assert outcome == expected, (action, nest, who, pick, up, outcome)
        check_invariants(r, models, db_for)
