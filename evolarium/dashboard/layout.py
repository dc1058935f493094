"""A table that stays readable on narrow terminals."""

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

NARROW_WIDTH = 80
"""Below this many columns, each row is printed as a block of "header: value" lines."""

Cell = str | Text


class Records:
    """Rows with named columns: a rich Table when the console is wide enough, and one
    block of "header  value" lines per row when it is narrower than NARROW_WIDTH."""

    def __init__(self, *headers: str, title: str | None = None) -> None:
        self.headers = headers
        self.title = title
        self.caption: str | None = None
        self.rows: list[tuple[Cell, ...]] = []

    def add_row(self, *cells: Cell) -> None:
        padding = ("",) * (len(self.headers) - len(cells))
        self.rows.append((*cells, *padding))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if options.max_width >= NARROW_WIDTH:
            yield self.table()
            return
        if self.title:
            yield Text(self.title, style="italic")
        for index, row in enumerate(self.rows):
            if index:
                yield Text("")
            yield self._block(row)
        if self.caption:
            yield Text(self.caption, style="dim")

    def table(self) -> Table:
        table = Table(*self.headers, title=self.title, caption=self.caption)
        for row in self.rows:
            table.add_row(*row)
        return table

    def _block(self, row: tuple[Cell, ...]) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(overflow="fold")
        for header, cell in zip(self.headers, row, strict=True):
            if cell != "":
                grid.add_row(header, cell)
        return grid
