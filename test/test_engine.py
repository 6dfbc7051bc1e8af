"""The embedded engine is a real Valkey server and persists across restarts when asked to."""

import redis

from echonest.engine import EmbeddedEngine


def test_embedded_engine_is_real_valkey(r):
    info = r.info("server")
    assert "valkey_version" in info or "redis_version" in info
    r.set("probe", "1")
    assert r.get("probe") == "1"


def test_persisting_engine_keeps_data_across_restart(tmp_path):
    engine = EmbeddedEngine(tmp_path, persist=True).start()
    client = redis.Redis.from_url(engine.url, decode_responses=True)
    client.set("NEST:main|MISC|volume", "42")
    client.close()
    engine.stop()

    engine = EmbeddedEngine(tmp_path, persist=True).start()
    try:
        client = redis.Redis.from_url(engine.url, decode_responses=True)
        assert client.get("NEST:main|MISC|volume") == "42"
        client.close()
    finally:
        engine.stop()


def test_engine_needs_its_generated_password_and_keeps_it_private(tmp_path):
    import stat

    import pytest

    engine = EmbeddedEngine(tmp_path, persist=True).start()
    try:
        password = (tmp_path / "engine_password").read_text().strip()
        assert len(password) >= 32 and f":{password}@" in engine.url
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host=engine.host, port=engine.port).set("k", "v")
        # Not on the command line either, where any local user's `ps` would show it.
        cmdline = open(f"/proc/{engine.process.pid}/cmdline", "rb").read()
        assert password.encode() not in cmdline
        client = redis.Redis.from_url(engine.url)
        client.set("k", "v")
        client.bgrewriteaof()
        client.close()
    finally:
        engine.stop()
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
    files = list(tmp_path.rglob("*"))
    assert any("appendonly" in p.name for p in files)
    assert [p.name for p in files if p.stat().st_mode & 0o077] == []
    # A restart reads the same password back.
    again = EmbeddedEngine(tmp_path, persist=True).start()
    try:
        assert again.password == password
        assert redis.Redis.from_url(again.url).get("k") == b"v"
    finally:
        again.stop()


def test_a_second_engine_refuses_a_data_directory_one_serves(tmp_path):
    import pytest

    from echonest.engine import EngineError

    first = EmbeddedEngine(tmp_path, persist=True).start()
    try:
        with pytest.raises(EngineError, match="already serves"):
            EmbeddedEngine(tmp_path, persist=True).start()
        assert redis.Redis.from_url(first.url).ping()
    finally:
        first.stop()
    EmbeddedEngine(tmp_path, persist=True).start().stop()  # free again once it stopped


def test_the_lock_lives_as_long_as_the_engine_even_if_its_starter_lets_go(tmp_path):
    # The engine process holds the lock too: an orphaned engine (its starter SIGKILLed, the
    # engine still saving) still keeps a second one off its files.
    import os

    import pytest

    from echonest.engine import EngineError

    first = EmbeddedEngine(tmp_path, persist=True).start()
    try:
        os.close(first._lock_fd)  # what the starter's death does to its copy
        first._lock_fd = None
        with pytest.raises(EngineError, match="already serves"):
            EmbeddedEngine(tmp_path, persist=True).start()
    finally:
        first.stop()
