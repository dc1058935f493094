import pytest

from confparse import parse
from settings import Settings


def test_sections_and_keys():
    text = "[a]\nx = 1\n\n[b]\ny=two words\n"
    assert parse(text) == {"a": {"x": "1"}, "b": {"y": "two words"}}


def test_value_may_contain_equals():
    text = "[web]\nurl = http://x/?a=1&b=2\n"
    assert parse(text)["web"]["url"] == "http://x/?a=1&b=2"


def test_inline_comments_removed():
    text = "[s]\nhost = example.org   # the host\nport = 80 ; web\ntag = a#b\n"
    section = parse(text)["s"]
    assert section["host"] == "example.org"
    assert section["port"] == "80"
    assert section["tag"] == "a#b"


def test_quoted_value_keeps_comment_chars():
    text = '[s]\nmotto = "we are # one ; two"  # note\n'
    assert parse(text)["s"]["motto"] == "we are # one ; two"


def test_semicolon_comment_lines_and_empty_value():
    text = "; top comment\n[s]\n  ; indented comment\nempty =\n"
    assert parse(text) == {"s": {"empty": ""}}


def test_key_outside_section_reports_line():
    with pytest.raises(ValueError, match="line 2"):
        parse("# header\nname = x\n[s]\n")


def test_malformed_line_reports_line():
    with pytest.raises(ValueError, match="line 3"):
        parse("[s]\na = 1\nnot a pair\n")


def test_settings_typed_values_with_comments():
    settings = Settings("[server]\nport = 8080  # default\ndebug = yes ; dev only\n")
    assert settings.get_int("server", "port") == 8080
    assert settings.get_bool("server", "debug") is True
    assert settings.get_int("server", "missing", 5) == 5
