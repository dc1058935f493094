import pytest

from deps.graph import Graph
from deps.order import CycleError, build_order, order_for


def assert_valid_cycle(graph, cycle):
    assert len(cycle) >= 2
    assert cycle[0] == cycle[-1]
    for target, dependency in zip(cycle, cycle[1:]):
        assert dependency in graph.dependencies(target)


def test_alphabetical_tie_break():
    graph = Graph()
    graph.add("app", ["lib", "cli"])
    graph.add("lib", ["core"])
    assert build_order(graph) == ["cli", "core", "lib", "app"]


def test_order_independent_of_insertion():
    first = Graph()
    first.add("z", ["m"])
    first.add("a")
    first.add("m", ["b"])
    second = Graph()
    second.add("m", ["b"])
    second.add("a")
    second.add("z", ["m"])
    assert build_order(first) == ["a", "b", "m", "z"]
    assert build_order(second) == ["a", "b", "m", "z"]


def test_order_for_subset():
    graph = Graph()
    graph.add("app", ["lib", "cli"])
    graph.add("lib", ["core"])
    graph.add("docs", ["core"])
    graph.add("lib", ["util"])
    assert order_for(graph, "lib") == ["core", "util", "lib"]
    assert order_for(graph, "core") == ["core"]


def test_cycle_raises_cycle_error():
    graph = Graph()
    graph.add("a", ["b"])
    graph.add("b", ["c"])
    graph.add("c", ["a"])
    graph.add("d", ["a"])
    with pytest.raises(CycleError) as excinfo:
        build_order(graph)
    assert isinstance(excinfo.value, ValueError)
    assert_valid_cycle(graph, excinfo.value.cycle)
    assert set(excinfo.value.cycle) == {"a", "b", "c"}


def test_self_dependency():
    graph = Graph()
    graph.add("x", ["x"])
    with pytest.raises(CycleError) as excinfo:
        build_order(graph)
    assert excinfo.value.cycle == ["x", "x"]


def test_order_for_with_cycle_elsewhere():
    graph = Graph()
    graph.add("p", ["q"])
    graph.add("q", ["p"])
    graph.add("app", ["lib"])
    assert order_for(graph, "app") == ["lib", "app"]
    with pytest.raises(CycleError) as excinfo:
        order_for(graph, "p")
    assert_valid_cycle(graph, excinfo.value.cycle)


def test_order_for_unknown_target():
    graph = Graph()
    graph.add("app", ["lib"])
    with pytest.raises(KeyError):
        order_for(graph, "nothing")
