import pytest

from todo.cli import run
from todo.store import TodoList


def make_list():
    todo_list = TodoList()
    run(["add", "water plants", "--priority", "3"], todo_list)
    run(["add", "Buy milk", "--priority", "1"], todo_list)
    run(["add", "call bank"], todo_list)
    run(["add", "answer email", "--priority", "1"], todo_list)
    run(["done", "call bank"], todo_list)
    return todo_list


def test_list_default_order():
    assert run(["list"], make_list()) == (
        "[ ] P3 water plants\n"
        "[ ] P1 Buy milk\n"
        "[x] P2 call bank\n"
        "[ ] P1 answer email\n"
    )


def test_list_sort_by_priority_is_stable():
    assert run(["list", "--sort", "priority"], make_list()) == (
        "[ ] P1 Buy milk\n"
        "[ ] P1 answer email\n"
        "[x] P2 call bank\n"
        "[ ] P3 water plants\n"
    )


def test_list_sort_by_title_ignores_case():
    assert run(["list", "--sort", "title"], make_list()) == (
        "[ ] P1 answer email\n"
        "[ ] P1 Buy milk\n"
        "[x] P2 call bank\n"
        "[ ] P3 water plants\n"
    )


def test_list_pending_with_sort():
    assert run(["list", "--pending", "--sort", "priority"], make_list()) == (
        "[ ] P1 Buy milk\n"
        "[ ] P1 answer email\n"
        "[ ] P3 water plants\n"
    )
    assert run(["list"], TodoList()) == ""


def test_store_rejects_bad_priority():
    todo_list = TodoList()
    with pytest.raises(ValueError):
        todo_list.add("x", 0)
    with pytest.raises(ValueError):
        todo_list.add("x", 4)
    assert todo_list.items() == []


def test_cli_rejects_bad_priority(capsys):
    todo_list = TodoList()
    with pytest.raises(SystemExit) as excinfo:
        run(["add", "x", "--priority", "7"], todo_list)
    assert excinfo.value.code != 0
    assert todo_list.items() == []


def test_complete_unknown_title():
    with pytest.raises(KeyError):
        make_list().complete("nothing")
