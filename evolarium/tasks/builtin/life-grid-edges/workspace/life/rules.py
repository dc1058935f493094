"""Conway's rules: survival with 2 or 3 neighbours, birth with exactly 3."""

from life.grid import Grid


def step(grid: Grid) -> Grid:
    """Return the next generation of grid."""
    for row in range(grid.rows):
        for col in range(grid.cols):
            neighbours = grid.live_neighbours(row, col)
            if grid.is_alive(row, col):
                grid.set(row, col, neighbours in (2, 3))
            else:
                grid.set(row, col, neighbours == 3)
    return grid
