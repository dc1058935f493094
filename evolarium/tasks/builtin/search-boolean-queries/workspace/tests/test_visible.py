from docsearch.index import Index
from docsearch.query import search


def make_index():
    index = Index()
    index.add("d1", "The quick brown fox jumps over the lazy dog")
    index.add("d2", "A quick brown dog outpaces a lazy fox")
    index.add("d3", "Brown bread and butter")
    return index


def test_words_are_anded():
    assert search(make_index(), "quick fox") == ["d1", "d2"]


def test_explicit_and():
    assert search(make_index(), "quick AND fox") == ["d1", "d2"]


def test_or():
    assert search(make_index(), "fox OR bread") == ["d1", "d2", "d3"]
