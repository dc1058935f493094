"""Command-line interface: `add TITLE [--priority N]`, `done TITLE`, `list [options]`."""

import argparse

from todo.store import PRIORITIES, Item, TodoList

_SORT_KEYS = {
    "priority": lambda item: item.priority,
    "title": lambda item: item.title.casefold(),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="todo")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add")
    add.add_argument("title")
    add.add_argument("--priority", type=int, default=2, choices=PRIORITIES)
    done = commands.add_parser("done")
    done.add_argument("title")
    listing = commands.add_parser("list")
    listing.add_argument("--sort", choices=["added", "priority", "title"], default="added")
    listing.add_argument("--pending", action="store_true", help="show only open items")
    return parser


def _format(item: Item) -> str:
    mark = "x" if item.done else " "
    return f"[{mark}] P{item.priority} {item.title}\n"


def _select(todo_list: TodoList, sort: str, pending: bool) -> list[Item]:
    items = [item for item in todo_list.items() if not (pending and item.done)]
    if sort in _SORT_KEYS:
        # sorted() is stable, so equal keys keep insertion order.
        items = sorted(items, key=_SORT_KEYS[sort])
    return items


def run(argv: list[str], todo_list: TodoList) -> str:
    """Apply the command in argv to todo_list and return the output text."""
    args = _parser().parse_args(argv)
    if args.command == "add":
        todo_list.add(args.title, args.priority)
        return ""
    if args.command == "done":
        todo_list.complete(args.title)
        return ""
    return "".join(_format(item) for item in _select(todo_list, args.sort, args.pending))
