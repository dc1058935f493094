from life.grid import Grid
from life.rules import step


def test_round_trip_strings():
    rows = ["#..", ".#.", "..#"]
    assert Grid.from_strings(rows).to_strings() == rows


def test_neighbours_in_middle():
    grid = Grid.from_strings(["###", "#.#", "###"])
    assert grid.live_neighbours(1, 1) == 8
    assert grid.live_neighbours(0, 0) == 2


def test_corner_does_not_wrap():
    grid = Grid.from_strings(["....", "....", "...#"])
    assert grid.live_neighbours(0, 0) == 0
    assert grid.live_neighbours(0, 3) == 0
    assert grid.live_neighbours(2, 0) == 0


def test_blinker_oscillates():
    vertical = [".....", "..#..", "..#..", "..#..", "....."]
    horizontal = [".....", ".....", ".###.", ".....", "....."]
    assert step(Grid.from_strings(vertical)).to_strings() == horizontal
    assert step(Grid.from_strings(horizontal)).to_strings() == vertical


def test_block_in_corner_is_stable():
    rows = ["##..", "##..", "....", "...."]
    assert step(Grid.from_strings(rows)).to_strings() == rows


def test_step_leaves_input_unchanged():
    rows = [".#.", ".#.", ".#."]
    grid = Grid.from_strings(rows)
    step(grid)
    assert grid.to_strings() == rows
