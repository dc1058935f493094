from events import EventBus


def test_publish_calls_handlers_in_order():
    bus = EventBus()
    calls = []
    bus.subscribe("saved", lambda p: calls.append(("first", p)))
    bus.subscribe("saved", lambda p: calls.append(("second", p)))
    assert bus.publish("saved", 1) == 2
    assert calls == [("first", 1), ("second", 1)]
    assert bus.publish("deleted", 1) == 0


def test_subscribe_returns_remover():
    bus = EventBus()
    calls = []
    remove = bus.subscribe("saved", calls.append)
    bus.publish("saved", "a")
    remove()
    remove()
    assert bus.publish("saved", "b") == 0
    assert calls == ["a"]


def test_same_handler_subscribed_twice():
    bus = EventBus()
    calls = []
    remove_first = bus.subscribe("tick", calls.append)
    bus.subscribe("tick", calls.append)
    remove_first()
    assert bus.publish("tick", 1) == 1
    assert calls == [1]


def test_once_runs_a_single_time():
    bus = EventBus()
    calls = []
    bus.once("ready", calls.append)
    assert bus.publish("ready", "x") == 1
    assert bus.publish("ready", "y") == 0
    assert calls == ["x"]


def test_once_can_be_removed_before_publish():
    bus = EventBus()
    calls = []
    remove = bus.once("ready", calls.append)
    remove()
    assert bus.publish("ready", "x") == 0
    assert calls == []


def test_self_unsubscribe_does_not_skip_next():
    bus = EventBus()
    calls = []
    removers = {}

    def first(payload):
        calls.append("first")
        removers["first"]()

    removers["first"] = bus.subscribe("go", first)
    bus.subscribe("go", lambda p: calls.append("second"))
    assert bus.publish("go") == 2
    assert calls == ["first", "second"]
    assert bus.publish("go") == 1
    assert calls == ["first", "second", "second"]


def test_subscribe_during_publish_waits_for_next():
    bus = EventBus()
    calls = []

    def add_late(payload):
        calls.append("early")
        bus.subscribe("go", lambda p: calls.append("late"))

    bus.once("go", add_late)
    assert bus.publish("go") == 1
    assert calls == ["early"]
    assert bus.publish("go") == 1
    assert calls == ["early", "late"]
