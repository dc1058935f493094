"""Conway's rules: survival with 2 or 3 neighbours, birth with exactly 3."""

from life.grid import Grid


def step(grid: Grid) -> Grid:
    """Return the next generation of grid as a new Grid, leaving grid unchanged."""
    cells = []
    for row in range(grid.rows):
        next_row = []
        for col in range(grid.cols):
            neighbours = grid.live_neighbours(row, col)
            if grid.is_alive(row, col):
                next_row.append(neighbours in (2, 3))
            else:
                next_row.append(neighbours == 3)
        cells.append(next_row)
    return Grid(cells)
