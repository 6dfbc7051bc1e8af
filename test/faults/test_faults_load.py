"""Concurrency faults against a real `make run` set: two workers and two web processes under
concurrent adds and votes, 500 abrupt disconnects, a burst of 500 reconnects, a delete under
writers. Each ends by comparing what listeners see with the truth; nothing is timed."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fault_support import Run, member_count, nest_state, track_uris
from servers import ROOT, WAIT, Guest, WSClient, eventually

from echonest import keys

# Hundreds of sockets on a shared two-core machine: slow, never stuck (the suite's 120 s
# default would cut a healthy run short).
pytestmark = [pytest.mark.faults, pytest.mark.timeout(400)]

SOCKETS = 500
GUESTS = 25  # guest sign-ins per IP are rate limited; sockets per guest make up the 500
# How long one of the burst's sockets may wait for its handshake and first state. A browser
# waits as long as it takes (static/js/socket.js sets no connect timeout), so the product's
# promise is "every socket served", not "within 15 s": on a quiet box the whole burst is served
# in ~1-2 s (~3 ms of web CPU per socket, measured), and with two CI runs on the same two
# cores the 500th handshake can wait past the usual WAIT. Bounded: a stuck server still fails.
BURST_PATIENCE = 120.0


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("load")
    with Run(tmp, USE_BENDER="false") as running:
        running.wait_healthy()
        yield running


@pytest.fixture(scope="module")
def guests(run):
    return [Guest(run.url, f"Guest {n}") for n in range(GUESTS)]


def _connect(run: Run, guest: Guest, path: str = "/socket",
             patience: float = WAIT) -> WSClient:
    ws = WSClient(run.ws_url, path, guest.cookie, timeout=patience)
    # Accepted *and* served: a socket that never gets state counts as lost.
    ws.initial_state(timeout=patience)
    return ws


def _connect_all(run: Run, owners: list[Guest], at_once: int = 100,
                 patience: float = WAIT) -> tuple[list[WSClient], list[BaseException]]:
    """Sockets in ``owners`` order (None where a connect failed) and every failure."""
    errors: list[BaseException] = []

    def one(guest: Guest) -> WSClient | None:
        try:
            return _connect(run, guest, patience=patience)
        except Exception as exc:  # every failure is counted, none hidden
            errors.append(exc)
            return None

    with ThreadPoolExecutor(max_workers=at_once) as pool:
        sockets = list(pool.map(one, owners))
    return [ws for ws in sockets if ws is not None] if errors else sockets, errors


def test_500_abrupt_disconnects_bring_member_counts_back_to_the_truth(run, guests):
    owners = [g for g in guests for _ in range(SOCKETS // GUESTS)]
    sockets, errors = _connect_all(run, owners)
    assert errors == [] and len(sockets) == SOCKETS
    assert eventually(lambda: member_count(guests[0]) == GUESTS, timeout=60)
    # Five people keep one tab open; every other socket vanishes without a close frame.
    keepers = [sockets[owner] for owner in {id(g): i for i, g in enumerate(owners)
                                             if g in guests[:5]}.values()]
    for ws in sockets:
        if ws not in keepers:
            ws.drop()
    try:
        assert eventually(lambda: member_count(guests[0]) == 5, timeout=300), \
            member_count(guests[0])
    finally:
        for ws in keepers:
            ws.close()
    assert eventually(lambda: member_count(guests[0]) == 0, timeout=120)


def test_a_burst_of_500_reconnects_serves_every_socket(run, guests):
    # A party's phones all reconnecting after a Wi-Fi blip.
    owners = [g for g in guests for _ in range(SOCKETS // GUESTS)]
    sockets, errors = _connect_all(run, owners, at_once=SOCKETS, patience=BURST_PATIENCE)
    try:
        assert [repr(e) for e in errors] == [] and len(sockets) == SOCKETS
        assert eventually(lambda: member_count(guests[0]) == GUESTS, timeout=60)
        # Every one of them is live: a change reaches all 500.
        uri = track_uris(1, skip=40)[0]
        assert guests[0].post_json("/api/nests/main/songs", {"track_uri": uri}).status_code == 200

        def shows_the_song(frame: dict) -> bool:
            # The player starts the song at once (nothing plays): a listener whose queue
            # event is read after that start sees the song as now playing, not queued. The
            # fan-out sends the state current when it reads, so either frame is the change.
            data = frame.get("data") or {}
            if frame.get("event") == "now_playing":
                return data.get("uri") == uri
            return frame.get("event") == "queue_update" and any(
                item["uri"] == uri for item in data.get("queue", []))

        def saw(ws: WSClient) -> bool:
            ws.wait_for(shows_the_song, timeout=60)
            return True

        with ThreadPoolExecutor(max_workers=100) as pool:
            assert all(pool.map(saw, sockets))
    finally:
        for ws in sockets:
            ws.drop()
    assert eventually(lambda: member_count(guests[0]) == 0, timeout=120)


def test_two_workers_and_two_web_processes_lose_no_add_and_no_vote(run, guests):
    people = guests[:6]
    client = run.engine_client()
    kwargs = client.connection_pool.connection_kwargs
    url = f"redis://:{kwargs['password']}@{kwargs['host']}:{kwargs['port']}/0"
    client.close()
    worker_log = run.log_path.with_name(f"worker2-{run.mark[:8]}.log")
    with worker_log.open("w") as out:
        second_worker = subprocess.Popen(
            [sys.executable, "-m", "master_player"], cwd=ROOT, stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT,
            env={**run.env, "REDIS_URL": url})  # the runner's settings: one deployment

    def why() -> str:  # who holds the main nest's bucket, and what both workers said
        from nests import MAIN_NEST_ID, player_bucket

        spy = run.engine_client()
        try:
            lease = spy.get(keys.player_bucket_lease(player_bucket(MAIN_NEST_ID)))
            workers = spy.zrange(keys.PLAYER_WORKERS, 0, -1, withscores=True)
        finally:
            spy.close()
        return (f"main's bucket lease: {lease}; workers: {workers}\n"
                f"second worker:\n{worker_log.read_text()[-4000:]}\n"
                f"runner:\n{run.log()[-4000:]}")

    try:
        queue, playing = nest_state(people[0])
        uris = track_uris(6 * 6, skip=60)
        if playing is None:  # one song plays, so everything added below stays queued
            warm = track_uris(1, skip=100)[0]
            assert people[0].post_json("/api/nests/main/songs",
                                       {"track_uri": warm}).status_code == 200
            # A song queued earlier (nothing played it yet) starts first: fair order.
            first = next(iter(queue), warm)
            assert eventually(lambda: nest_state(people[0])[1] == first, timeout=30), why()
        added: dict[str, tuple[int, str]] = {}
        lock = threading.Lock()

        def add(n: int) -> None:
            for uri in uris[n * 6:(n + 1) * 6]:
                resp = people[n].post_json("/api/nests/main/songs", {"track_uri": uri})
                assert resp.status_code == 200, resp.text
                with lock:
                    added[uri] = (n, resp.json()["id"])

        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(add, range(6)))

        def vote(n: int) -> None:
            for owner, item_id in added.values():
                if owner != n:
                    resp = people[n].post_json("/api/nests/main/vote", {"id": item_id, "up": True})
                    assert resp.status_code == 200, resp.text

        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(vote, range(6)))

        queue, _ = nest_state(people[0])
        assert {uri: item["id"] for uri, item in queue.items() if uri in added} == {
            uri: item_id for uri, (_, item_id) in added.items()}
        assert {uri: queue[uri]["vote"] for uri in added} == {uri: 5 for uri in added}
        assert all(len(queue[uri]["votes"]) == 5 for uri in added)
    finally:
        second_worker.terminate()
        second_worker.wait(30)


def test_deleting_a_nest_under_writers_leaves_nothing_behind(run, guests):
    host, writers = guests[10], guests[11:16]
    code = host.create_nest("Doomed Nest")
    nest_id = host.get(f"/api/nests/{code}").json()["id"]
    listeners = [_connect(run, g, f"/socket/{code}") for g in writers]
    uris = iter(track_uris(200, skip=200))
    uri_lock = threading.Lock()
    statuses: list[int] = []
    ok = threading.Semaphore(0)
    stop = threading.Event()

    def write(guest: Guest) -> None:
        for n in itertools.count():
            if stop.is_set():
                return
            with uri_lock:
                uri = next(uris)
            resp = guest.post_json(f"/api/nests/{code}/songs", {"track_uri": uri})
            statuses.append(resp.status_code)
            if resp.status_code == 200:
                ok.release()
                item_id = resp.json()["id"]
                statuses.append(guest.post_json(f"/api/nests/{code}/comments",
                                                {"id": item_id, "text": f"c{n}"}).status_code)
            if resp.status_code == 404:
                return  # the nest is gone: what every writer must end up seeing

    threads = [threading.Thread(target=write, args=(g,)) for g in writers]
    for thread in threads:
        thread.start()
    try:
        for _ in range(10):  # writers are busy before the delete lands
            assert ok.acquire(timeout=60)
        resp = host.http.delete(f"{run.url}/api/nests/{code}", json={}, timeout=10)
        assert resp.status_code == 200, resp.text
        for thread in threads:
            thread.join(120)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        for ws in listeners:
            ws.close()
    assert [s for s in statuses if s >= 500] == []
    assert host.get(f"/api/nests/{code}").status_code == 404
    client = run.engine_client()
    try:
        assert eventually(lambda: client.keys(f"NEST:{nest_id}|*") == [], timeout=30), \
            client.keys(f"NEST:{nest_id}|*")
        assert not client.hexists(keys.NESTS_REGISTRY, nest_id)
    finally:
        client.close()
