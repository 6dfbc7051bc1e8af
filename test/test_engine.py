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
