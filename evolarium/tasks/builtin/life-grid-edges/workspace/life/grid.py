"""A rectangular grid of live and dead cells."""

from __future__ import annotations


class Grid:
    """Cells by row and column, where True means alive."""

    def __init__(self, cells: list[list[bool]]) -> None:
        self.cells = cells
        self.rows = len(cells)
        self.cols = len(cells[0]) if cells else 0

    @classmethod
    def from_strings(cls, rows: list[str]) -> Grid:
        return cls([[char == "#" for char in row] for row in rows])

    def to_strings(self) -> list[str]:
        return ["".join("#" if alive else "." for alive in row) for row in self.cells]

    def is_alive(self, row: int, col: int) -> bool:
        return self.cells[row][col]

    def set(self, row: int, col: int, alive: bool) -> None:
        self.cells[row][col] = alive

    def live_neighbours(self, row: int, col: int) -> int:
        count = 0
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if dr == 0 and dc == 0:
                    continue
                try:
                    count += self.is_alive(row + dr, col + dc)
                except IndexError:
                    pass
        return count
