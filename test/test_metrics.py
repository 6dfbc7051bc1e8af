"""GET /metrics: Prometheus text for the whole deployment, to the operator or METRICS_TOKEN only."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families
from servers import Guest, WSClient, eventually, offline_track_uris, player_worker, web_server
from web_support import TOKEN, auth, make_app, sign_in, some_uris

from echonest import keys

METRICS_TOKEN = "metrics-token-0123456789"


def samples(text: str) -> list:
    return [s for fam in text_string_to_metric_families(text) for s in fam.samples]


def value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels``."""
    found = [s.value for s in samples(text) if s.name == name
             and all(s.labels.get(k) == v for k, v in labels.items())]
    assert found, f"no {name} {labels} in:\n{text}"
    return sum(found)


def test_strangers_sessions_and_wrong_tokens_get_401_in_the_error_shape(r):
    app = make_app(r, ECHONEST_API_TOKEN=TOKEN, METRICS_TOKEN=METRICS_TOKEN)
    client = app.test_client()
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.get_json()["error"] == "unauthorized" and anonymous.get_json()["message"]
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    sign_in(client, "alice@example.com")  # a signed-in person is not a scraper
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth("wrong")).status_code == 401
    assert client.post("/metrics", headers=auth()).status_code == 405


def test_operator_and_metrics_tokens_read_prometheus_text(r):
    app = make_app(r, ECHONEST_API_TOKEN=TOKEN, METRICS_TOKEN=METRICS_TOKEN)
    client = app.test_client()
    assert client.post("/api/nests", json={"name": "Counted"}, headers=auth()).status_code == 200
    listed = client.get("/api/nests", headers=auth()).get_json()["nests"]
    assert len(listed) == 2  # main and the new one
    for token in (TOKEN, METRICS_TOKEN):
        response = client.get("/metrics", headers=auth(token))
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.get_data(as_text=True)
        assert value(text, "echonest_nests") == len(listed)
        assert value(text, "echonest_metrics_redis_up") == 1
        assert value(text, "echonest_spotify_backoff_seconds") == 0


def test_actions_are_counted_by_name_and_outcome(r):
    app = make_app(r, ECHONEST_API_TOKEN=TOKEN)
    client = app.test_client()
    before = client.get("/metrics", headers=auth()).get_data(as_text=True)

    def count(text: str, outcome: str) -> float:
        found = [s.value for s in samples(text) if s.name == "echonest_actions_total"
                 and s.labels.get("action") == "add_song" and s.labels.get("outcome") == outcome]
        return sum(found)

    uri = some_uris(app, 1)[0]
    assert client.post("/api/nests/main/songs", json={"track_uri": uri},
                       headers=auth()).status_code == 200
    assert client.post("/api/nests/main/songs", json={"track_uri": uri},
                       headers=auth()).status_code == 409
    after = client.get("/metrics", headers=auth()).get_data(as_text=True)
    assert count(after, "ok") == count(before, "ok") + 1
    assert count(after, "already_queued") == count(before, "already_queued") + 1
    # Unknown action names are refused before counting: no label per attacker-chosen string.
    assert not [s for s in samples(after) if s.labels.get("action") == "no_such_action"]


def test_redis_round_trips_are_counted(r, redis_url):
    from echonest.store import connect

    # A fresh client like a web process has: connections made after instrumenting are counted.
    app = make_app(connect(redis_url), ECHONEST_API_TOKEN=TOKEN)
    client = app.test_client()
    client.get("/api/nests/main/queue", headers=auth())
    first = value(client.get("/metrics", headers=auth()).get_data(as_text=True),
                  "echonest_redis_round_trips_total")
    client.get("/api/nests/main/queue", headers=auth())
    second = value(client.get("/metrics", headers=auth()).get_data(as_text=True),
                   "echonest_redis_round_trips_total")
    assert second > first


def test_spotify_back_off_is_reported(r):
    app = make_app(r, ECHONEST_API_TOKEN=TOKEN)
    r.set(keys.SPOTIFY_RATE_LIMITED, "1", ex=40)
    text = app.test_client().get("/metrics", headers=auth()).get_data(as_text=True)
    assert 30 <= value(text, "echonest_spotify_backoff_seconds") <= 40


def test_any_web_process_reports_every_process_listeners_fanout_and_player(r, redis_url):
    """Two web processes and a player worker: one scrape of either shows all three."""
    conf = {"METRICS_TOKEN": METRICS_TOKEN}
    with web_server(redis_url, conf) as one, web_server(redis_url, conf) as two, \
            player_worker(redis_url):
        guest = Guest(two.url, "Mia")
        code = guest.create_nest("Metered")
        ws = WSClient(two.ws_url, f"/socket/{code}", guest.cookie)
        try:
            ws.initial_state()
            uri = offline_track_uris(1)[0]
            assert guest.post_json(f"/api/nests/{code}/songs", {"track_uri": uri}).ok
            ws.event("queue_update")
            headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}

            def scrape_shows_everyone():
                text = requests.get(f"{one.url}/metrics", headers=headers, timeout=10).text
                procs = {s.labels.get("process", "") for s in samples(text)}
                roles = {p.split(":")[0] for p in procs if p}
                listeners = [s.value for s in samples(text) if s.name == "echonest_listeners"
                             and s.value >= 1]
                passes = [s.value for s in samples(text)
                          if s.name == "echonest_player_pass_seconds_count" and s.value > 0]
                fanned = [s.value for s in samples(text)
                          if s.name == "echonest_events_fanned_out_total" and s.value > 0]
                ok = roles >= {"web", "player"} and len(procs) >= 3 and listeners \
                    and passes and fanned
                return text if ok else None

            # Web process two pushes its snapshot every 10 s (and at its first request).
            assert eventually(scrape_shows_everyone, timeout=25), \
                requests.get(f"{one.url}/metrics", headers=headers, timeout=10).text
        finally:
            ws.close()
