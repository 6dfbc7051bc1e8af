"""Pages: the nest page (main at /, others at /nest/<code>), its speaker view (…/speaker), short
links, and /health."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, url_for

from echonest.airhorns import AIRHORN_NAMES
from echonest.web import context
from echonest.web.auth import csrf_token, current_user, public

bp = Blueprint("pages", __name__)

MAIN = "main"


def link_base() -> str:
    """This request's base URL for links shown to users (echonest.share_links decides)."""
    from flask import request

    from echonest.share_links import base_url

    return base_url(request.host, request.scheme, context.conf())


def share_url(meta: dict[str, Any]) -> str:
    """The nest's short link, on an address the people it is shared with can reach."""
    from echonest.share_links import nest_url

    code = str(meta.get("code") or meta.get("id") or "")
    is_main = code == MAIN or bool(meta.get("is_main"))
    return nest_url(link_base(), code, is_main=is_main)


def nest_link(nest: Any, **params: str) -> str:
    """The nest page's full link with query parameters (a host link, an invite)."""
    from echonest.share_links import nest_url

    return nest_url(link_base(), nest.code, is_main=nest.is_main, short=False, **params)


def bender_enabled(meta: dict[str, Any]) -> bool:
    conf = context.conf()
    if not conf.USE_BENDER:
        return False
    default = True if meta.get("is_main") else bool(conf.NEST_BENDER_DEFAULT)
    value = meta.get("bender_enabled", default)
    return value if isinstance(value, bool) else default


def nest_info(nest_id: str, meta: dict[str, Any], member_count: int | None = None) -> dict:
    """The nest as pages and the API show it (registry metadata plus live facts)."""
    if member_count is None:
        member_count = context.nest_manager().member_count(nest_id)
    return {
        "id": nest_id,
        "code": meta.get("code") or nest_id,
        "name": meta.get("name") or f"Nest {nest_id}",
        "is_main": nest_id == MAIN,
        "created_by": meta.get("created_by", ""),
        "member_count": int(member_count),
        "share_url": share_url(meta),
        "bender_enabled": bender_enabled(meta),
    }


def public_config() -> dict[str, Any]:
    from echonest.catalog import catalog_mode

    conf = context.conf()
    return {
        "ECHONEST_DOMAIN": conf.ECHONEST_DOMAIN or "",
        "HOSTNAME": conf.HOSTNAME or "",
        "spotify_enabled": catalog_mode(conf) == "spotify",
        "airhorn_names": list(AIRHORN_NAMES),
    }


def speaker_url(nest_id: str, meta: dict[str, Any]) -> str:
    code = MAIN if nest_id == MAIN else meta.get("code") or nest_id
    return url_for("pages.nest_speaker", code=code)


def render_nest(nest_id: str, meta: dict[str, Any], template: str = "main.html"):
    user = current_user()
    if nest_id != MAIN:
        context.nest_manager().touch_nest(nest_id)
    return render_template(
        template, nest_id=nest_id, nest_info=nest_info(nest_id, meta),
        nest_hosting=hosting_info(nest_id, meta, user),
        user=user.public(), csrf_token=csrf_token(), public_config=public_config(),
        speaker_url=speaker_url(nest_id, meta),
        page_url=url_for("pages.home") if nest_id == MAIN
        else url_for("pages.nest_page", code=meta.get("code") or nest_id))


def hosting_info(nest_id: str, meta: dict[str, Any], user: Any) -> dict[str, Any]:
    """What the page's host tools need: settings (and their declaration), hosts, am I one."""
    from echonest import nest_settings
    from echonest.nest_value import Nest

    nest = Nest.from_meta(nest_id, meta)
    return {"settings": nest.settings, "schema": nest_settings.describe(nest.is_main),
            "hosts": nest.hosts, "is_host": nest.is_host(user)}


def _query() -> dict[str, str]:
    """Invite / host-link parameters survive the short-link and case redirects."""
    from flask import request

    return {k: v for k, v in request.args.items() if k in ("invite", "host")}


@bp.get("/")
def home():
    _, meta = context.resolve_nest(MAIN)
    return render_nest(MAIN, meta or {"is_main": True})


@bp.get("/nest/<code>")
def nest_page(code: str):
    nest_id, meta = context.resolve_nest(code)
    if nest_id == MAIN:
        return redirect(url_for("pages.home"))
    if code != meta.get("code"):
        return redirect(url_for("pages.nest_page", code=meta.get("code") or nest_id, **_query()))
    return render_nest(nest_id, meta)


# The room speaker: a TV-friendly view that plays the music out loud (speaker.html/speaker.js).
# Main's is /nest/main/speaker, so no top-level path is taken from vanity codes.
@bp.get("/nest/<code>/speaker")
def nest_speaker(code: str):
    nest_id, meta = context.resolve_nest(code)
    if nest_id == MAIN:
        if code != MAIN:
            return redirect(url_for("pages.nest_speaker", code=MAIN))
        return render_nest(MAIN, meta or {"is_main": True}, "speaker.html")
    if code != meta.get("code"):
        return redirect(url_for("pages.nest_speaker", code=meta.get("code") or nest_id))
    return render_nest(nest_id, meta, "speaker.html")


@bp.get("/<code>")
def short_link(code: str):
    """echone.st/X7K2P (or a vanity code) → /nest/X7K2P; unknown → the 404 page."""
    nest_id, meta = context.resolve_nest(code)
    if nest_id == MAIN:
        return redirect(url_for("pages.home"))
    return redirect(url_for("pages.nest_page", code=meta.get("code") or nest_id, **_query()))


@bp.get("/health")
@public
def health():
    try:
        ok = bool(context.redis().ping())
    except Exception:
        ok = False
    response = jsonify({"status": "ok" if ok else "degraded", "redis": ok})
    response.status_code = 200 if ok else 503
    return response
