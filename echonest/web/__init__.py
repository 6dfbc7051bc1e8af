"""Web layer: blueprints for sign-in, pages, the nests and queue APIs, and error shapes."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Everything but the real-time stream (app.py adds that): auth gate first, then routes."""
    from echonest.web import (
        api_hosts,
        api_nests,
        api_queue,
        audio,
        auth,
        errors,
        headers,
        pages,
        sync_routes,
    )

    errors.register(app)
    headers.init_app(app)
    auth.init_app(app)
    app.register_blueprint(api_nests.bp)
    app.register_blueprint(api_queue.bp)
    app.register_blueprint(api_hosts.bp)
    app.register_blueprint(audio.bp)
    app.register_blueprint(sync_routes.bp)
    app.register_blueprint(pages.bp)
