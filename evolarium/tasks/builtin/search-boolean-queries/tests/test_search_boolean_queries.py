import pytest

import docsearch.query
from docsearch.index import Index
from docsearch.query import search

DOCUMENTS = {
    "d1": "The quick brown fox jumps over the lazy dog",
    "d2": "A quick brown dog outpaces a lazy fox",
    "d3": "Brown bread and butter",
    "d4": "Fox news: the brown-fox hour",
    "d5": "Lazy Sunday, no dogs allowed",
    "d6": "not and or are just words here",
}


@pytest.fixture
def index():
    index = Index()
    for doc_id, text in DOCUMENTS.items():
        index.add(doc_id, text)
    return index


def test_and_binds_tighter_than_or(index):
    assert search(index, "bread OR quick dog") == ["d1", "d2", "d3"]
    assert search(index, "bread OR quick AND dog") == ["d1", "d2", "d3"]
    assert search(index, "(bread OR quick) dog") == ["d1", "d2"]


def test_not_binds_tightest(index):
    assert search(index, "NOT fox") == ["d3", "d5", "d6"]
    assert search(index, "lazy NOT fox") == ["d5"]
    assert search(index, "NOT fox OR bread") == ["d3", "d5", "d6"]
    assert search(index, "NOT (fox OR bread)") == ["d5", "d6"]
    assert search(index, "NOT NOT fox") == ["d1", "d2", "d4"]


def test_nested_parentheses(index):
    assert search(index, "((quick OR bread) AND (butter OR dog))") == ["d1", "d2", "d3"]


def test_phrase_needs_adjacent_words(index):
    assert search(index, '"brown fox"') == ["d1", "d4"]
    assert search(index, '"lazy dog"') == ["d1"]
    assert search(index, '"fox brown"') == []


def test_phrase_combined_with_operators(index):
    assert search(index, '"brown fox" OR "brown bread"') == ["d1", "d3", "d4"]
    assert search(index, 'lazy NOT "lazy dog"') == ["d2", "d5"]


def test_term_with_punctuation_is_phrase(index):
    assert search(index, "brown-fox") == ["d1", "d4"]
    assert search(index, "Sunday,") == ["d5"]


def test_lowercase_operators_are_words(index):
    assert search(index, "not and") == ["d6"]
    assert search(index, '"AND or"') == ["d6"]


def test_empty_query_matches_nothing(index):
    assert search(index, "") == []
    assert search(index, "   ") == []


def test_invalid_queries_raise(index):
    invalid = ["(fox", "fox)", "fox OR", "AND fox", "NOT", "()", '"open phrase', "fox OR OR bread"]
    for query in invalid:
        with pytest.raises(docsearch.query.QueryError):
            search(index, query)


def test_query_error_is_value_error():
    assert issubclass(docsearch.query.QueryError, ValueError)
