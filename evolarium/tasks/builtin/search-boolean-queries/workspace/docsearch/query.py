"""Search queries. Today a query is a list of words, and a document must contain them all."""

from docsearch.index import Index
from docsearch.tokens import words


def search(index: Index, query: str) -> list[str]:
    """Return the ids of the documents that match ``query``, in sorted order."""
    terms = words(query)
    if not terms:
        return []
    result = index.docs_with(terms[0])
    for term in terms[1:]:
        result &= index.docs_with(term)
    return sorted(result)
