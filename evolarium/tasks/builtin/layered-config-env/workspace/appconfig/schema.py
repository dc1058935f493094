"""Checks that a settings layer only names known settings, with values of the right type."""


class ConfigError(ValueError):
    """Raised for an unknown setting or a value of the wrong type."""


def check_value(path: str, value: object, default: object) -> object:
    """Return ``value`` when it has the type of ``default``; raise ConfigError otherwise.

    ``path`` is the dotted name of the setting, used in messages. An int is accepted for a
    float setting and returned as a float.
    """
    expected = type(default)
    if expected is float and type(value) is int:
        return float(value)
    if type(value) is not expected:
        raise ConfigError(
            f"{path}: expected {expected.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def lookup_default(defaults: dict, keys: list[str]) -> object:
    """Return the default at ``keys``; raise ConfigError when no such setting exists."""
    node: object = defaults
    for index, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"unknown setting {'.'.join(keys[: index + 1])}")
        node = node[key]
    return node
