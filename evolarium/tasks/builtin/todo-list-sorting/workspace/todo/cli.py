"""Command-line interface: `add TITLE [--priority N]`, `done TITLE`, `list`."""

import argparse

from todo.store import Item, TodoList


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="todo")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add")
    add.add_argument("title")
    add.add_argument("--priority", type=int, default=2)
    done = commands.add_parser("done")
    done.add_argument("title")
    commands.add_parser("list")
    return parser


def _format(item: Item) -> str:
    mark = "x" if item.done else " "
    return f"[{mark}] P{item.priority} {item.title}\n"


def run(argv: list[str], todo_list: TodoList) -> str:
    """Apply the command in argv to todo_list and return the output text."""
    args = _parser().parse_args(argv)
    if args.command == "add":
        todo_list.add(args.title, args.priority)
        return ""
    if args.command == "done":
        todo_list.complete(args.title)
        return ""
    return "".join(_format(item) for item in todo_list.items())
