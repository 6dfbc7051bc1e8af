"""Play history: per-nest and global records, bounds, throwbacks, last picks, reload from disk."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from config import CONF
from echonest import history, keys

# A Wednesday.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _song(uri, user="ann@example.com", auto=False, title="Song", artist="Band"):
    return {"uri": uri, "user": user, "auto": auto, "title": title, "artist": artist}


def _register(r, nest_id):
    r.hset(keys.NESTS_REGISTRY, nest_id, json.dumps({"id": nest_id}))


def _uris(r, key):
    return [json.loads(m)["uri"] for m in r.zrange(key, 0, -1)]


def test_record_play_writes_nest_and_global_history_silently(r):
    pubsub = r.pubsub()
    pubsub.subscribe(keys.pubsub_channel("main"))
    pubsub.get_message(timeout=1)
    entry = history.record_play(r, "main", _song("local:track:a", title="<b>Hey</b>"), NOW)
    assert entry["uri"] == "local:track:a" and entry["nest"] == "main"
    assert entry["played_at"] == NOW.isoformat() and entry["auto"] is False
    assert _uris(r, "NEST:main|MISC|play-history") == ["local:track:a"]
    assert _uris(r, keys.GLOBAL_PLAY_HISTORY) == ["local:track:a"]
    stored = json.loads(r.zrange("NEST:main|MISC|play-history", 0, -1)[0])
    assert stored["title"] == "<b>Hey</b>" and stored["user"] == "ann@example.com"
    assert pubsub.get_message(timeout=0.2) is None  # history growing changes no one's screen
    pubsub.close()


def test_play_time_is_the_songs_start_when_given(r):
    started = (NOW - timedelta(minutes=4)).isoformat()
    entry = history.record_play(r, "main", {**_song("local:track:a"), "started": started}, NOW)
    assert entry["played_at"] == started


@pytest.mark.parametrize("finished", [
    {}, {"uri": ""}, {"uri": 42}, {"uri": "x" * 600}, "local:track:a", None,
])
def test_malformed_finished_song_is_ignored(r, finished):
    assert history.record_play(r, "main", finished, NOW) is None
    assert r.keys("*") == []


def test_history_is_bounded_per_nest_and_globally(r, monkeypatch):
    monkeypatch.setitem(CONF._values, "PLAY_HISTORY_MAX", 5)
    _register(r, "ABCDE")
    for i in range(8):
        nest = "main" if i % 2 else "ABCDE"
        history.record_play(r, nest, _song(f"local:track:{i}"), NOW + timedelta(minutes=i))
    assert _uris(r, keys.GLOBAL_PLAY_HISTORY) == [f"local:track:{i}" for i in range(3, 8)]
    assert _uris(r, "NEST:main|MISC|play-history") == [f"local:track:{i}" for i in (1, 3, 5, 7)]
    for i in range(8, 12):
        history.record_play(r, "main", _song(f"local:track:{i}"), NOW + timedelta(minutes=i))
    assert len(_uris(r, "NEST:main|MISC|play-history")) == 5
    assert _uris(r, "NEST:main|MISC|play-history")[-1] == "local:track:11"


def test_play_in_a_deleted_nest_counts_globally_and_recreates_nothing(r):
    history.record_play(r, "GONE9", _song("local:track:a"), NOW)
    assert r.keys("NEST:*") == []
    assert _uris(r, keys.GLOBAL_PLAY_HISTORY) == ["local:track:a"]


def test_throwback_is_same_weekday_in_past_weeks_nest_first_then_global(r):
    _register(r, "ABCDE")
    week = timedelta(weeks=1)
    history.record_play(r, "main", _song("local:track:wed-1w"), NOW - week - timedelta(hours=3))
    history.record_play(r, "main", _song("local:track:tue-1w"), NOW - week - timedelta(days=1))
    history.record_play(r, "main", _song("local:track:thu-1w"), NOW - week + timedelta(days=1))
    history.record_play(r, "main", _song("local:track:wed-3w"), NOW - 3 * week)
    history.record_play(r, "main", _song("local:track:today"), NOW - timedelta(hours=1))
    history.record_play(r, "ABCDE", _song("local:track:other-wed-2w"), NOW - 2 * week)
    assert history.throwback_candidates(r, "main", NOW, 10) == [
        "local:track:wed-1w", "local:track:wed-3w", "local:track:other-wed-2w"]
    assert history.throwback_candidates(r, "main", NOW, 1) == ["local:track:wed-1w"]
    # On Thursday, Thursday's songs come back instead.
    assert history.throwback_candidates(r, "main", NOW + timedelta(days=1), 10) == [
        "local:track:thu-1w"]


def test_throwback_prefers_songs_people_picked(r):
    week = timedelta(weeks=1)
    history.record_play(r, "main", _song("local:track:bender", "bender", True), NOW - week)
    history.record_play(r, "main", _song("local:track:human"), NOW - 2 * week)
    assert history.throwback_candidates(r, "main", NOW, 10) == [
        "local:track:human", "local:track:bender"]


def test_last_human_and_bender_picks(r):
    assert history.last_human_pick(r, "main") is None
    history.record_play(r, "main", _song("local:track:h1"), NOW)
    history.record_play(r, "main", _song("local:track:b1", "bender", True), NOW + timedelta(1))
    history.record_play(r, "main", _song("local:track:b2", "bender", True), NOW + timedelta(2))
    assert history.last_human_pick(r, "main")["uri"] == "local:track:h1"
    assert history.last_bender_pick(r, "main")["uri"] == "local:track:b2"
    assert history.last_human_pick(r, "OTHER") is None


def test_persisted_history_reloads_into_redis(r, tmp_path):
    path = tmp_path / "history.jsonl"
    _register(r, "ABCDE")
    history.record_play(r, "main", _song("local:track:a"), NOW, path=path)
    history.record_play(r, "ABCDE", _song("local:track:b"), NOW + timedelta(1), path=path)
    history.record_play(r, "main", _song("local:track:c", "bender", True), NOW + timedelta(2),
                        path=path)
    assert len(path.read_text().splitlines()) == 3
    with path.open("a") as fh:
        fh.write("not json\n" + json.dumps({"uri": "local:track:x"}) + "\n"
                 + json.dumps({"nest": "main", "uri": 5, "played_at": NOW.isoformat()}) + "\n")
    before = {k: r.zrange(k, 0, -1) for k in r.keys("*play-history")}
    r.flushdb()
    _register(r, "ABCDE")
    assert history.load_history(r, path) == 3
    assert history.load_history(r, path) == 3  # idempotent: nothing doubles
    assert {k: r.zrange(k, 0, -1) for k in r.keys("*play-history")} == before
    assert history.last_bender_pick(r, "main")["uri"] == "local:track:c"


def test_reload_skips_nests_that_no_longer_exist(r, tmp_path):
    path = tmp_path / "history.jsonl"
    _register(r, "ABCDE")
    history.record_play(r, "ABCDE", _song("local:track:b"), NOW, path=path)
    r.flushdb()
    assert history.load_history(r, path) == 1
    assert r.keys("NEST:*") == []
    assert _uris(r, keys.GLOBAL_PLAY_HISTORY) == ["local:track:b"]


def test_persistence_follows_config(r, tmp_path, monkeypatch):
    monkeypatch.setitem(CONF._values, "DATA_DIR", str(tmp_path))
    monkeypatch.setitem(CONF._values, "PLAY_HISTORY_PERSIST", False)
    history.record_play(r, "main", _song("local:track:a"), NOW)
    assert history.history_path() is None and not (tmp_path / "history.jsonl").exists()
    assert history.load_history(r) == 0
    monkeypatch.setitem(CONF._values, "PLAY_HISTORY_PERSIST", True)
    history.record_play(r, "main", _song("local:track:b"), NOW)
    assert history.history_path() == tmp_path / "history.jsonl"
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["uri"] for line in lines] == ["local:track:b"]


def test_reload_keeps_a_quiet_nests_plays_and_respects_the_bound(r, tmp_path, monkeypatch):
    monkeypatch.setitem(CONF._values, "PLAY_HISTORY_MAX", 2)
    path = tmp_path / "history.jsonl"
    _register(r, "ABCDE")
    history.record_play(r, "main", _song("local:track:quiet"), NOW, path=path)
    for i in range(5):
        history.record_play(r, "ABCDE", _song(f"local:track:{i}"), NOW + timedelta(minutes=i),
                            path=path)
    r.flushdb()
    _register(r, "ABCDE")
    history.load_history(r, path)
    assert _uris(r, "NEST:main|MISC|play-history") == ["local:track:quiet"]
    assert _uris(r, "NEST:ABCDE|MISC|play-history") == ["local:track:3", "local:track:4"]
    assert _uris(r, keys.GLOBAL_PLAY_HISTORY) == ["local:track:3", "local:track:4"]
