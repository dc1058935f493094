from slug import slugify
from urls import article_path


def test_slugify_simple_title():
    assert slugify("Top 10 Tips") == "top-10-tips"


def test_slugify_punctuation_and_spaces():
    assert slugify("  Hello,   World!  ") == "hello-world"


def test_slugify_collapses_separators():
    assert slugify("a--b__c") == "a-b-c"
    assert slugify("C++ & Rust: a guide") == "c-rust-a-guide"


def test_slugify_removes_accents():
    assert slugify("Crème Brûlée") == "creme-brulee"
    assert slugify("Ångström über") == "angstrom-uber"


def test_slugify_no_letters_or_digits():
    assert slugify("!!! ???") == ""
    assert slugify("") == ""


def test_article_path_with_slug():
    assert article_path(7, "Top 10 Tips!") == "/articles/7-top-10-tips"


def test_article_path_without_slug():
    assert article_path(7, "???") == "/articles/7"
