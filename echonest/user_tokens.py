"""Per-user and sync API tokens, and the one-time codes that link a desktop client to a person.

A token is shown once, when it is made; Redis keeps only its SHA-256 digest (the token carries
256 random bits, so a plain digest cannot be brute-forced and needs no salt). A *user* token acts
as its owner everywhere a session does and is listed and revoked by them; a *sync* token (from an
invite code, for echonest-sync's first launch) belongs to nobody and may only follow the main
nest and search. Nothing here knows about Flask.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any

from echonest import keys
from echonest.errors import Conflict, InvalidRequest
from echonest.user_names import clean_display_name
from echonest.validation import require_text

SCOPE_USER = "user"
SCOPE_SYNC = "sync"
TOKEN_PREFIX = "ens_"  # noqa: S105 - a prefix that makes tokens recognisable to scanners
MAX_TOKEN_LENGTH = 128
MAX_LABEL_LENGTH = 40
MAX_TOKENS_PER_OWNER = 25
SYNC_NAME = "echonest-sync"

LINK_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread from a screen
LINK_CODE_LENGTH = 6
LINK_CODE_SECONDS = 300
_LINK_CODE = re.compile(f"^[{LINK_ALPHABET}]{{{LINK_CODE_LENGTH}}}$")
_TOKEN_ID = re.compile(r"^[0-9a-f]{16}$")

# KEYS[1] token record, KEYS[2] owner's index (user tokens only); ARGV: limit, id, digest,
# then field/value pairs. The cap and both writes in one step: two tabs cannot overshoot it.
_MINT = """
if KEYS[2] then
  if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[1]) then return 0 end
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
return 1
"""

# KEYS[1] owner's index; ARGV[1] the record key prefix, ARGV[2] the token id ('' = every one).
_REVOKE = """
local ids
if ARGV[2] == '' then
  ids = redis.call('HKEYS', KEYS[1])
else
  ids = {ARGV[2]}
end
local n = 0
for _, id in ipairs(ids) do
  local digest = redis.call('HGET', KEYS[1], id)
  if digest then
    redis.call('DEL', ARGV[1] .. digest)
    redis.call('HDEL', KEYS[1], id)
    n = n + 1
  end
end
return n
"""

# KEYS[1] the new code's key, KEYS[2] the owner's live-code pointer; ARGV[1] the code key
# prefix, ARGV[2] the new code, ARGV[3] payload, ARGV[4] seconds. 0 = that code is taken.
_NEW_LINK = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local old = redis.call('GET', KEYS[2])
if old then redis.call('DEL', ARGV[1] .. old) end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[4])
return 1
"""

_scripts: dict[str, Any] = {}


def _script(client: Any, name: str, body: str) -> Any:
    script = _scripts.get(name)
    if script is None:
        script = _scripts[name] = client.register_script(body)
    return script


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_digest(invite_code: str) -> str:
    """Which invite code minted a sync token, without keeping the code itself."""
    return hashlib.sha256(b"invite:" + invite_code.encode()).hexdigest()[:16]


def invite_codes(conf: Any) -> list[str]:
    """CONF.SYNC_INVITE_CODES as a clean list (an env value may be a comma-separated string)."""
    raw = conf.SYNC_INVITE_CODES or []
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list):
        return []
    return [str(code).strip() for code in raw if str(code).strip()]


def live_invites(conf: Any) -> set[str]:
    return {invite_digest(code) for code in invite_codes(conf)}


def matching_invite(conf: Any, presented: Any) -> str | None:
    """The configured invite code equal to ``presented`` (every code compared: no timing hint)."""
    if not isinstance(presented, str) or not presented.strip() or len(presented) > 200:
        return None
    found = None
    for code in invite_codes(conf):
        if hmac.compare_digest(presented.strip().encode(), code.encode()):
            found = code
    return found


def _new_token() -> tuple[str, str, str]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_digest = digest(token)
    return token, token_digest, token_digest[:16]


def clean_label(label: Any, default: str) -> str:
    """Visible text only (a label is shown back on the tokens page), else ``default``."""
    if label is None or (isinstance(label, str) and not label.strip()):
        return default
    text = require_text(label, "'label'", MAX_LABEL_LENGTH)
    return clean_display_name(text, default)


def _public(record: dict[str, str]) -> dict[str, Any]:
    return {"id": record.get("id", ""), "label": record.get("label", ""),
            "scope": record.get("scope", ""), "created_at": int(record.get("created_at") or 0)}


# --- minting -------------------------------------------------------------------------------
def mint_user_token(client: Any, owner: dict[str, str], label: Any = None, *,
                    now: float | None = None) -> tuple[str, dict[str, Any]]:
    """A new token acting as ``owner`` ({id, name, email, kind}); (the token, its listing)."""
    owner_id = owner.get("id")
    if not isinstance(owner_id, str) or not owner_id:
        raise InvalidRequest("A token needs a signed-in owner.")
    token, token_digest, token_id = _new_token()
    record = {"id": token_id, "scope": SCOPE_USER, "owner": owner_id,
              "name": str(owner.get("name") or owner_id)[:80],
              "email": str(owner.get("email") or ""), "kind": str(owner.get("kind") or ""),
              "label": clean_label(label, "API token"),
              "created_at": str(int(time.time() if now is None else now))}
    pairs = [part for item in record.items() for part in item]
    made = _script(client, "mint", _MINT)(
        keys=[keys.api_token(token_digest), keys.api_tokens_of(owner_id)],
        args=[MAX_TOKENS_PER_OWNER, token_id, token_digest, *pairs], client=client)
    if not int(made):
        raise Conflict(f"You already have {MAX_TOKENS_PER_OWNER} API tokens; revoke one first.",
                       code="too_many_tokens")
    return token, _public(record)


def mint_sync_token(client: Any, invite_code: str, *,
                    now: float | None = None) -> tuple[str, dict[str, Any]]:
    """A follow-only token for a desktop client that presented ``invite_code``."""
    token, token_digest, token_id = _new_token()
    record = {"id": token_id, "scope": SCOPE_SYNC, "owner": f"sync:{token_id}",
              "name": SYNC_NAME, "email": "", "kind": "sync", "label": SYNC_NAME,
              "invite": invite_digest(invite_code),
              "created_at": str(int(time.time() if now is None else now))}
    pairs = [part for item in record.items() for part in item]
    _script(client, "mint", _MINT)(keys=[keys.api_token(token_digest)],
                                   args=[0, token_id, token_digest, *pairs], client=client)
    return token, _public(record)


# --- reading and revoking ------------------------------------------------------------------
def lookup(client: Any, token: Any) -> dict[str, str] | None:
    """The record of a presented token, or None (malformed, unknown or revoked)."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) \
            or len(token) > MAX_TOKEN_LENGTH:
        return None
    record = client.hgetall(keys.api_token(digest(token)))
    if not record or record.get("scope") not in (SCOPE_USER, SCOPE_SYNC):
        return None
    return record


def list_tokens(client: Any, owner_id: str) -> list[dict[str, Any]]:
    """The owner's tokens, newest first (never the tokens themselves)."""
    index = client.hgetall(keys.api_tokens_of(owner_id))
    if not index:
        return []
    pipe = client.pipeline(transaction=False)
    for token_digest in index.values():
        pipe.hgetall(keys.api_token(token_digest))
    records = [_public(rec) for rec in pipe.execute() if rec]
    return sorted(records, key=lambda rec: (-rec["created_at"], rec["id"]))


def revoke(client: Any, owner_id: str, token_id: Any) -> bool:
    """Revoke one of the owner's tokens; False when they hold no token with that id."""
    if not isinstance(token_id, str) or not _TOKEN_ID.match(token_id):
        return False
    return bool(_script(client, "revoke", _REVOKE)(
        keys=[keys.api_tokens_of(owner_id)], args=[keys.api_token(""), token_id], client=client))


def revoke_all(client: Any, owner_id: str) -> int:
    return int(_script(client, "revoke", _REVOKE)(
        keys=[keys.api_tokens_of(owner_id)], args=[keys.api_token(""), ""], client=client))


# --- account linking -----------------------------------------------------------------------
def new_link_code(client: Any, owner: dict[str, str]) -> str:
    """A fresh one-time code for ``owner``, valid LINK_CODE_SECONDS; it replaces their last one."""
    owner_id = owner.get("id")
    if not isinstance(owner_id, str) or not owner_id:
        raise InvalidRequest("Linking needs a signed-in person.")
    payload = json.dumps({name: str(owner.get(name) or "")
                          for name in ("id", "name", "email", "kind")})
    script = _script(client, "new_link", _NEW_LINK)
    for _ in range(8):  # a collision in 32^6 codes is rare; a few retries make it vanishing
        code = "".join(secrets.choice(LINK_ALPHABET) for _ in range(LINK_CODE_LENGTH))
        made = script(keys=[keys.sync_link_code(code), keys.sync_link_of(owner_id)],
                      args=[keys.sync_link_code(""), code, payload, LINK_CODE_SECONDS],
                      client=client)
        if int(made):
            return code
    raise Conflict("Could not make a link code; try again.", code="link_code_busy")


def normalize_link_code(code: Any) -> str | None:
    if not isinstance(code, str):
        raise InvalidRequest("'code' must be the 6-character code shown on /sync/link.")
    text = code.strip().upper().replace("-", "").replace(" ", "")
    return text if _LINK_CODE.match(text) else None


def redeem_link_code(client: Any, code: Any) -> dict[str, str] | None:
    """The person a code was made for, consuming it (GETDEL: one use, even under a race)."""
    text = normalize_link_code(code)
    if text is None:
        return None
    raw = client.getdel(keys.sync_link_code(text))
    if not raw:
        return None
    owner = json.loads(raw)
    return owner if isinstance(owner, dict) and owner.get("id") else None
