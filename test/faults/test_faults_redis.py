"""Redis dies under `make run` and comes back: nothing acknowledged is lost, the player says so
once (issue 10 findings 6 and item 3), with an external server and with the embedded engine."""

from __future__ import annotations

import os
import re
import signal

import pytest
from fault_support import Run, nest_state, track_uris
from servers import Guest, eventually

from echonest.engine import EmbeddedEngine

pytestmark = pytest.mark.faults


def _fill(run: Run) -> tuple[list[Guest], dict[str, dict]]:
    """A playing song, ten queued ones, some votes; returns the guests and the truth."""
    alice, bob = Guest(run.url, "Alice"), Guest(run.url, "Bob")
    warm_up, *uris = track_uris(11)
    assert alice.post_json("/api/nests/main/songs", {"track_uri": warm_up}).status_code == 200
    assert eventually(lambda: nest_state(alice)[1] == warm_up, timeout=30)
    truth: dict[str, dict] = {}
    for n, uri in enumerate(uris):
        who = alice if n < 5 else bob
        item = who.post_json("/api/nests/main/songs", {"track_uri": uri})
        assert item.status_code == 200, item.text
        truth[uri] = {"id": item.json()["id"], "vote": 0}
    for uri in uris[:3]:  # Bob likes three of Alice's
        assert bob.post_json("/api/nests/main/vote",
                             {"id": truth[uri]["id"], "up": True}).status_code == 200
        truth[uri]["vote"] = 1
    assert alice.post_json("/api/nests/main/vote",
                           {"id": truth[uris[5]]["id"], "up": False}).status_code == 200
    truth[uris[5]]["vote"] = -1
    return [alice, bob], {"playing": warm_up, "queue": truth}


def _matches(guest: Guest, truth: dict) -> bool:
    try:
        queue, playing = nest_state(guest)
    except Exception:
        return False
    return playing == truth["playing"] and {
        uri: {"id": item["id"], "vote": item["vote"]} for uri, item in queue.items()
    } == truth["queue"]


def _player_lines(run: Run, text: str) -> int:
    return len(re.findall(rf"master_player WARNING {text}", run.log()))


def test_an_external_redis_killed_and_restarted_loses_nothing(tmp_path):
    engine = EmbeddedEngine(tmp_path / "redis", persist=True).start()
    port = engine.port
    try:
        with Run(tmp_path, REDIS_URL=engine.url, USE_BENDER="false") as run:
            run.wait_healthy()
            (alice, bob), truth = _fill(run)
            before = run.children()

            engine.process.kill()
            engine.process.wait()
            engine.stop()
            # The player notices (one line), and keeps quiet for as long as Redis is away.
            assert eventually(lambda: _player_lines(run, "Redis unreachable"), timeout=30)
            engine = EmbeddedEngine(tmp_path / "redis", port=port, persist=True).start()

            assert eventually(lambda: _player_lines(run, "Redis connection back"), timeout=30)
            assert eventually(lambda: _matches(alice, truth), timeout=30), nest_state(alice)
            assert _player_lines(run, "Redis unreachable") == 1
            assert _player_lines(run, "Redis connection back") == 1
            # Nobody restarted: the same processes serve, and a new add just works.
            assert run.proc.poll() is None and run.children() == before
            extra = track_uris(1, skip=20)[0]
            resp = bob.post_json("/api/nests/main/songs", {"track_uri": extra})
            assert resp.status_code == 200, resp.text
            assert extra in nest_state(alice)[0]
    finally:
        engine.stop()


def test_the_embedded_engine_killed_under_make_run_loses_nothing(tmp_path):
    with Run(tmp_path, USE_BENDER="false") as run:
        run.wait_healthy()
        (alice, _), truth = _fill(run)
        engine = next(pid for pid, cmd in run.children().items() if "valkey-server" in cmd)
        os.kill(engine, signal.SIGKILL)
        # No silent restart: the runner says so and stops the whole set, leaving nothing.
        assert run.proc.wait(60) == 1
        assert "engine exited" in run.log()
        assert run.wait_all_gone() == {}

    with Run(tmp_path, data_dir=run.data_dir, name="again", USE_BENDER="false") as again:
        again.wait_healthy()
        assert _matches(alice.use(again.url), truth), nest_state(alice.use(again.url))
