"""Every Redis key and channel name EchoNest uses, spelled once (SPEC §4).

Per-nest keys live under ``NEST:{nest_id}|``; the few global families (Spotify rate limit,
nest registry and lookups, global play history, rate-limit counters) do not.

Two layouts, one switch (``use_cluster_layout``; default from CONF.REDIS_CLUSTER on first use):
- single server (default): ``NEST:X7K2P|MISC|now-playing`` — the task breakdown's names;
- cluster: ``NEST:{X7K2P}|MISC|now-playing`` — a hash tag, so every key and the channel of one
  nest live in one slot and a nest's scripts never cross slots. The per-nest guard then lives
  in that slot too (``nest_guard_key``), and the few global families that a script or
  transaction writes together share one fixed tag each (``_family``).
"""

from __future__ import annotations

NEST_PREFIX = "NEST:"

_cluster: bool | None = None


def use_cluster_layout(on: bool | None) -> None:
    """Pick the layout for this process (None: read CONF.REDIS_CLUSTER again on next use)."""
    global _cluster
    _cluster = None if on is None else bool(on)


def cluster_layout() -> bool:
    global _cluster
    if _cluster is None:
        from config import CONF

        _cluster = bool(CONF.REDIS_CLUSTER)
    return _cluster


def nest_prefix(nest_id: str, tagged: bool | None = None) -> str:
    """``NEST:X7K2P|`` (single server) or ``NEST:{X7K2P}|`` (cluster); ``tagged`` overrides."""
    if cluster_layout() if tagged is None else tagged:
        return f"{NEST_PREFIX}{{{nest_id}}}|"
    return f"{NEST_PREFIX}{nest_id}|"


def nest_key(nest_id: str, key: str) -> str:
    """Scope a legacy (unprefixed) key name to one nest: ``NEST:{id}|{key}``."""
    return nest_prefix(nest_id) + key


def nest_pattern(nest_id: str) -> str:
    """SCAN/KEYS pattern matching every key of one nest (``{``/``}`` are not glob syntax)."""
    return nest_prefix(nest_id) + "*"


def _family(tag: str, key: str) -> str:
    """A global key whose family a script writes together: ``{tag}key`` in cluster layout
    (one slot for the family), the plain name otherwise."""
    return f"{{{tag}}}{key}" if cluster_layout() else key


# --- per-nest key names, unprefixed (DB._key and nest_key add the prefix) --------------------
NOW_PLAYING = "MISC|now-playing"
PRIORITY_QUEUE = "MISC|priority-queue"
MASTER_PLAYER_LOCK = "MISC|master-player"
UPDATE_PUBSUB = "MISC|update-pubsub"
VERSION = "MISC|version"
VOLUME = "MISC|volume"
PAUSED = "MISC|paused"
SKIP = "MISC|skip"
PLAY_HISTORY = "MISC|play-history"
BENDER_STREAK = "MISC|bender-streak-start"
AIRHORNS = "AIRHORNS"
MEMBERS = "MEMBERS"
BENDER_PREVIEW = "BENDER|next-preview"


def queue_item(item_id: str) -> str:
    return f"QUEUE|{item_id}"


def queue_votes(item_id: str) -> str:
    return f"QUEUE|VOTE|{item_id}"


def queue_jams(item_id: str) -> str:
    return f"QUEUEJAM|{item_id}"


def comments(item_id: str) -> str:
    return f"COMMENTS|{item_id}"


def bender_filter(uri: str) -> str:
    return f"FILTER|{uri}"


def fill_info(uri: str) -> str:
    return f"FILL-INFO|{uri}"


def bender_cache(strategy: str, seed: str) -> str:
    return f"BENDER|{strategy}|{seed}"


def free_horn(email: str) -> str:
    return f"FREEHORN_{email}"


def member(email: str) -> str:
    return f"MEMBER:{email}"


def user_count(email: str) -> str:
    """Per-user round counter for fairness ordering (how many songs they have queued)."""
    return f"QUEUE|USERCOUNT|{email}"


# --- global keys -----------------------------------------------------------------------------
SPOTIFY_RATE_LIMITED = "MISC|spotify-rate-limited"
NESTS_REGISTRY = "NESTS|registry"
GLOBAL_PLAY_HISTORY = "NESTS|play-history"


def nest_code(code: str) -> str:
    """Code or vanity code (upper-cased for codes, lower-cased for vanity) → nest id."""
    return f"NESTS|code:{code}"


def nest_deleting(nest_id: str) -> str:
    """The "delete under way" marker; in cluster layout it lives in the nest's own slot."""
    if cluster_layout():
        return nest_key(nest_id, NEST_DELETING)
    return f"NESTS|deleting:{nest_id}"


# Cluster layout only: the nest's own copy of its metadata (hash nest id → JSON), written on
# create and removed when its delete starts. Guarded scripts check it instead of the global
# registry (another slot). The registry stays the list of nests for listing and lookups.
NEST_ALIVE = "MISC|alive"
NEST_DELETING = "MISC|deleting"
# Cluster layout only: the nest's vanity code, seen from the nest's slot (the global lookup
# NESTS|code:<vanity> is claimed by a separate SET NX).
NEST_VANITY = "MISC|vanity"


def nest_guard_key(nest_id: str) -> str:
    """KEYS[1] of every guarded script: the registry, or (cluster) the nest's alive hash."""
    return nest_key(nest_id, NEST_ALIVE) if cluster_layout() else NESTS_REGISTRY


def rate_limit(bucket: str, subject: str, window_start: int) -> str:
    return f"NESTS|ratelimit:{bucket}:{subject}:{window_start}"


def spotify_user_token(email: str) -> str:
    return f"NESTS|spotify-token:{email}"


def pubsub_channel(nest_id: str) -> str:
    return nest_key(nest_id, UPDATE_PUBSUB)


def members_key(nest_id: str) -> str:
    return nest_key(nest_id, MEMBERS)


def member_key(nest_id: str, email: str) -> str:
    return nest_key(nest_id, member(email))


# Legacy (pre-nest) key families: exact names and prefixes, migrated into NEST:main|.
LEGACY_PREFIXES = (
    "MISC|",
    "QUEUE|",
    "FILTER|",
    "BENDER|",
    "QUEUEJAM|",
    "COMMENTS|",
    "FILL-INFO|",
    "FREEHORN_",
)
LEGACY_EXACT = ("AIRHORNS",)
GLOBAL_KEYS = (SPOTIFY_RATE_LIMITED,)
GLOBAL_PREFIXES = ("NESTS|", NEST_PREFIX)

# The client-credentials token every process and every nest shares (one refresh, not one per nest).
SPOTIFY_APP_TOKEN = "NESTS|spotify-app-token"  # noqa: S105 (a key name, not a secret)

# Bender: per-nest "found nothing, wait" marker (value = retry-after epoch seconds) and the
# nest-independent catalog answers Bender caches (shared by every nest, so global).
BENDER_BACKOFF = "BENDER|backoff"


def bender_global_cache(strategy: str, seed: str) -> str:
    return f"NESTS|bender-cache:{strategy}:{seed}"


# db.py: per-nest counter that hands out queue item ids (INCR), so ids never repeat in a nest.
ITEM_COUNTER = "MISC|queue-item-id"

# The queue's index, kept by the queue scripts so an add costs the same at 5 songs or 500:
# uri → queued item id, adder → their queued human songs, per-adder zsets mirroring the queue's
# scores, and how many items the index holds (a mismatch with the queue rebuilds it).
QUEUE_URIS = "QUEUE|INDEX|uris"
QUEUE_ADDERS = "QUEUE|INDEX|adders"
QUEUE_INDEXED = "QUEUE|INDEX|count"


def queue_by_adder(user: str) -> str:
    return f"QUEUE|INDEX|by-adder|{user}"

# Per item id, the nest version at which its shown content (hash, votes, jams, comments) last
# changed (zset), plus one marker member saying since when it vouches (echonest/queue_revs.py):
# lets the fan-out re-read only what changed.
QUEUE_REVS = "QUEUE|REVS"

# Per-member open-connection counts (hash email → n): a member leaves with their last tab.
MEMBERS_CONN = "MEMBERS-CONN"


def members_conn_key(nest_id: str) -> str:
    return nest_key(nest_id, MEMBERS_CONN)


# Ids of nests whose delete started (set): lets cleanup finish a delete a crash interrupted.
NESTS_BEING_DELETED = "NESTS|deleting"

# Display names by user id (hash id → JSON {"name", "avatar_url"}), written at sign-in so every
# nest can show people by name. Global: a person has one name in every nest.
USER_NAMES = "NESTS|user-names"

# Per-user and sync API tokens (echonest.user_tokens): only a SHA-256 digest of a token is kept.
# api_token(digest) is a hash with the token's owner, scope and label; api_tokens_of(owner) maps
# a person's token ids to digests so they can list and revoke theirs.


def api_token(digest: str) -> str:
    return _family("tokens", f"NESTS|api-token:{digest}")


def api_tokens_of(owner_id: str) -> str:
    return _family("tokens", f"NESTS|api-tokens:{owner_id}")


# Account linking (/sync/link): a one-time code → the signed-in person (JSON), with a TTL, and
# each person's one live code (a new page load replaces it, so one person holds one guessable code).
def sync_link_code(code: str) -> str:
    return _family("sync-link", f"NESTS|sync-link:{code}")


def sync_link_of(owner_id: str) -> str:
    return _family("sync-link", f"NESTS|sync-link-of:{owner_id}")


def session_revoked(session_id: str) -> str:
    """Marks a signed-out session id (TTL = the session lifetime): its cookie is refused."""
    return f"NESTS|session-revoked:{session_id}"


# Temporary nest id → the address that created it (hash), for the per-address cap on active
# nests. Never shown to anyone; entries of deleted nests are dropped on the next create.
NESTS_CREATOR_IP = "NESTS|creator-ip"


def nests_creator_ip() -> str:
    """NESTS_CREATOR_IP by layout. In a cluster it is tagged with the registry's name, so it
    shares the registry's slot: the create step checks every cap over both in one script."""
    return _family(NESTS_REGISTRY, NESTS_CREATOR_IP)


# Hosts and moderation (issue 9). Skip-by-vote state for the playing song: a hash (item → the
# playing id the votes are for, needed → votes the last count asked for) and the voters' set.
SKIP_VOTES = "MISC|skip-votes"
SKIP_VOTERS = "MISC|skip-voters"
BLOCKED = "MOD|blocked"        # hash user id → "ban" | epoch seconds a kick lasts until
HOST_LINK = "MOD|host-link"    # the secret of the nest's host link (string)
INVITES = "MOD|invites"        # hash invite token → JSON {by, at}
ADMITTED = "MOD|admitted"      # set of user ids an invite admitted to an invite-only nest

# Music library (echonest/catalog/library): the index every process reads, written by one
# scanner at a time. Global: the library belongs to the install, not to a nest.
# The scanner's script writes them together, so in cluster layout they share the {LIBRARY}
# slot: read them as keys.LIBRARY_TRACKS etc. (module __getattr__ below picks the layout).
_LIBRARY_KEYS = {
    "LIBRARY_TRACKS": "LIBRARY|tracks",          # hash track id → JSON record
    "LIBRARY_VERSION": "LIBRARY|version",        # a fresh token each time the tracks hash changes
    "LIBRARY_SCANNED_AT": "LIBRARY|scanned-at",  # epoch seconds the last full scan finished
    "LIBRARY_SCAN_LOCK": "LIBRARY|scan-lock",    # owner token of the scanner at work (SET NX PX)
    "LIBRARY_UNREADABLE": "LIBRARY|unreadable",  # hash root+path → "size:mtime": logged once
}


def __getattr__(name: str) -> str:
    if name in _LIBRARY_KEYS:
        return _family("LIBRARY", _LIBRARY_KEYS[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- player workers (master_player.py): who plays which nests --------------------------------
# Nests are split into PLAYER_BUCKETS buckets by hash slot (so in a cluster a bucket's nests sit
# on few shards). Each bucket lists its nests (a set, written on create and delete) and is
# leased by one worker at a time (owner token, PX TTL). Global keys, one command each.
PLAYER_BUCKETS = 64


def player_bucket_nests(bucket: int) -> str:
    return f"NESTS|player-bucket:{bucket}"


def player_bucket_lease(bucket: int) -> str:
    return f"NESTS|player-lease:{bucket}"


PLAYER_WORKERS = "NESTS|player-workers"  # zset worker id → heartbeat deadline (epoch ms)


# --- moving a deployment between layouts (migrate_cluster.py) ---------------------------------
_FAMILY_TAGS = (("NESTS|api-token", "tokens"), ("NESTS|sync-link", "sync-link"),
                ("LIBRARY|", "LIBRARY"), (NESTS_CREATOR_IP, NESTS_REGISTRY))
_CLUSTER_ONLY_SUFFIXES = (NEST_ALIVE, NEST_VANITY)


def to_cluster_name(key: str) -> str:
    """A single-server key's name in the cluster layout (already-tagged names are kept)."""
    if key.startswith(NEST_PREFIX + "{"):
        return key
    if key.startswith(NEST_PREFIX):
        nest_id, sep, rest = key[len(NEST_PREFIX):].partition("|")
        return f"{NEST_PREFIX}{{{nest_id}}}|{rest}" if sep else key
    if key.startswith("NESTS|deleting:"):
        return nest_prefix(key[len("NESTS|deleting:"):], tagged=True) + NEST_DELETING
    for head, tag in _FAMILY_TAGS:
        if key.startswith(head):
            return f"{{{tag}}}{key}"
    return key


def to_single_name(key: str) -> str | None:
    """A cluster key's name in the single-server layout; None for the cluster-only copies
    (alive hash, vanity key) whose content lives in the registry there."""
    if key.startswith(NEST_PREFIX + "{"):
        nest_id, sep, rest = key[len(NEST_PREFIX) + 1:].partition("}|")
        if not sep:
            return key
        if rest in _CLUSTER_ONLY_SUFFIXES:
            return None
        if rest == NEST_DELETING:
            return f"NESTS|deleting:{nest_id}"
        return f"{NEST_PREFIX}{nest_id}|{rest}"
    for head, tag in _FAMILY_TAGS:
        if key.startswith(f"{{{tag}}}{head}"):
            return key[len(tag) + 2:]
    return key


# Metrics (echonest.metrics): live processes (zset label → last push, epoch s) and each one's
# snapshot of its counters (JSON, expiring), so any web process can answer /metrics for all.
METRICS_PROCESSES = "NESTS|metrics-processes"


def metrics_snapshot(process: str) -> str:
    return f"NESTS|metrics:{process}"
