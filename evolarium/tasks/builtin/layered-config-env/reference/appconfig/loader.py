"""Load the settings: defaults first, then the settings file, then environment variables."""

import copy
import json
import os
from collections.abc import Mapping

from appconfig.defaults import DEFAULTS
from appconfig.schema import ConfigError, check_value, lookup_default, parse_text

ENV_PREFIX = "APP_"
ENV_SEPARATOR = "__"


def load_config(file_text: str | None = None, environ: Mapping[str, str] | None = None) -> dict:
    """Return the merged settings as a new nested dict.

    ``file_text`` is the JSON text of the settings file, or None when there is none.
    ``environ`` maps variable names to values and defaults to ``os.environ``. A variable
    such as APP_SERVER__PORT sets server.port.
    """
    config = copy.deepcopy(DEFAULTS)
    if file_text is not None:
        _apply_file(config, file_text)
    _apply_environ(config, os.environ if environ is None else environ)
    return config


def _apply_file(config: dict, file_text: str) -> None:
    try:
        data = json.loads(file_text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"settings file: invalid JSON: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError("settings file: expected a JSON object at the top level")
    _apply_tree(config, data, [])


def _apply_tree(config: dict, data: dict, prefix: list[str]) -> None:
    for key, value in data.items():
        keys = prefix + [key]
        default = lookup_default(DEFAULTS, keys)
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{'.'.join(keys)}: expected an object of settings")
            _apply_tree(config, value, keys)
        else:
            _set(config, keys, check_value(".".join(keys), value, default))


def _apply_environ(config: dict, environ: Mapping[str, str]) -> None:
    # Sorted, so that the first error reported does not depend on the mapping's order.
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        keys = name[len(ENV_PREFIX) :].lower().split(ENV_SEPARATOR)
        try:
            default = lookup_default(DEFAULTS, keys)
        except ConfigError as error:
            raise ConfigError(f"{name}: {error}") from error
        if isinstance(default, dict):
            raise ConfigError(f"{name}: {'.'.join(keys)} is a section; set one of its keys")
        _set(config, keys, parse_text(name, environ[name], default))


def _set(config: dict, keys: list[str], value: object) -> None:
    node = config
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
