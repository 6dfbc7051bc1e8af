"""Security headers on every response: the page runs only its own scripts, and no site frames it.

The page renders every user string with textContent; the Content-Security-Policy is the second
wall should an escaping bug ever slip through (no inline or foreign script can run).
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    # Inline <style> on the sign-in/404 pages; the page's JS sets style properties (CSSOM).
    "style-src 'self' 'unsafe-inline'",
    # Offline covers are data: SVGs; Spotify and Google serve art and avatars over https.
    "img-src 'self' data: https:",
    "media-src 'self'",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self' https:",  # the Google and Spotify sign-in redirects
    "frame-ancestors 'none'",
))

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def init_app(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
