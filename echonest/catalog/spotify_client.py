"""Spotify plumbing shared by the catalog and play-along: spotipy clients, the one app token, 429 back-off."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
import spotipy
from spotipy.cache_handler import CacheHandler
from spotipy.exceptions import SpotifyException, SpotifyOauthError

from echonest import keys
from echonest.errors import CatalogError, EchoNestError

log = logging.getLogger(__name__)

T = TypeVar("T")

REQUEST_TIMEOUT = 5            # seconds; a slow Spotify must not hold a web worker for long
DEFAULT_RETRY_AFTER = 30       # Spotify's 429 normally says how long; when it does not, this
MAX_RETRY_AFTER = 3600
# Refresh this long before expiry so a token never dies between our check and Spotify's.
TOKEN_EXPIRY_MARGIN = 60


def api_base(conf: Any) -> str:
    base = str(conf.SPOTIFY_API_BASE or "https://api.spotify.com/v1/")
    return base if base.endswith("/") else base + "/"


def auth_base(conf: Any) -> str:
    return str(conf.SPOTIFY_AUTH_BASE or "https://accounts.spotify.com").rstrip("/")


def token_url(conf: Any) -> str:
    return f"{auth_base(conf)}/api/token"


def plain_session() -> requests.Session:
    """A session with no retry adapter: spotipy's default retries (and sleeps on) 429s.

    An empty ``status_forcelist`` would silently fall back to spotipy's defaults, so instead
    we hand spotipy our own session and it never builds its retrying one.
    """
    return requests.Session()


# --- the global 429 back-off -----------------------------------------------------------------
def rate_limit_remaining(redis_client: Any) -> int:
    """Seconds left on the global Spotify back-off, 0 when we may call."""
    ttl = redis_client.ttl(keys.SPOTIFY_RATE_LIMITED)
    if ttl is None or ttl == -2:
        return 0
    if ttl == -1:
        # Set without expiry (an old deploy, a hand edit): bound it rather than back off forever.
        redis_client.expire(keys.SPOTIFY_RATE_LIMITED, DEFAULT_RETRY_AFTER)
        return DEFAULT_RETRY_AFTER
    return max(ttl, 1)


class BackoffMemo:
    """One caller's memory that the global back-off was clear a moment ago.

    Checking the back-off key costs a round trip per Spotify call; remembering "clear" for
    CLEAR_SECONDS lets a busy web process skip it. Only "clear" is remembered: a back-off is
    re-read every time, so its end (or an operator deleting it) shows at once. Another process's
    429 is noticed at most CLEAR_SECONDS late (and Spotify would refuse us meanwhile anyway).
    """

    CLEAR_SECONDS = 1.0

    def __init__(self) -> None:
        self.clear_until = 0.0

    def is_clear(self) -> bool:
        return time.monotonic() < self.clear_until

    def saw(self, remaining: int) -> None:
        self.clear_until = 0.0 if remaining else time.monotonic() + self.CLEAR_SECONDS


def check_rate_limit(redis_client: Any, memo: BackoffMemo | None = None) -> None:
    """Raise CatalogError without calling out while any process has seen a recent 429."""
    if memo is not None and memo.is_clear():
        return
    remaining = rate_limit_remaining(redis_client)
    if memo is not None:
        memo.saw(remaining)
    if remaining:
        raise CatalogError(f"Spotify is rate limiting us; try again in {remaining} s",
                           retry_after=remaining)


def retry_after_seconds(headers: Any) -> int:
    try:
        value = int(str((headers or {}).get("Retry-After", "")).strip())
    except ValueError:
        return DEFAULT_RETRY_AFTER
    return min(max(value, 1), MAX_RETRY_AFTER)


def note_rate_limit(redis_client: Any, seconds: int) -> None:
    # Global on purpose: the limit is per Spotify app, so every nest and process must back off.
    redis_client.set(keys.SPOTIFY_RATE_LIMITED, "1", ex=seconds)


def guarded(redis_client: Any, what: str, call: Callable[[], T],
            on_error: Callable[[SpotifyException], T | None] | None = None,
            memo: BackoffMemo | None = None) -> T:
    """Run one Spotify call behind the global back-off, translating failures to EchoNestError.

    ``on_error`` may turn a specific HTTP failure (say 404) into an answer; returning None
    from it means "not handled". ``memo`` spares the back-off check's round trip (BackoffMemo).
    """
    check_rate_limit(redis_client, memo)
    try:
        return call()
    except SpotifyException as exc:
        if exc.http_status == 429:
            if memo is not None:
                memo.saw(1)
            seconds = retry_after_seconds(exc.headers)
            note_rate_limit(redis_client, seconds)
            raise CatalogError(f"Spotify is rate limiting us; try again in {seconds} s",
                               retry_after=seconds) from exc
        if on_error is not None:
            handled = on_error(exc)
            if handled is not None:
                return handled
        log.warning("Spotify %s failed: HTTP %s %s", what, exc.http_status, exc.msg)
        raise CatalogError(f"Spotify {what} failed (HTTP {exc.http_status}); "
                           "please try again shortly.") from exc
    except SpotifyOauthError as exc:
        seconds = _token_rate_limit(redis_client, exc)
        if seconds:
            raise CatalogError(f"Spotify is rate limiting us; try again in {seconds} s",
                               retry_after=seconds) from exc
        # Only Spotify's short OAuth error code, never the raw (possibly HTML) body.
        reason = exc.error if isinstance(exc.error, str) and re.fullmatch(r"\w{1,40}", exc.error) \
            else "error"
        raise CatalogError(f"Spotify sign-in for {what} failed: {reason}") from exc
    except EchoNestError:
        raise
    except requests.RequestException as exc:
        raise CatalogError(f"Spotify is unreachable ({type(exc).__name__}); "
                           "please try again shortly.") from exc


def _token_rate_limit(redis_client: Any, exc: SpotifyOauthError) -> int | None:
    # spotipy drops the response when the token endpoint fails; it survives as the context.
    response = getattr(exc.__context__, "response", None)
    if response is None or response.status_code != 429:
        return None
    seconds = retry_after_seconds(response.headers)
    note_rate_limit(redis_client, seconds)
    return seconds


# --- the shared app token --------------------------------------------------------------------
class RedisTokenCache(CacheHandler):
    """spotipy token cache in one Redis key, expiring with the token itself.

    spotipy's own RedisCacheHandler never expires its key; ours does, so a stale token is not
    left behind and a corrupt value reads as "no token".
    """

    def __init__(self, redis_client: Any, key: str, *, expire: bool = True,
                 remember: bool = False):
        self.redis = redis_client
        self.key = key
        self.expire = expire
        # remember: keep the token in memory while it is good for more than the refresh margin,
        # so a call costs no Redis round trip for it (the app token; never a user's).
        self.remember = remember
        self._token: dict[str, Any] | None = None

    def forget(self) -> None:
        self._token = None

    def get_cached_token(self) -> dict[str, Any] | None:
        held = self._token
        if held is not None and held["expires_at"] - time.time() > 2 * TOKEN_EXPIRY_MARGIN:
            return held
        self._token = None
        raw = self.redis.get(self.key)
        if not raw:
            return None
        try:
            token = json.loads(raw)
        except ValueError:
            return None
        # spotipy indexes these without checking; a half-written token must read as "none".
        if not isinstance(token, dict) or not isinstance(token.get("access_token"), str):
            return None
        expires_at = token.get("expires_at")
        if isinstance(expires_at, bool) or not isinstance(expires_at, (int, float)):
            return None
        if self.remember:
            self._token = token
        return token

    def save_token_to_cache(self, token_info: dict[str, Any]) -> None:
        ttl = None
        if self.expire:
            expires_in = token_info.get("expires_in")
            ttl = int(expires_in) if isinstance(expires_in, (int, float)) and expires_in > 0 else 3600
        self.redis.set(self.key, json.dumps(token_info), ex=ttl)
        self._token = None  # read back (and remembered) on the next call


class AppCredentials(spotipy.SpotifyClientCredentials):
    """Client-credentials flow against CONF.SPOTIFY_AUTH_BASE with the token shared in Redis."""

    def __init__(self, conf: Any, redis_client: Any):
        super().__init__(
            client_id=str(conf.SPOTIFY_CLIENT_ID or ""),
            client_secret=str(conf.SPOTIFY_CLIENT_SECRET or ""),
            requests_session=plain_session(),
            requests_timeout=REQUEST_TIMEOUT,
            cache_handler=RedisTokenCache(redis_client, keys.SPOTIFY_APP_TOKEN, remember=True),
        )
        # spotipy reads the class attribute; an instance attribute points it at our auth base.
        self.OAUTH_TOKEN_URL = token_url(conf)


def app_client(conf: Any, redis_client: Any) -> spotipy.Spotify:
    """A spotipy client on the shared app token; building it does no I/O."""
    if not conf.SPOTIFY_CLIENT_ID or not conf.SPOTIFY_CLIENT_SECRET:
        raise CatalogError("Spotify is not configured (SPOTIFY_CLIENT_ID/SECRET are empty)")
    client = spotipy.Spotify(
        auth_manager=AppCredentials(conf, redis_client),
        requests_session=plain_session(),
        requests_timeout=REQUEST_TIMEOUT,
        retries=0,
        status_retries=0,
    )
    client.prefix = api_base(conf)
    return client
