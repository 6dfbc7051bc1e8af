"""Hosts and moderation: settings changes, co-hosts, hand-over, kick/ban, host link, invites.

Every change is one guarded Lua step (``HOST_SCRIPT``) that re-reads the registry entry and
checks the actor is a host *inside* the step, so a host demoted a moment ago cannot slip a
change in. Secrets (the host link, invite tokens) and the block list live under the nest's own
keys, never in the registry metadata that ``GET /api/nests/<code>`` shows.

Admission (``admit``) is the other half: who may see or join a nest at all. It runs only when
it can matter (an invite-only nest, a nest where someone was ever kicked, a token presented),
so the common case — a guest in a listed nest — costs no extra round trip.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import redis

from echonest import events, keys, nest_settings
from echonest.errors import (
    Banned,
    EchoNestError,
    Forbidden,
    InvalidRequest,
    InviteRequired,
    Kicked,
    NestGone,
    NotFound,
)
from echonest.membership import QuietableScript
from echonest.nest_registry import decode_metadata, script_error
from echonest.nest_value import Nest
from echonest.validation import require_text

MAX_USER_ID = 128
TOKEN_BYTES = 18
MAX_TOKEN = 64
MAX_INVITES = 50

# KEYS[5] blocked hash, KEYS[6] host-link secret, KEYS[7] invites hash, KEYS[8] admitted set.
# ARGV[4] actor, ARGV[5] actor is an operator 1/0, ARGV[6] op, ARGV[7] a, ARGV[8] b,
# ARGV[9] now (epoch seconds). Everything is checked before the first write.
HOST_SCRIPT = QuietableScript("""
local raw = redis.call('HGET', KEYS[1], nest_id)
if not raw then return redis.error_reply('DOMAIN not_found 404 no such nest') end
local meta = cjson.decode(raw)
local actor, operator, op, a, b = ARGV[4], ARGV[5] == '1', ARGV[6], ARGV[7], ARGV[8]
local now = tonumber(ARGV[9])
local hosts = meta['hosts']
if type(hosts) ~= 'table' then hosts = {} end
local function is_host(user)
  if user == meta['created_by'] and nest_id ~= 'main' then return true end
  for _, h in ipairs(hosts) do if h == user then return true end end
  return false
end
local function without(user)
  local out = {}
  for _, h in ipairs(hosts) do if h ~= user then out[#out + 1] = h end end
  return out
end
local function fail(code, status, message)
  return redis.error_reply('DOMAIN ' .. code .. ' ' .. status .. ' ' .. message)
end
local function save()
  -- cjson writes an empty table as {}: an empty host list is stored as no list at all.
  if #hosts == 0 then meta['hosts'] = nil else meta['hosts'] = hosts end
  local encoded = cjson.encode(meta)
  redis.call('HSET', KEYS[1], nest_id, encoded)
  return encoded
end
local result = 'ok'
quiet = true

if op == 'admit' then
  -- a: invite token presented ('' none), b: visibility. Read-mostly, never an event.
  if operator or is_host(actor) then return {0, 'ok'} end
  local blocked = redis.call('HGET', KEYS[5], actor)
  if blocked == 'ban' then return {0, 'banned'} end
  if blocked then
    if tonumber(blocked) > now then return {0, 'kicked:' .. blocked} end
    redis.call('HDEL', KEYS[5], actor)
  end
  if b == 'invite_only' and redis.call('SISMEMBER', KEYS[8], actor) == 0 then
    if a ~= '' and redis.call('HEXISTS', KEYS[7], a) == 1 then
      redis.call('SADD', KEYS[8], actor)
    else
      return {0, 'invite_required'}
    end
  end
  return {0, 'ok'}
end

if op == 'claim' then
  local secret = redis.call('GET', KEYS[6])
  if a == '' or not secret or secret ~= a then
    return fail('forbidden', 403, 'that host link was revoked or is wrong')
  end
  if is_host(actor) then return {0, 'ok'} end
  hosts[#hosts + 1] = actor
  redis.call('HDEL', KEYS[5], actor)
  event_data = save()
  quiet = false
  return {0, 'host'}
end

if not operator and not is_host(actor) then
  return fail('forbidden', 403, 'only hosts may do that')
end

if op == 'settings' then
  local settings = meta['settings']
  if type(settings) ~= 'table' then settings = {} end
  for name, value in pairs(cjson.decode(a)) do settings[name] = value end
  meta['settings'] = settings
  for name, value in pairs(cjson.decode(b)) do meta[name] = value end
  event_data = save()
  result = event_data
  quiet = false
elseif op == 'promote' then
  if is_host(a) then return {0, 'ok'} end
  if nest_id ~= 'main' and a == meta['created_by'] then return {0, 'ok'} end
  hosts[#hosts + 1] = a
  event_data = save()
  quiet = false
elseif op == 'demote' then
  if nest_id ~= 'main' and a == meta['created_by'] then
    return fail('forbidden', 403, 'the creator stays a host; hand the nest over first')
  end
  if not is_host(a) then return {0, 'ok'} end
  hosts = without(a)
  event_data = save()
  quiet = false
elseif op == 'handover' then
  if nest_id == 'main' then return fail('forbidden', 403, 'the Home Nest has no owner to change') end
  if not operator and actor ~= meta['created_by'] then
    return fail('forbidden', 403, 'only the nest creator may hand it over')
  end
  if a == meta['created_by'] then return {0, 'ok'} end
  hosts = without(a)
  hosts[#hosts + 1] = meta['created_by']
  meta['created_by'] = a
  event_data = save()
  quiet = false
elseif op == 'kick' then
  -- b: 'ban' or the epoch second the kick ends.
  if is_host(a) then return fail('forbidden', 403, 'that person is a host; demote them first') end
  redis.call('HSET', KEYS[5], a, b)
  if not meta['moderated'] then
    meta['moderated'] = true
    save()
  end
  event_data = cjson.encode({user = a, ban = b == 'ban', ['until'] = b ~= 'ban' and tonumber(b) or false})
  quiet = false
elseif op == 'unban' then
  redis.call('HDEL', KEYS[5], a)
elseif op == 'link' then
  redis.call('SET', KEYS[6], a)
elseif op == 'invite' then
  if redis.call('HLEN', KEYS[7]) >= tonumber(ARGV[10]) then
    return fail('invalid_request', 400, 'too many open invites; revoke some first')
  end
  redis.call('HSET', KEYS[7], a, b)
elseif op == 'revoke' then
  if redis.call('HDEL', KEYS[7], a) == 0 then
    return fail('not_found', 404, 'no such invite')
  end
else
  return fail('invalid_request', 400, 'unknown host action')
end
""")


def _user_id(value: Any, what: str = "'user'") -> str:
    return require_text(value, what, MAX_USER_ID)


def _run(client: redis.Redis, nest: Nest, actor: Any, op: str, a: str = "", b: str = "",
         *, event: str = "", now: float | None = None, allowed: bool = False) -> Any:
    try:
        _, result = HOST_SCRIPT(
            client, nest.id,
            keys_=[keys.nest_key(nest.id, k) for k in (
                keys.BLOCKED, keys.HOST_LINK, keys.INVITES, keys.ADMITTED)],
            args=[getattr(actor, "id", "") or "",
                  "1" if allowed or nest.is_operator(actor) else "0", op,
                  a, b, repr(time.time() if now is None else now), MAX_INVITES],
            event=event)
    except NestGone:
        raise NotFound("That nest has ended.") from None
    except EchoNestError as exc:
        raise script_error(exc) from None
    return result


def _meta(encoded: Any) -> dict[str, Any]:
    return decode_metadata(encoded) or {}


# --- settings and hosts --------------------------------------------------------------------
def change_settings(client: redis.Redis, nest: Nest, actor: Any, changes: Any = None,
                    fields: dict[str, Any] | None = None, *, allowed: bool = False
                    ) -> dict[str, Any]:
    """Checked ``changes`` (and top-level ``fields`` like bender_enabled) → the new metadata.

    ``allowed``: the caller decided a non-host may make this change (Bender's switch under
    bender_mode=anyone); settings themselves are hosts-only.
    """
    checked = nest_settings.check_changes(changes, nest.is_main) if changes is not None else {}
    fields = fields or {}
    if not checked and not fields:
        raise InvalidRequest("Nothing to change.")
    if not nest.is_host(actor) and (checked or not allowed):
        raise Forbidden("Only hosts can change this nest's settings.")
    return _meta(_run(client, nest, actor, "settings", json.dumps(checked), json.dumps(fields),
                      event=events.NEST_UPDATE, allowed=allowed and not checked))


def promote(client: redis.Redis, nest: Nest, actor: Any, user: Any) -> None:
    _run(client, nest, actor, "promote", _user_id(user), event=events.NEST_UPDATE)


def demote(client: redis.Redis, nest: Nest, actor: Any, user: Any) -> None:
    _run(client, nest, actor, "demote", _user_id(user), event=events.NEST_UPDATE)


def hand_over(client: redis.Redis, nest: Nest, actor: Any, user: Any) -> None:
    _run(client, nest, actor, "handover", _user_id(user), event=events.NEST_UPDATE)


def claim_host(client: redis.Redis, nest: Nest, user: Any, secret: Any) -> bool:
    """Open a host link: ``user`` becomes a host when ``secret`` is the nest's current one."""
    if not isinstance(secret, str) or not secret or len(secret) > MAX_TOKEN:
        raise Forbidden("That host link was revoked or is wrong.")
    return _run(client, nest, user, "claim", secret, event=events.NEST_UPDATE) == "host"


# --- kick and ban --------------------------------------------------------------------------
def kick(client: redis.Redis, nest: Nest, actor: Any, user: Any, minutes: Any = None,
         *, now: float | None = None) -> dict[str, Any]:
    """Close the user's connections; they cannot rejoin for ``minutes`` (default: the setting)."""
    user = _user_id(user)
    if minutes is None:
        minutes = nest.setting("kick_minutes")
    minutes = nest_settings.BY_NAME["kick_minutes"].check(minutes)
    until = (time.time() if now is None else now) + minutes * 60
    _run(client, nest, actor, "kick", user, repr(until), event=events.MEMBER_KICKED, now=now)
    return {"user": user, "until": until, "ban": False}


def ban(client: redis.Redis, nest: Nest, actor: Any, user: Any) -> dict[str, Any]:
    user = _user_id(user)
    _run(client, nest, actor, "kick", user, "ban", event=events.MEMBER_KICKED)
    return {"user": user, "until": None, "ban": True}


def unban(client: redis.Redis, nest: Nest, actor: Any, user: Any) -> None:
    _run(client, nest, actor, "unban", _user_id(user))


def blocked(client: redis.Redis, nest: Nest, *, now: float | None = None) -> list[dict]:
    """Who is kicked (until when) or banned, for hosts."""
    now = time.time() if now is None else now
    out = []
    for user, value in client.hgetall(keys.nest_key(nest.id, keys.BLOCKED)).items():
        if value == "ban":
            out.append({"user": user, "ban": True, "until": None})
        else:
            try:
                until = float(value)
            except ValueError:
                continue
            if until > now:
                out.append({"user": user, "ban": False, "until": until})
    return sorted(out, key=lambda entry: entry["user"])


# --- host link and invites -----------------------------------------------------------------
def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def host_link_secret(client: redis.Redis, nest: Nest, actor: Any) -> str:
    """The nest's host-link secret, made on first ask. Hosts only."""
    if not nest.is_host(actor):
        raise Forbidden("Only hosts can see the host link.")
    secret = client.get(keys.nest_key(nest.id, keys.HOST_LINK))
    return secret or rotate_host_link(client, nest, actor)


def rotate_host_link(client: redis.Redis, nest: Nest, actor: Any) -> str:
    """A new secret: the old host link stops working at once."""
    secret = new_token()
    _run(client, nest, actor, "link", secret)
    return secret


def create_invite(client: redis.Redis, nest: Nest, actor: Any, *, now: float | None = None
                  ) -> str:
    token = new_token()
    record = json.dumps({"by": getattr(actor, "id", ""), "at": time.time() if now is None
                         else now})
    _run(client, nest, actor, "invite", token, record)
    return token


def revoke_invite(client: redis.Redis, nest: Nest, actor: Any, token: Any) -> None:
    token = require_text(token, "'token'", MAX_TOKEN)
    _run(client, nest, actor, "revoke", token)


def invites(client: redis.Redis, nest: Nest) -> list[dict[str, Any]]:
    out = []
    for token, raw in client.hgetall(keys.nest_key(nest.id, keys.INVITES)).items():
        try:
            record = json.loads(raw)
        except ValueError:
            record = {}
        out.append({"token": token, "by": record.get("by", ""), "at": record.get("at")})
    return sorted(out, key=lambda entry: entry.get("at") or 0)


# --- admission -----------------------------------------------------------------------------
def admit(client: redis.Redis, nest: Nest, user: Any, invite: Any = None,
          *, now: float | None = None) -> None:
    """Raise when ``user`` may not see or join ``nest`` (banned, kicked, not invited)."""
    invite = invite if isinstance(invite, str) and 0 < len(invite) <= MAX_TOKEN else ""
    visibility = nest.setting("visibility")
    if nest.is_host(user):
        return
    if not (nest.moderated or visibility == nest_settings.INVITE_ONLY):
        return
    outcome = _run(client, nest, user, "admit", invite, visibility, now=now)
    if outcome == "banned":
        raise Banned("A host banned you from this nest.")
    if isinstance(outcome, str) and outcome.startswith("kicked:"):
        until = float(outcome.split(":", 1)[1])
        minutes = max(1, int((until - (time.time() if now is None else now) + 59) // 60))
        raise Kicked(f"A host removed you from this nest. You can rejoin in {minutes} min.",
                     until=until)
    if outcome == "invite_required":
        raise InviteRequired("This nest is invite-only. Ask a host for an invite link.")
