from pathlib import Path

from config import ENV_OVERRIDES, load_config


def test_known_keys_have_defaults_unknown_read_none(tmp_path):
    conf = load_config(local_path=tmp_path / "none.yaml", environ={})
    assert conf.HOSTNAME == "localhost:5000"
    assert conf.NESTS_ENABLED is True
    assert conf.NEST_MAX_INACTIVE_MINUTES == 120
    assert conf.NEST_MAX_ACTIVE == 20
    assert conf.NEST_CODE_LENGTH == 5
    assert conf.NEST_BENDER_DEFAULT is True
    assert conf.ECHONEST_DOMAIN == "echone.st"
    assert conf.NEST_MAX_QUEUE_DEPTH == 25
    assert conf.MIN_QUEUE_DEPTH == 3
    assert conf.BENDER_STRATEGY_WEIGHTS == {
        "genre": 35, "throwback": 30, "artist_search": 25, "artist_albums": 5, "album": 5}
    assert conf.THIS_KEY_DOES_NOT_EXIST is None
    for key, value in conf.as_dict().items():
        assert value is not None, key


def test_local_config_then_environment_override(tmp_path: Path):
    local = tmp_path / "local.yaml"
    local.write_text("NEST_MAX_ACTIVE: 5\nECHONEST_DOMAIN: party.example\n")
    conf = load_config(local_path=local, environ={"NESTS_ENABLED": "false", "NEST_MAX_ACTIVE": "7"})
    assert conf.NEST_MAX_ACTIVE == 7
    assert conf.ECHONEST_DOMAIN == "party.example"
    assert conf.NESTS_ENABLED is False


def test_env_overrides_cover_deploy_keys():
    for key in ("NESTS_ENABLED", "REDIS_URL", "SECRET_KEY", "ECHONEST_API_TOKEN", "DEV_AUTH_EMAIL",
                "SPOTIFY_CLIENT_ID", "GOOGLE_CLIENT_ID"):
        assert key in ENV_OVERRIDES
