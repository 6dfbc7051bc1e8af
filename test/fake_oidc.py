"""A fake Google: an OpenID Connect provider on 127.0.0.1 so the real Authlib client code runs.

Discovery, authorize (auto-approves and redirects back), token (an RS256-signed id_token that
echoes the nonce), JWKS and userinfo. Tests choose who signs in with ``provider.user``.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

from flask import Flask, abort, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "echonest-test-client"
CLIENT_SECRET = "echonest-test-secret"


class FakeOIDC:
    def __init__(self, client_id: str = CLIENT_ID):
        self.client_id = client_id
        self.key = RSAKey.generate_key(2048, parameters={"kid": "fake-key-1", "use": "sig",
                                                         "alg": "RS256"})
        self.user: dict[str, Any] = {"sub": "1001", "email": "ana@example.com",
                                     "email_verified": True, "name": "Ana Example",
                                     "picture": "https://example.com/ana.png"}
        self.nonce_override: str | None = None
        self.codes: dict[str, dict[str, Any]] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self._server = make_server("127.0.0.1", 0, self._app(), threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def start(self) -> FakeOIDC:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "aud": self.client_id, "iat": now, "exp": now + 600,
                  "nonce": nonce, **self.user}
        return jwt.encode({"alg": "RS256", "kid": "fake-key-1"}, claims, self.key)

    def _app(self) -> Flask:
        app = Flask("fake_oidc")

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify({
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "jwks_uri": f"{self.url}/jwks",
                "userinfo_endpoint": f"{self.url}/userinfo",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"],
            })

        @app.get("/authorize")
        def authorize():
            args = request.args.to_dict()
            self.authorize_requests.append(args)
            if args.get("client_id") != self.client_id or args.get("response_type") != "code":
                abort(400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"nonce": args.get("nonce", ""),
                                "redirect_uri": args.get("redirect_uri")}
            query = urlencode({"code": code, "state": args.get("state", "")})
            return redirect(f"{args['redirect_uri']}?{query}")

        @app.post("/token")
        def token():
            grant = self.codes.pop(request.form.get("code", ""), None)
            if grant is None or request.form.get("redirect_uri") != grant["redirect_uri"]:
                return jsonify({"error": "invalid_grant"}), 400
            nonce = self.nonce_override if self.nonce_override is not None else grant["nonce"]
            return jsonify({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                            "expires_in": 3600, "scope": "openid email profile",
                            "id_token": self.id_token(nonce)})

        @app.get("/jwks")
        def jwks():
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        @app.get("/userinfo")
        def userinfo():
            return jsonify(self.user)

        return app
