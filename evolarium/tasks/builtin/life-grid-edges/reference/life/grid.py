"""A rectangular grid of live and dead cells."""

from __future__ import annotations


class Grid:
    """Cells by row and column, where True means alive. Cells outside the grid are dead."""

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
        # Bounds are checked explicitly because a negative index would wrap around.
        count = 0
        for r in range(max(row - 1, 0), min(row + 2, self.rows)):
            for c in range(max(col - 1, 0), min(col + 2, self.cols)):
                if (r, c) != (row, col) and self.cells[r][c]:
                    count += 1
        return count
