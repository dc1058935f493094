import pytest

from tmpl import render


def test_plain_placeholders():
    assert render("Hi {{name}}, you are {{ age }}.", {"name": "Ada", "age": 36}) == (
        "Hi Ada, you are 36."
    )


def test_single_filter():
    assert render("{{ name | upper }}!", {"name": "ada"}) == "ADA!"
    assert render("{{name|lower}}", {"name": "ADA"}) == "ada"


def test_chained_filters():
    assert render("[{{ name | strip | title }}]", {"name": "  ada lovelace "}) == (
        "[Ada Lovelace]"
    )


def test_unknown_filter_raises():
    with pytest.raises(ValueError, match="shout"):
        render("{{ name | shout }}", {"name": "ada"})


def test_dotted_names():
    context = {"user": {"name": "Ada", "address": {"city": "London"}}}
    assert render("{{ user.name }} lives in {{ user.address.city | upper }}", context) == (
        "Ada lives in LONDON"
    )


def test_missing_name_raises_with_full_name():
    with pytest.raises(KeyError, match="user.email"):
        render("{{ user.email }}", {"user": {"name": "Ada"}})
    with pytest.raises(KeyError, match="nobody"):
        render("{{ nobody }}", {})


def test_values_are_not_expanded_again():
    context = {"a": "{{ b }}", "b": "x"}
    assert render("{{ a }} {{ b }}", context) == "{{ b }} x"
