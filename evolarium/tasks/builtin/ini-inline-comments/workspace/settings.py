"""Typed access to parsed configuration values."""

from confparse import parse

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class Settings:
    """Configuration values with defaults for missing sections and keys."""

    def __init__(self, text: str) -> None:
        self._sections = parse(text)

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        return self._sections.get(section, {}).get(key, default)

    def get_int(self, section: str, key: str, default: int = 0) -> int:
        value = self.get(section, key)
        return default if value is None else int(value)

    def get_bool(self, section: str, key: str, default: bool = False) -> bool:
        value = self.get(section, key)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ValueError(f"[{section}] {key}: expected a boolean, got {value!r}")
