import pytest

from appconfig.defaults import DEFAULTS
from appconfig.loader import load_config
from appconfig.schema import ConfigError


def test_environment_overrides_file_and_defaults():
    file_text = '{"server": {"host": "0.0.0.0", "port": 8000}, "database": {"pool_size": 9}}'
    config = load_config(file_text, environ={"APP_SERVER__PORT": "9000"})
    assert config["server"] == {"host": "0.0.0.0", "port": 9000, "debug": False}
    assert config["database"]["pool_size"] == 9


def test_boolean_words():
    words = {"true": True, "YES": True, "on": True, "1": True, "False": False, "off": False}
    for text, value in words.items():
        config = load_config(environ={"APP_SERVER__DEBUG": text})
        assert config["server"]["debug"] is value, text


def test_float_and_string_values():
    environ = {"APP_DATABASE__TIMEOUT": "10", "APP_DATABASE__URL": "postgres://db/app?ssl=on"}
    config = load_config(environ=environ)
    assert config["database"]["timeout"] == 10.0
    assert type(config["database"]["timeout"]) is float
    assert config["database"]["url"] == "postgres://db/app?ssl=on"


def test_unrelated_variables_ignored():
    config = load_config(environ={"PATH": "/bin", "APPLE": "1", "HOME": "/root"})
    assert config == DEFAULTS


def test_unknown_setting_names_variable():
    with pytest.raises(ConfigError, match="APP_SERVER__PROT"):
        load_config(environ={"APP_SERVER__PROT": "1"})


@pytest.mark.parametrize(
    ("name", "text"),
    [("APP_SERVER__PORT", "http"), ("APP_SERVER__PORT", "80.5"), ("APP_SERVER__DEBUG", "maybe")],
)
def test_invalid_value_names_variable(name, text):
    with pytest.raises(ConfigError, match=name):
        load_config(environ={name: text})


def test_section_cannot_be_set_directly():
    with pytest.raises(ConfigError, match="APP_SERVER"):
        load_config(environ={"APP_SERVER": "localhost"})


def test_defaults_not_modified():
    load_config('{"features": {"signup": false}}', environ={"APP_SERVER__PORT": "1"})
    assert DEFAULTS["server"]["port"] == 8080
    assert DEFAULTS["features"]["signup"] is True


def test_process_environment_used_by_default(monkeypatch):
    monkeypatch.setenv("APP_FEATURES__BETA_BANNER", "yes")
    assert load_config()["features"]["beta_banner"] is True
