import pytest

import kvstore.store
from kvstore.commands import run_script
from kvstore.store import Store


def transaction_error():
    return kvstore.store.TransactionError


def test_nested_rollback_undoes_innermost_only():
    store = Store()
    store.set("a", 1)
    store.begin()
    store.set("a", 2)
    store.set("b", 1)
    store.begin()
    store.set("a", 3)
    store.set("c", 9)
    store.rollback()
    assert (store.get("a"), store.get("b"), store.get("c")) == (2, 1, None)
    assert store.depth == 1
    store.rollback()
    assert (store.get("a"), store.get("b")) == (1, None)
    assert store.depth == 0


def test_inner_commit_undone_by_outer_rollback():
    store = Store()
    store.set("a", 1)
    store.begin()
    store.begin()
    store.set("a", 5)
    store.commit()
    assert store.get("a") == 5
    assert store.depth == 1
    store.rollback()
    assert store.get("a") == 1
    assert store.count(5) == 0


def test_deletes_restored_by_rollback():
    store = Store()
    store.set("a", "x")
    store.begin()
    store.delete("a")
    store.set("b", "y")
    store.delete("b")
    assert store.keys() == []
    store.rollback()
    assert store.keys() == ["a"]
    assert store.get("a") == "x"
    assert store.count("y") == 0


def test_counts_follow_transactions():
    store = Store()
    store.set("a", 10)
    store.set("b", 10)
    store.begin()
    store.set("a", 20)
    store.set("a", 30)
    store.set("c", 10)
    assert (store.count(10), store.count(20), store.count(30)) == (2, 0, 1)
    store.rollback()
    assert (store.count(10), store.count(20), store.count(30)) == (2, 0, 0)


def test_commit_and_rollback_need_open_transaction():
    store = Store()
    with pytest.raises(transaction_error()):
        store.rollback()
    with pytest.raises(transaction_error()):
        store.commit()
    store.begin()
    store.set("a", 1)
    store.commit()
    assert store.depth == 0
    with pytest.raises(transaction_error()):
        store.rollback()
    assert store.get("a") == 1


def test_transaction_error_is_runtime_error():
    assert issubclass(transaction_error(), RuntimeError)


def test_context_manager_commits():
    store = Store()
    with store.transaction():
        store.set("a", 1)
        assert store.depth == 1
    assert store.depth == 0
    assert store.get("a") == 1


def test_context_manager_rolls_back_own_level_on_error():
    store = Store()
    store.begin()
    store.set("a", 1)
    with pytest.raises(ZeroDivisionError):
        with store.transaction():
            store.set("a", 2)
            store.set("b", 2)
            raise ZeroDivisionError
    assert store.depth == 1
    assert (store.get("a"), store.get("b")) == (1, None)


def test_script_transactions():
    script = """
    SET a 10
    BEGIN
    SET a 20
    BEGIN
    DELETE a
    GET a
    COUNT 20
    ROLLBACK
    GET a
    COMMIT
    GET a
    ROLLBACK
    COMMIT
    """
    assert run_script(Store(), script) == [
        "NULL",
        "0",
        "20",
        "20",
        "NO TRANSACTION",
        "NO TRANSACTION",
    ]


def test_script_transaction_commands_take_no_arguments():
    outputs = run_script(Store(), "BEGIN now\nrollback\n")
    assert outputs == ["ERROR usage: BEGIN", "NO TRANSACTION"]
