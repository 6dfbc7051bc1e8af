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


def share_url(meta: dict[str, Any]) -> str:
    """https://{ECHONEST_DOMAIN}/{code}, or this server's own short link without a domain."""
    code = str(meta.get("code") or meta.get("id") or "")
    is_main = code == MAIN or bool(meta.get("is_main"))
    domain = str(context.conf().ECHONEST_DOMAIN or "").strip().strip("/")
    if domain:
        return f"https://{domain}/" if is_main else f"https://{domain}/{code}"
    if is_main:
        return url_for("pages.home", _external=True)
    return url_for("pages.short_link", code=code, _external=True)


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
        user=user.public(), csrf_token=csrf_token(), public_config=public_config(),
        speaker_url=speaker_url(nest_id, meta),
        page_url=url_for("pages.home") if nest_id == MAIN
        else url_for("pages.nest_page", code=meta.get("code") or nest_id))


@bp.get("/")
def home():
    return render_nest(MAIN, context.nest_manager().get_nest(MAIN) or {"is_main": True})


@bp.get("/nest/<code>")
def nest_page(code: str):
    nest_id, meta = context.resolve_nest(code)
    if nest_id == MAIN:
        return redirect(url_for("pages.home"))
    if code != meta.get("code"):
        return redirect(url_for("pages.nest_page", code=meta.get("code") or nest_id))
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
    return redirect(url_for("pages.nest_page", code=meta.get("code") or nest_id))


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
