"""An inverted index: for each word, the documents that contain it and where."""

from collections import defaultdict

from docsearch.tokens import words


class Index:
    """Documents by id, indexed by word, with the word positions in each document."""

    def __init__(self) -> None:
        self._positions: dict[str, dict[str, list[int]]] = defaultdict(dict)
        self._docs: set[str] = set()

    def add(self, doc_id: str, text: str) -> None:
        """Index ``text`` under ``doc_id``; raise ValueError when the id is taken."""
        if doc_id in self._docs:
            raise ValueError(f"document {doc_id!r} is already indexed")
        self._docs.add(doc_id)
        for position, word in enumerate(words(text)):
            self._positions[word].setdefault(doc_id, []).append(position)

    def docs_with(self, word: str) -> set[str]:
        """Return the ids of the documents that contain ``word``."""
        return set(self._positions.get(word, {}))

    def docs_with_phrase(self, phrase: list[str]) -> set[str]:
        """Return the ids of the documents that contain the words of ``phrase`` in a row."""
        if not phrase:
            return set()
        found = set()
        for doc_id in self.docs_with(phrase[0]):
            starts = self._positions[phrase[0]][doc_id]
            if any(self._continues(doc_id, start, phrase) for start in starts):
                found.add(doc_id)
        return found

    def all_docs(self) -> set[str]:
        return set(self._docs)

    def _continues(self, doc_id: str, start: int, phrase: list[str]) -> bool:
        for offset, word in enumerate(phrase[1:], start=1):
            if start + offset not in self._positions.get(word, {}).get(doc_id, ()):
                return False
        return True
