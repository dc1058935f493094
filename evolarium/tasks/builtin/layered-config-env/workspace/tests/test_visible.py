from appconfig.loader import load_config


def test_defaults_without_overrides():
    config = load_config(environ={})
    assert config["server"]["port"] == 8080


def test_environment_sets_nested_int():
    config = load_config(environ={"APP_SERVER__PORT": "9000"})
    assert config["server"]["port"] == 9000


def test_environment_wins_over_file():
    config = load_config('{"server": {"host": "0.0.0.0"}}', environ={"APP_SERVER__HOST": "::1"})
    assert config["server"]["host"] == "::1"
