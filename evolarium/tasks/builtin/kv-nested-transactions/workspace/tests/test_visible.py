from kvstore.commands import run_script
from kvstore.store import Store


def test_rollback_restores_value():
    store = Store()
    store.set("a", 1)
    store.begin()
    store.set("a", 2)
    store.rollback()
    assert store.get("a") == 1


def test_commit_keeps_value():
    store = Store()
    store.begin()
    store.set("a", 2)
    store.commit()
    assert store.get("a") == 2


def test_script_with_transaction():
    outputs = run_script(Store(), "SET a 10\nBEGIN\nSET a 20\nGET a\nROLLBACK\nGET a\n")
    assert outputs == ["20", "10"]
