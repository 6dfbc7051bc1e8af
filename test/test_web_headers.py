"""Every response carries the security headers; the page itself needs nothing the policy forbids
(the browser tests record any Content-Security-Policy refusal as a page error)."""

from web_support import make_app, user_client


def test_pages_api_and_static_files_carry_the_security_headers(r):
    app = make_app(r)
    stranger = app.test_client()
    alice = user_client(app, "alice@example.com")
    for client, path in ((stranger, "/login/"), (stranger, "/health"), (alice, "/"),
                         (alice, "/api/queue"), (stranger, "/static/js/app.js"),
                         (stranger, "/api/queue")):
        response = client.get(path)
        csp = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0], path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["X-Frame-Options"] == "DENY", path
