"""Checks that a settings layer only names known settings, with values of the right type."""

TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}


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


def parse_text(name: str, text: str, default: object) -> object:
    """Convert the text ``text`` to the type of ``default``; raise ConfigError when it cannot.

    ``name`` is used in messages. Booleans accept true/false, yes/no, on/off and 1/0 in any
    case. Strings are returned unchanged.
    """
    expected = type(default)
    if expected is str:
        return text
    if expected is bool:
        word = text.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ConfigError(f"{name}: expected a boolean such as true or false, got {text!r}")
    try:
        return expected(text.strip())
    except ValueError as error:
        raise ConfigError(f"{name}: expected {expected.__name__}, got {text!r}") from error


def lookup_default(defaults: dict, keys: list[str]) -> object:
    """Return the default at ``keys``; raise ConfigError when no such setting exists."""
    node: object = defaults
    for index, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"unknown setting {'.'.join(keys[: index + 1])}")
        node = node[key]
    return node
