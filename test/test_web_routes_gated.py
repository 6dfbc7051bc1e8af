"""Every route but /health, /login/…, the OAuth callback and static files refuses strangers."""

from __future__ import annotations

from urllib.parse import urlsplit

from web_support import make_app

PUBLIC = {"static", "pages.health", "login.login_page", "login.guest_login",
          "login.google_start", "login.google_callback", "login.dev_login",
          # echonest-sync's onboarding and its unauthenticated search (test_legacy_client.py
          # shows each refusing strangers in its own way: feature off, not on the LAN)
          "sync.sync_token", "api_queue.search_v2"}
OWN_CHECKS = {"/api/sync-token", "/search/v2"}
SAMPLE_ARGS = {"code": "ABCDE", "filename": "js/app.js", "token_id": "0123456789abcdef",
               "track_id": "0123456789abcdef",
               "token": "some-invite"}


def _url(rule) -> str:
    return rule.build({name: SAMPLE_ARGS[name] for name in rule.arguments}, append_unknown=False)[1]


def test_every_non_public_route_refuses_an_anonymous_request(r):
    app = make_app(r, ECHONEST_API_TOKEN="")
    client = app.test_client()
    from echonest.web.auth import is_public_endpoint
    from echonest.web.errors import wants_json

    checked = 0
    public_seen = set()
    for rule in app.url_map.iter_rules():
        with app.app_context():
            public = is_public_endpoint(rule.endpoint, app)
        if public:
            public_seen.add(rule.endpoint)
            path = _url(rule)
            assert path == "/health" or path in OWN_CHECKS \
                or path.startswith(("/login/", "/static/")), path
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = _url(rule)
            # WebSocket rules only match an upgrade request; anything else is a routing 400.
            headers = {"Upgrade": "websocket", "Connection": "Upgrade"} if rule.websocket else {}
            response = client.open(path, method=method, headers=headers)
            checked += 1
            if wants_json(path):
                assert response.status_code == 401, (method, path, response.status_code)
                assert response.get_json()["error"] == "unauthorized", (method, path)
                assert "Location" not in response.headers
            else:
                assert response.status_code == 302, (method, path, response.status_code)
                target = urlsplit(response.headers["Location"])
                assert target.path == "/login/", (method, path)
    assert public_seen == PUBLIC
    assert checked > 40  # the whole API was walked, not an empty map


def test_public_routes_answer_strangers(r):
    client = make_app(r).test_client()
    assert client.get("/health").get_json() == {"status": "ok", "redis": True}
    assert client.get("/login/").status_code == 200
    assert client.get("/static/js/theme-boot.js").status_code == 200


def test_json_routes_are_exactly_the_api_and_legacy_ones():
    from echonest.web.errors import wants_json

    for path in ("/api/nests", "/api", "/socket", "/socket/ABCDE", "/queue/", "/playing/",
                 "/search/v2", "/add_song", "/jam", "/blast_airhorn", "/health"):
        assert wants_json(path), path
    for path in ("/", "/nest/ABCDE", "/ABCDE", "/jam-session", "/socketry", "/apiary",
                 "/healthy-beats", "/login/"):
        assert not wants_json(path), path


def test_a_stranger_on_a_vanity_link_that_looks_like_a_route_is_sent_to_sign_in(r):
    client = make_app(r).test_client()
    response = client.get("/jam-session")
    assert response.status_code == 302 and "/login/?next=/jam-session" in response.headers["Location"]


def test_unknown_api_routes_are_json_not_redirects(r):
    client = make_app(r).test_client()
    response = client.get("/api/no/such/thing")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_first_request_builds_clients_lazily_without_deadlock(r):
    """Nothing connects at creation; the first page builds Redis inside the nest manager."""
    import threading

    from web_support import make_conf, sign_in

    from app import create_app

    app = create_app(make_conf())  # no injected client: the real lazy path
    assert "redis" not in app.extensions.get("echonest", {})
    client = app.test_client()
    sign_in(client, "ann@example.com")
    result = {}
    worker = threading.Thread(target=lambda: result.update(page=client.get("/").status_code))
    worker.start()
    worker.join(30)
    assert result.get("page") == 200
    assert app.extensions["echonest"]["redis"].ping()
