"""An inverted index: for each word, the documents that contain it."""

from collections import defaultdict

from docsearch.tokens import words


class Index:
    """Documents by id, indexed by word."""

    def __init__(self) -> None:
        self._postings: dict[str, set[str]] = defaultdict(set)
        self._docs: set[str] = set()

    def add(self, doc_id: str, text: str) -> None:
        """Index ``text`` under ``doc_id``; raise ValueError when the id is taken."""
        if doc_id in self._docs:
            raise ValueError(f"document {doc_id!r} is already indexed")
        self._docs.add(doc_id)
        for word in words(text):
            self._postings[word].add(doc_id)

    def docs_with(self, word: str) -> set[str]:
        """Return the ids of the documents that contain ``word``."""
        return set(self._postings.get(word, ()))

    def all_docs(self) -> set[str]:
        return set(self._docs)
