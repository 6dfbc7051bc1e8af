"""Key names are a public contract (SPEC §4): spelled out literally here on purpose."""

from echonest import keys


def test_nest_scoped_keys():
    assert keys.nest_key("X7K2P", keys.NOW_PLAYING) == "NEST:X7K2P|MISC|now-playing"
    assert keys.nest_key("main", keys.PRIORITY_QUEUE) == "NEST:main|MISC|priority-queue"
    assert keys.nest_key("main", keys.MASTER_PLAYER_LOCK) == "NEST:main|MISC|master-player"
    assert keys.pubsub_channel("X7K2P") == "NEST:X7K2P|MISC|update-pubsub"
    assert keys.members_key("X7K2P") == "NEST:X7K2P|MEMBERS"
    assert keys.member_key("X7K2P", "a@b.c") == "NEST:X7K2P|MEMBER:a@b.c"
    assert keys.nest_key("main", keys.queue_item("7")) == "NEST:main|QUEUE|7"
    assert keys.nest_key("main", keys.queue_votes("7")) == "NEST:main|QUEUE|VOTE|7"
    assert keys.nest_key("main", keys.queue_jams("7")) == "NEST:main|QUEUEJAM|7"
    assert keys.nest_key("main", keys.comments("7")) == "NEST:main|COMMENTS|7"
    assert keys.nest_key("main", keys.bender_filter("local:track:x")) == "NEST:main|FILTER|local:track:x"
    assert keys.nest_key("main", keys.fill_info("u")) == "NEST:main|FILL-INFO|u"
    assert keys.nest_key("main", keys.free_horn("a@b.c")) == "NEST:main|FREEHORN_a@b.c"
    assert keys.nest_key("main", keys.AIRHORNS) == "NEST:main|AIRHORNS"
    assert keys.nest_pattern("X7K2P") == "NEST:X7K2P|*"


def test_global_keys_are_not_nest_scoped():
    assert keys.SPOTIFY_RATE_LIMITED == "MISC|spotify-rate-limited"
    assert keys.NESTS_REGISTRY == "NESTS|registry"
    assert keys.nest_code("X7K2P") == "NESTS|code:X7K2P"


def test_music_library_keys_are_global():
    assert keys.LIBRARY_TRACKS == "LIBRARY|tracks"
    assert keys.LIBRARY_VERSION == "LIBRARY|version"
    assert keys.LIBRARY_SCANNED_AT == "LIBRARY|scanned-at"
    assert keys.LIBRARY_SCAN_LOCK == "LIBRARY|scan-lock"
    assert keys.LIBRARY_UNREADABLE == "LIBRARY|unreadable"
